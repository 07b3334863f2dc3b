"""Start-up helpers that must not import typer or rich (cli/__init__.py uses them before importing either)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def few_collections() -> Iterator[None]:
    """Fewer, larger young-generation garbage collections while a one-shot command imports and opens a library:
    at the default threshold (700) a cold `mmrag search` runs ~250 collections, 2 of them full (0.32 s CPU of
    ~3 s), that free next to nothing. The threshold is restored after the block."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def freeze_at_exit() -> None:
    """Registered when the CLI is imported; runs at interpreter exit, before the final garbage collections. Every
    live object moves to the permanent generation, so those collections have nothing left to walk. After a cold
    `mmrag search` has printed its result they walked a whole process's worth of objects (SQLAlchemy, pydantic,
    typer, numpy): ~0.5 s CPU of ~3 s, for memory the OS takes back anyway. Objects are still freed by reference
    counting as modules are cleared; only cyclic garbage is left to the OS. Every command closes its library
    (catalog, indexes) before exit, so nothing waits on a finaliser."""
    gc.freeze()
