"""Search verbs: search, similar, duplicates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .common import JsonOption, LibraryOption, app, fail, open_library, out, print_json

KOption = Annotated[int, typer.Option("--k", "-k", help="Number of results.")]


def _filters(kind: str | None, folder: str | None, after: str | None, before: str | None,
             min_size: int | None, max_size: int | None, tags: list[str] | None) -> dict[str, Any]:
    values = {"folder": folder, "after": after, "before": before, "min_size": min_size, "max_size": max_size,
              "tags": tags or None, "kind": kind if kind not in (None, "image", "text", "document") else None}
    return {k: v for k, v in values.items() if v is not None}


FolderOption = Annotated[str | None, typer.Option("--folder", help="Folder glob, e.g. '2024/*'.")]
AfterOption = Annotated[str | None, typer.Option("--after", help="Taken/modified on or after (YYYY-MM-DD).")]
BeforeOption = Annotated[str | None, typer.Option("--before", help="Taken/modified before (YYYY-MM-DD).")]
MinSizeOption = Annotated[int | None, typer.Option("--min-size", help="Minimum file size in bytes.")]
MaxSizeOption = Annotated[int | None, typer.Option("--max-size", help="Maximum file size in bytes.")]
TagOption = Annotated[list[str] | None, typer.Option("--tag", help="Required tag (repeatable).")]


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="Text query.")] = None,
    image: Annotated[Path | None, typer.Option("--image", "-i", help="Query image file.")] = None,
    image_weight: Annotated[float, typer.Option("--image-weight", help="Image weight in a combined query.")] = 0.5,
    negative: Annotated[str | None, typer.Option("--negative", help="Text to steer away from.")] = None,
    k: KOption = 10,
    kind: Annotated[str, typer.Option("--kind", help="image | generated | text (passages).")] = "image",
    mode: Annotated[str | None, typer.Option("--mode", help="Passages: dense | bm25 | hybrid.")] = None,
    folder: FolderOption = None,
    after: AfterOption = None,
    before: BeforeOption = None,
    min_size: MinSizeOption = None,
    max_size: MaxSizeOption = None,
    tag: TagOption = None,
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """Text → image, image → image, combined text + image, or text → passages (--kind text)."""
    lib = open_library(library)
    filters = _filters(kind, folder, after, before, min_size, max_size, tag)
    try:
        if kind in ("text", "document"):
            if query is None:
                raise ValueError("passage search (--kind text) needs a text query")
            hits = lib.search_text(query, k=k, filters=filters, kind="text", mode=mode)
        elif image is not None or negative is not None:
            hits = lib.search(text=query, image=image, image_weight=image_weight, negative=negative, k=k,
                              filters=filters | ({"kind": kind} if kind != "image" else {}))
        elif query is not None:
            hits = lib.search_text(query, k=k, filters=filters, kind=kind)
        else:
            raise ValueError("give a text query, --image, or both")
    except Exception as exc:  # noqa: BLE001
        fail(exc)
        return
    _print_hits(hits, json)


@app.command()
def similar(
    asset_id: Annotated[int, typer.Argument(help="Library item id.")],
    k: KOption = 10,
    folder: FolderOption = None,
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """More like library item ASSET_ID."""
    lib = open_library(library)
    try:
        hits = lib.similar(asset_id, k=k, filters=_filters(None, folder, None, None, None, None, None))
    except Exception as exc:  # noqa: BLE001
        fail(exc)
        return
    _print_hits(hits, json)


@app.command()
def duplicates(
    max_hash_distance: Annotated[int | None, typer.Option("--max-hash-distance", help="pHash bits (10).")] = None,
    min_similarity: Annotated[float | None, typer.Option("--min-similarity", help="Cosine (default 0.90).")] = None,
    folder: FolderOption = None,
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """Groups of near-duplicate images (perceptual hash, confirmed by embedding similarity)."""
    lib = open_library(library)
    try:
        groups = lib.duplicates(max_hash_distance, min_similarity,
                                filters=_filters(None, folder, None, None, None, None, None))
    except Exception as exc:  # noqa: BLE001
        fail(exc)
        return
    if json:
        print_json([g.to_dict() for g in groups])
        return
    if not groups:
        out.print("no near-duplicates found")
    for number, group in enumerate(groups, 1):
        out.print(f"[bold]group {number}[/] ({len(group.ids)} images, similarity ≥ {group.similarity:.3f}, "
                  f"hash distance ≤ {group.max_hash_distance})")
        for asset_id, path in zip(group.ids, group.paths, strict=True):
            out.print(f"  {asset_id:>6}  {path}", highlight=False)


def _print_hits(hits: list, json: bool) -> None:  # type: ignore[type-arg]
    if json:
        print_json([hit.to_dict() for hit in hits])
        return
    if not hits:
        out.print("no results")
        return
    table = Table("score", "id", box=None)
    table.add_column("path", overflow="fold")
    passages = any(hit.chunk_id is not None for hit in hits)
    if passages:
        table.add_column("where")
        table.add_column("passage")
    for hit in hits:
        row = [f"{hit.score:.3f}", str(hit.id), hit.path]
        if passages:
            where = f"p. {hit.page}" if hit.page else (hit.section or "")
            row += [where, (hit.text or "").replace("\n", " ")[:120]]
        table.add_row(*row)
    out.print(table)
