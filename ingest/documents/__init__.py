"""Documents: loaders (txt, Markdown, HTML, PDF), chunking, and the step the ingest pipeline calls
(``handler.process_document``)."""
