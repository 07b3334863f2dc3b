"""Text → image search that fuses CLIP similarity with matches of the query in the images' OCR text.

Two rankings of image assets are fused by weighted reciprocal rank (``Σ w / (K + rank)``, K = ``RRF_K``):

- CLIP: the images nearest the query's CLIP text vector, weight 1;
- text: BM25 over the OCR text (``ocr_text_index``, same tokenizer as passages: English stems, Chinese
  characters + bigrams), weight ``TEXT_WEIGHT`` × coverage, where coverage is the share of the query's
  tokens found in the image's text (an image showing every word of the query outranks the best CLIP match;
  one sharing a single word of four does not).

Each hit says why it matched (``extra["match"]``: clip, text or both); text matches carry the matched lines
(``Hit.text``) and their boxes (``extra["ocr_lines"]``) for highlighting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..catalog import Catalog
from ..catalog.models import OCR_SPACE
from ..catalog.ocr_text import ocr_lines, ocr_texts
from ..index.bm25 import Bm25Store, tokenize
from ..models.ocr_base import searchable_text
from .filters import Filters
from .fusion import RRF_K
from .hits import Hit
from .search import allowed_ids, check_k, hits_by_id, nearest, query_vector, search_space

if TYPE_CHECKING:
    from ..components import Components

log = logging.getLogger(__name__)
# "-2": indexes searchable_text() (split run-together words); older saved indexes are left unused.
OCR_FOLDER = Path("index") / "ocr_bm25-2"
SEARCH_IN = ("all", "clip", "text")  # both rankings fused, CLIP only, OCR text only
TEXT_WEIGHT = 1.5
# Images whose OCR text means what the query says (``ocr_dense``: text-model cosine ≥ MIN_COSINE): above
# CLIP's weight, below an image showing every word of the query.
SEMANTIC_WEIGHT = 1.25
CLIP_DEPTH = 100  # CLIP candidates fused (at least k)


def ocr_text_index(catalog: Catalog, folder: Path) -> Bm25Store:
    """BM25 over the OCR text of a library's images, saved under ``index/ocr_bm25``; rebuilt from the catalog
    when its ``ocr`` generation moved on (derived data: deleting the folder only costs a rebuild)."""

    def texts(source: Catalog) -> tuple[np.ndarray, list[str]]:
        ids, raw = ocr_texts(source)
        return ids, [searchable_text(text) for text in raw]

    return Bm25Store(catalog, folder, OCR_SPACE, texts)


@dataclass(frozen=True)
class TextMatch:
    asset_id: int
    bm25: float
    coverage: float  # share of the query's tokens present in the image's text
    lines: tuple[dict[str, Any], ...]  # the OCR lines holding query tokens
    meaning: float | None = None  # text-model cosine of query and text, when a semantic match


def check_search_in(value: str) -> str:
    if value not in SEARCH_IN:
        raise ValueError(f"search_in must be one of {', '.join(SEARCH_IN)}, got {value!r}")
    return value


def text_matches(catalog: Catalog, index: Bm25Store, query: str, k: int,
                 allowed_ids: np.ndarray | None = None) -> list[TextMatch]:
    """Images whose OCR text matches ``query``, best first (BM25 order), with coverage and matched lines.
    A library without OCR text loads no BM25 index and no stemmer (their imports cost seconds per process)."""
    if not catalog.generation(OCR_SPACE) or not len(bm25 := index.get()):
        return []
    ids, scores = bm25.search(query, k, allowed_ids=allowed_ids)
    wanted = set(tokenize(query))
    if not len(ids) or not wanted:
        return []
    lines = ocr_lines(catalog, [int(i) for i in ids])
    matches = []
    for asset_id, score in zip(ids.tolist(), scores.tolist(), strict=True):
        found: set[str] = set()
        matched = []
        for line in lines.get(asset_id, []):
            tokens = wanted.intersection(tokenize(searchable_text(str(line.get("text", "")))))
            if tokens:
                found |= tokens
                matched.append(line)
        matches.append(TextMatch(asset_id, float(score), len(found) / len(wanted), tuple(matched)))
    return matches


def fuse(clip_ids: list[int], matches: list[TextMatch], semantic: list[tuple[int, float]] | None = None, *,
         text_weight: float = TEXT_WEIGHT, semantic_weight: float = SEMANTIC_WEIGHT,
         rrf_k: float = RRF_K) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion of the CLIP ranking, the text (word) matches and the semantic
    matches of the OCR text (``ocr_dense.semantic_matches``); ties keep CLIP's order."""
    scores: dict[int, float] = {}
    for rank, asset_id in enumerate(clip_ids, start=1):
        scores[asset_id] = scores.get(asset_id, 0.0) + 1.0 / (rrf_k + rank)
    for rank, match in enumerate(matches, start=1):
        weight = text_weight * match.coverage
        scores[match.asset_id] = scores.get(match.asset_id, 0.0) + weight / (rrf_k + rank)
    for rank, (asset_id, _cosine) in enumerate(semantic or [], start=1):
        scores[asset_id] = scores.get(asset_id, 0.0) + semantic_weight / (rrf_k + rank)
    order = {asset_id: position for position, asset_id in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))


