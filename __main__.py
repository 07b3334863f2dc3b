"""`python -m mmrag ...` runs the CLI."""

from .cli import app

app()
