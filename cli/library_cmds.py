"""Library verbs: ingest, status, remove, rebuild, tag, skipped."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from .common import JsonOption, LibraryOption, app, console, fail, open_library, out, print_json


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Folders or files to ingest.")],
    library: LibraryOption = None,
    json: JsonOption = False,
    include: Annotated[list[str] | None, typer.Option("--include", help="Glob a file must match (repeatable).")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Glob to skip (repeatable).")] = None,
    hidden: Annotated[bool, typer.Option("--hidden", help="Include hidden files and folders.")] = False,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1)] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=0, help="Decode threads.")] = None,
) -> None:
    """Add new and changed files, drop deleted ones. Re-running on an unchanged folder does no model work."""
    ingest_options = {"include": include, "exclude": exclude, "hidden": hidden or None}
    overrides = {"batch_size": batch_size, "workers": workers,
                 "ingest": {k: v for k, v in ingest_options.items() if v is not None}}
    lib = open_library(library, **{k: v for k, v in overrides.items() if v not in (None, {})})
    try:
        with _progress(disabled=json) as (progress, task):
            report = lib.ingest(
                paths, progress=lambda done, total, path: progress.update(task, completed=done, total=total)
            )
    except (Exception, KeyboardInterrupt) as exc:
        fail(exc)
        return
    if json:
        print_json(report.to_dict())
        return
    out.print(
        f"added {report.added}, updated {report.updated}, removed {report.removed}, unchanged {report.unchanged}, "
        f"skipped {len(report.skipped)}"
        + (f" (reused {report.reused} vectors)" if report.reused else "")
        + (f"; {report.documents} documents, {report.chunks} chunks" if report.documents else "")
        + f" in {report.seconds:.1f}s"
    )
    for path, reason in report.skipped[:50]:
        out.print(f"  [yellow]skipped[/] {path}: {reason}", highlight=False)
    if len(report.skipped) > 50:
        out.print(f"  … and {len(report.skipped) - 50} more (see `mmrag skipped`)")


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.1f} files/s" if task.speed else "")


class _progress:
    """A rich progress bar with rate and ETA on stderr (nothing when --json)."""

    def __init__(self, disabled: bool) -> None:
        self.bar = Progress(
            TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
            TimeRemainingColumn(), console=console, disable=disabled, transient=False,
        )

    def __enter__(self):  # type: ignore[no-untyped-def]
        self.bar.__enter__()
        return self.bar, self.bar.add_task("ingest", total=None)

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)


@app.command()
def status(library: LibraryOption = None, json: JsonOption = False) -> None:
    """Counts, index type, device, models and library size."""
    lib = open_library(library)
    try:
        info = lib.status()
    except Exception as exc:  # noqa: BLE001
        fail(exc)
        return
    if json:
        print_json(info)
        return
    table = Table(show_header=False, box=None)
    table.add_row("library", info["library"])
    table.add_row("database", info["database"])
    table.add_row("assets", ", ".join(f"{k}: {v}" for k, v in info["assets"].items()) or "none")
    table.add_row("skipped", str(info["skipped"]))
    table.add_row("chunks", str(info["chunks"]))
    for name, model in info["models"].items():
        table.add_row(f"{name} model", f"{model['library'] or '-'} (configured: {model['configured']})")
    for space, index in info["indexes"].items():
        table.add_row(f"{space} index", ", ".join(f"{k}={v}" for k, v in index.items()))
    table.add_row("device", info["device"])
    table.add_row("size", f"{info['size_bytes'] / 1e6:.1f} MB")
    out.print(table)


@app.command()
def remove(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to drop from the library.")],
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """Drop assets from the library (files on disk are not touched)."""
    lib = open_library(library)
    try:
        count = lib.remove(paths)
    except Exception as exc:  # noqa: BLE001
        fail(exc)
        return
    print_json({"removed": count}) if json else out.print(f"removed {count} assets")


@app.command()
def rebuild(
    library: LibraryOption = None,
    json: JsonOption = False,
    index_spec: Annotated[str | None, typer.Option("--index-spec", help="e.g. Flat, IVF1024,Flat, HNSW32.")] = None,
) -> None:
    """Rebuild the vector indexes from the stored vectors (no re-embedding)."""
    lib = open_library(library)
    try:
        info = lib.rebuild(index_spec)
    except Exception as exc:  # noqa: BLE001
        fail(exc)
        return
    print_json(info) if json else out.print("rebuilt: " + "; ".join(f"{s}: {i}" for s, i in info.items()))


@app.command()
def tag(
    ids: Annotated[list[int], typer.Argument(help="Library item ids.")],
    add: Annotated[list[str] | None, typer.Option("--add", "-a", help="Tag to add (repeatable).")] = None,
    remove_: Annotated[list[str] | None, typer.Option("--remove", "-r", help="Tag to remove (repeatable).")] = None,
    library: LibraryOption = None,
) -> None:
    """Add or remove tags (usable as search filters: --tag)."""
    lib = open_library(library)
    try:
        lib.tag(ids, add or [], remove_ or [])
    except Exception as exc:  # noqa: BLE001
        fail(exc)


@app.command()
def skipped(library: LibraryOption = None, json: JsonOption = False) -> None:
    """Files that could not be ingested, with the reason."""
    rows = open_library(library).skipped()
    if json:
        print_json([{"path": p, "reason": r} for p, r in rows])
        return
    for path, reason in rows:
        out.print(f"{path}: {reason}", highlight=False)
