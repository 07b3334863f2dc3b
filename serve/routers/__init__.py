"""One FastAPI router per concern, all over the one ``ServeState``."""
