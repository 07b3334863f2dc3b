"""Library verbs: ingest, status, remove, rebuild, tag, skipped."""

from pathlib import Path
from typing import Annotated

import typer

from . import remote
from .common import (
    ClipModelOption,
    ClipPretrainedOption,
    DeviceOption,
    JsonOption,
    LibraryOption,
    app,
    console,
    model_settings,
    opened_library,
    out,
    print_json,
    reported,
)
from .remote import ServerOption


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Folders or files to ingest.")],
    library: LibraryOption = None,
    json: JsonOption = False,
    include: Annotated[list[str] | None, typer.Option("--include", help="Glob a file must match (repeatable).")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Glob to skip (repeatable).")] = None,
    hidden: Annotated[bool, typer.Option("--hidden", help="Include hidden files and folders.")] = False,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, metavar="N",
                                                   help="Images per model call (setting batch_size).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=0, metavar="N", help="Decode threads.")] = None,
    clip_model: ClipModelOption = None,
    clip_pretrained: ClipPretrainedOption = None,
    device: DeviceOption = None,
    engine: Annotated[str | None, typer.Option(
        "--engine", metavar="local|ray",
        help="Decode and embed here (local) or on a Ray cluster (ray; pip install 'mmrag[ray]').")] = None,
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", metavar="HOST:PORT", help="Ray cluster for --engine ray (default: RAY_ADDRESS).")] = None,
) -> None:
    """Add new and changed files, drop deleted ones. Re-running on an unchanged folder does no model work."""
    from rich.text import Text

    from .ingest_progress import ingest_progress

    ingest_options = {"include": include, "exclude": exclude, "hidden": hidden or None}
    overrides = {"batch_size": batch_size, "workers": workers,
                 "ingest": {k: v for k, v in ingest_options.items() if v is not None},
                 **model_settings(clip_model, clip_pretrained, device)}
    with opened_library(library, create=True, **{k: v for k, v in overrides.items() if v not in (None, {})}) as lib:
        with ingest_progress(console, disabled=json) as (progress, task):
            report = lib.ingest(
                paths, progress=lambda done, total, path: progress.update(task, completed=done, total=total),
                engine=engine, ray_address=ray_address,
            )
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
        out.print(Text.assemble(("  skipped ", "yellow"), f"{path}: {reason}"), highlight=False)  # no markup
    if len(report.skipped) > 50:
        out.print(f"  … and {len(report.skipped) - 50} more (see `mmrag skipped`)")


@app.command()
def status(library: LibraryOption = None, json: JsonOption = False, server: ServerOption = None) -> None:
    """Counts, index type, device, models and library size."""
    if server:
        with reported():
            info = remote.status(server)
    else:
        with opened_library(library) as lib:
            info = lib.status()
    if json:
        print_json(info)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=False, box=None)
    table.add_row("library", Text(info["library"]))
    table.add_row("database", Text(info["database"]))
    table.add_row("assets", Text(", ".join(f"{k}: {v}" for k, v in info["assets"].items()) or "none"))
    table.add_row("skipped", Text(str(info["skipped"])))
    table.add_row("chunks", Text(str(info["chunks"])))
    for name, model in info["models"].items():
        table.add_row(f"{name} model", Text(f"{model['library'] or '-'} (configured: {model['configured']})"))
    for space, index in info["indexes"].items():
        table.add_row(f"{space} index", Text(index_summary(index)))
    table.add_row("device", Text(info["device"]))
    table.add_row("size", Text(f"{info['size_bytes'] / 1e6:.1f} MB"))
    out.print(table)


@app.command()
def remove(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to drop from the library.")],
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """Drop assets from the library (files on disk are not touched)."""
    with opened_library(library) as lib:
        count = lib.remove(paths)
    print_json({"removed": count}) if json else out.print(f"removed {count} assets", markup=False)


@app.command()
def rebuild(
    library: LibraryOption = None,
    json: JsonOption = False,
    index_spec: Annotated[str | None, typer.Option("--index-spec", help="e.g. Flat, IVF1024,Flat, HNSW32.")] = None,
) -> None:
    """Rebuild the vector indexes from the stored vectors (no re-embedding)."""
    with opened_library(library) as lib:
        info = lib.rebuild(index_spec)
    if json:
        print_json(info)
        return
    for space, index in info.items():
        out.print(f"rebuilt {space} index: {index_summary(index)}", markup=False, highlight=False, emoji=False)


@app.command()
def tag(
    ids: Annotated[list[int], typer.Argument(help="Library item ids.")],
    add: Annotated[list[str] | None, typer.Option("--add", "-a", help="Tag to add (repeatable).")] = None,
    remove_: Annotated[list[str] | None, typer.Option("--remove", "-r", help="Tag to remove (repeatable).")] = None,
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """Add or remove tags (usable as search filters: --tag)."""
    with opened_library(library) as lib:
        lib.tag(ids, add or [], remove_ or [])
        tags = {asset_id: sorted(t.name for t in lib.get_asset(asset_id).tags) for asset_id in ids}
    if json:
        print_json([{"id": asset_id, "tags": names} for asset_id, names in tags.items()])
    else:
        for asset_id, names in tags.items():
            out.print(f"{asset_id}: {', '.join(names) or '(no tags)'}", highlight=False, markup=False, emoji=False)


@app.command()
def skipped(library: LibraryOption = None, json: JsonOption = False) -> None:
    """Files that could not be ingested, with the reason."""
    with opened_library(library) as lib:
        rows = lib.skipped()
    if json:
        print_json([{"path": p, "reason": r} for p, r in rows])
        return
    if not rows:
        out.print("no skipped files: every file found by ingest is in the library")
    for path, reason in rows:
        out.print(f"{path}: {reason}", highlight=False, markup=False, emoji=False)


def index_summary(index: dict) -> str:  # type: ignore[type-arg]
    """``15 vectors, Flat, 0.1 MB`` — one index's status for people (``--json`` has every field)."""
    if index.get("error"):
        return f"damaged ({index['error']}); `mmrag doctor --fix` rebuilds it"
    if not index.get("count") and not index.get("file_bytes"):
        return "empty"
    parts = [f"{index.get('count') or 0} vectors", str(index.get("spec") or "")]
    if index.get("file_bytes"):
        parts.append(f"{index['file_bytes'] / 1e6:.1f} MB")
    return ", ".join(part for part in parts if part)
