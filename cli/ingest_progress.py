"""The ingest progress bar: rich.progress is imported by `mmrag ingest` when it runs, never at CLI start."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.1f} files/s" if task.speed else "")


@contextmanager
def ingest_progress(console: Console, *, disabled: bool) -> Iterator[tuple[Progress, TaskID]]:
    """A rich progress bar with rate and ETA on ``console`` (nothing when ``disabled``, e.g. --json)."""
    bar = Progress(
        TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
        TimeRemainingColumn(), console=console, disable=disabled, transient=False,
    )
    with bar:
        yield bar, bar.add_task("ingest", total=None)
