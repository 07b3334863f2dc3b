"""`python -m mmrag.cli ...` runs the CLI."""

from . import app

app()
