"""Search verbs: search, similar, duplicates."""

from pathlib import Path
from typing import Annotated, Any

import typer

from . import remote
from .common import (
    ClipModelOption,
    ClipPretrainedOption,
    DeviceOption,
    JsonOption,
    LibraryOption,
    app,
    model_settings,
    opened_library,
    out,
    print_json,
    reported,
)
from .remote import ServerOption
from .startup import few_collections

SEARCH_KINDS = ("image", "generated", "text")
KIND_HELP = f"What to search ({' | '.join(SEARCH_KINDS)}); text = passages of documents."
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
    kind: Annotated[str, typer.Option("--kind", metavar="KIND", help=KIND_HELP)] = "image",
    mode: Annotated[str | None, typer.Option("--mode", help="Passages: dense | bm25 | hybrid.")] = None,
    folder: FolderOption = None,
    after: AfterOption = None,
    before: BeforeOption = None,
    min_size: MinSizeOption = None,
    max_size: MaxSizeOption = None,
    tag: TagOption = None,
    search_in: Annotated[str, typer.Option(
        "--in", help="Text → image: all (CLIP and OCR text fused) | clip | text (text read in images only).")] = "all",
    has_text: Annotated[bool | None, typer.Option(
        "--has-text/--no-text", help="Only images with text read in them / without.", show_default=False)] = None,
    library: LibraryOption = None,
    json: JsonOption = False,
    server: ServerOption = None,
    clip_model: ClipModelOption = None,
    clip_pretrained: ClipPretrainedOption = None,
    device: DeviceOption = None,
) -> None:
    """Text → image, image → image, combined text + image, or text → passages (--kind text)."""
    from ..serve.query import SearchParams, run_search

    with reported():
        if kind not in (*SEARCH_KINDS, "document"):  # document: an older name of text
            raise ValueError(f"unknown --kind {kind!r}; choose one of: {' | '.join(SEARCH_KINDS)}")
        params = SearchParams(text=query, k=k, kind=kind, mode=mode, image_weight=image_weight, negative=negative,
                              folder=folder, after=after, before=before, min_size=min_size, max_size=max_size,
                              tag=tag, search_in=search_in, has_text=has_text)
    with few_collections():
        if server:
            with reported():
                hits = remote.search(server, params, image)
        else:
            with opened_library(library, **model_settings(clip_model, clip_pretrained, device)) as lib:
                hits = run_search(lib, params, image)
    _print_hits(hits, json)


@app.command()
def similar(
    asset_id: Annotated[int, typer.Argument(help="Library item id.")],
    k: KOption = 10,
    folder: FolderOption = None,
    library: LibraryOption = None,
    json: JsonOption = False,
    server: ServerOption = None,
    clip_model: ClipModelOption = None,
    clip_pretrained: ClipPretrainedOption = None,
    device: DeviceOption = None,
) -> None:
    """More like library item ASSET_ID."""
    if server:
        with reported():
            hits = remote.similar(server, asset_id, k, folder)
    else:
        with opened_library(library, **model_settings(clip_model, clip_pretrained, device)) as lib:
            hits = lib.similar(asset_id, k=k, filters=_filters(None, folder, None, None, None, None, None))
    _print_hits(hits, json)


@app.command()
def duplicates(
    min_confidence: Annotated[float | None, typer.Option(
        "--min-confidence", min=0.0, max=1.0,
        help="Lowest pair confidence, 0..1 (default 0.5: the documented thresholds; 1.0: exact copies only).")] = None,
    folder: FolderOption = None,
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """Groups of copies of the same picture: resized, re-encoded, edited, cropped, rotated or mirrored.

    Each pair is labelled (exact bytes, same pixels, resized/re-encoded, edited, crop, rotation, mirror) with
    a confidence; the best original (most pixels, lossless, least compressed, oldest) is listed first."""
    with opened_library(library) as lib:
        groups = lib.duplicates(min_confidence, filters=_filters(None, folder, None, None, None, None, None))
    if json:
        print_json([g.to_dict() for g in groups])
        return
    if not groups:
        out.print("no near-duplicates found")
    for number, group in enumerate(groups, 1):
        out.print(f"[bold]group {number}[/] ({len(group.ids)} images, confidence ≥ {group.confidence:.2f}: "
                  f"{', '.join(group.labels)})")
        label = {pair.b: pair.label for pair in group.pairs} | {pair.a: pair.label for pair in group.pairs
                                                               if pair.b == group.best_id}
        for asset_id, path in zip(group.ids, group.paths, strict=True):
            mark = "keep" if asset_id == group.best_id else label.get(asset_id, "")
            out.print(f"  {asset_id:>6}  {mark:<18}  {path}", highlight=False, markup=False, emoji=False)


def _print_hits(hits: list, json: bool) -> None:  # type: ignore[type-arg]
    """One line per hit: score, id, path — never wrapped by us, so a path stays whole at any width; a passage's
    place and snippet (plain text), or the text read in an image, on the line below."""
    if json:
        print_json([hit.to_dict() for hit in hits])
        return
    if not hits:
        out.print("no results")
        return
    from rich.text import Text

    out.print(f"{'score':>6}  {'id':>6}  path", style="bold", highlight=False)
    for hit in hits:
        out.print(Text(f"{hit.score:>6.3f}  {hit.id:>6}  {hit.path}"), soft_wrap=True, highlight=False)
        detail = _hit_detail(hit)
        if detail:
            out.print(Text(f"{'':16}{detail}", style="dim"), soft_wrap=True, highlight=False)


def _hit_detail(hit: Any) -> str:
    from ..retrieval.plain_text import is_markdown, plain_text

    text = " ".join(plain_text(hit.text or "", markdown=is_markdown(hit.path)).split())
    if hit.chunk_id is not None:
        where = f"p. {hit.page}" if hit.page else (hit.section or "")
        return " · ".join(part for part in (where, _clip(text, 160)) if part)
    if "match" in hit.extra and (text or hit.extra["match"] != "clip"):  # a plain CLIP match needs no note
        return f"{hit.extra['match']}" + (f" · text in image: {_clip(text, 100)}" if text else "")
    return ""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