def fused_image_search(
    catalog: Catalog,
    clip_pairs: list[tuple[int, float]],
    matches: list[TextMatch],
    k: int,
    semantic: list[tuple[int, float]] | None = None,
) -> list[Hit]:
    """Fuse ``clip_pairs`` (CLIP's ranking as (asset id, score), already filtered, ``CLIP_DEPTH`` deep when
    there are text matches) with the OCR text ``matches`` and the ``semantic`` matches (asset id, cosine; both
    already filtered) into the top ``k`` hits. Only the rows of the returned hits are read (a 1 M library:
    5 ms for CLIP's 100 rows, ~1 ms for the 2k read here)."""
    clip_scores = dict(clip_pairs)
    by_match = {m.asset_id: m for m in matches}
    fused = fuse([asset_id for asset_id, _ in clip_pairs], matches, semantic)
    hits: list[Hit] = []
    for start in range(0, len(fused), 2 * k):  # rows a batch at a time: deleted ones are skipped
        batch = fused[start: start + 2 * k]
        rows = hits_by_id(catalog, [(asset_id, clip_scores.get(asset_id, 0.0)) for asset_id, _ in batch])
        by_meaning = _meaning_matches(catalog, semantic or [], by_match, {a for a, _ in batch})
        for asset_id, score in batch:
            hit = rows.get(asset_id)
            if hit is None:
                continue  # deleted or no longer ok since the index was built
            match = by_meaning.get(asset_id, by_match.get(asset_id))
            hits.append(_explained(hit, score, asset_id in clip_scores, match))
            if len(hits) == k:
                return hits
    return hits


def _meaning_matches(catalog: Catalog, semantic: list[tuple[int, float]], by_match: dict[int, TextMatch],
                     wanted: set[int]) -> dict[int, TextMatch]:
    """Text matches for the semantic matches among ``wanted``: the cosine as ``meaning``; the matched lines
    are the word matches' lines, or all the image's lines when no word of the query is in its text."""
    chosen = [(a, cosine) for a, cosine in semantic if a in wanted]
    lines = ocr_lines(catalog, [a for a, _ in chosen if a not in by_match or not by_match[a].lines])
    out = {}
    for asset_id, cosine in chosen:
        words = by_match.get(asset_id)
        if words is not None and words.coverage > 0:
            out[asset_id] = TextMatch(asset_id, words.bm25, words.coverage, words.lines, round(cosine, 4))
        else:
            out[asset_id] = TextMatch(asset_id, 0.0, 0.0, tuple(lines.get(asset_id, [])), round(cosine, 4))
    return out


def _explained(hit: Hit, score: float, from_clip: bool, match: TextMatch | None) -> Hit:
    text_match = match is not None and (match.coverage > 0 or match.meaning is not None)
    why = "both" if from_clip and text_match else ("text" if text_match else "clip")
    extra = {**hit.extra, "match": why}
    if from_clip:
        extra["clip_score"] = hit.score
    text = hit.text
    if text_match and match is not None:
        extra["ocr_lines"] = [dict(line) for line in match.lines]
        if match.meaning is not None:
            extra["text_cosine"] = match.meaning
        text = "\n".join(str(line.get("text", "")) for line in match.lines)
    return Hit(id=hit.id, path=hit.path, score=round(score, 6), kind=hit.kind, width=hit.width,
               height=hit.height, chunk_id=hit.chunk_id, text=text, page=hit.page, section=hit.section,
               extra=extra)


def search_images_by_text(components: Components, query: str, k: int, filters: Filters, *,
                          search_in: str = "all", semantic: bool = True) -> list[Hit]:
    """Text → images: CLIP's ranking fused with the OCR text matches (``search_in`` "all"), CLIP only
    ("clip"), or the OCR text only ("text"). The OCR text matches are its words (BM25) and, with
    ``semantic``, its meaning (text-model vectors, ``ocr_dense``).

    CLIP's ranking is read ``CLIP_DEPTH`` deep only when there are text matches to fuse it with; otherwise
    the fusion keeps CLIP's order and k deep gives the same hits (at 1 M images with the fast-scan index,
    re-ranking 8 × 100 candidates took 8-13 ms a query; bench/bench_query_parts.py)."""
    k = check_k(k)
    search_in = check_search_in(search_in)
    vector = query_vector(components, text=query) if search_in != "text" else None
    if search_in == "clip":
        return [_explained(hit, hit.score, True, None)
                for hit in search_space(components.catalog, components.indexes, vector, k, filters)]
    allowed = allowed_ids(components.catalog, filters)
    matches = text_matches(components.catalog, components.ocr_text_index, query, max(k, CLIP_DEPTH), allowed)
    meaning: list[tuple[int, float]] = []
    if semantic:
        from .ocr_dense import semantic_matches

        meaning = semantic_matches(components, query, max(k, CLIP_DEPTH), allowed)
    if vector is None:
        return fused_image_search(components.catalog, [], matches, k, meaning)
    depth = max(k, CLIP_DEPTH) if matches or meaning else k
    for _ in range(4):
        ranking = nearest(components.indexes, vector, depth, allowed)
        hits = fused_image_search(components.catalog, ranking.pairs, matches, k, meaning)
        if len(hits) >= k or not ranking.deeper:
            return hits
        depth *= 2  # some of CLIP's ids were deleted after the index was loaded: look further
    return hits
