"""Property tests of the query API: any input gives results or a clear ValueError/TypeError, promptly.

"Clear" means one of the two documented exception types (the query API's contract, errors.py) with a
message; anything else (OverflowError from the database driver, AttributeError, a FAISS RuntimeError) is a
crash. A library that is empty must answer like a full one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmrag import Library
from mmrag.retrieval import search as vector_search
from mmrag.retrieval.filters import Filters

CLEAR = (ValueError, TypeError)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW_CALL_S = 10.0
FILTER_KEYS = ("kind", "folder", "path", "after", "before", "min_size", "max_size", "tags", "ids")

anything = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20) | st.binary(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)
query_text = st.text(st.characters(codec=None), max_size=300) | st.sampled_from(
    ["", " ", "\x00", "\n\t", "\ud800", "☃" * 2000, "a" * 100_000, "DROP TABLE assets; --", "%_*?[]"])


@pytest.fixture(scope="module")
def libraries(tmp_path_factory: pytest.TempPathFactory, sample_photos: Path, tiny_clip: Any) -> Iterator[dict]:
    """A library holding the sample photos and an empty one (module-scoped: hypothesis reuses them)."""
    root = tmp_path_factory.mktemp("query-properties")
    full = Library(root / "full", clip_model="tiny-test", device="cpu", clip=tiny_clip)
    empty = Library(root / "empty", clip_model="tiny-test", device="cpu", clip=tiny_clip)
    full.ingest([sample_photos])
    yield {"full": full, "empty": empty}
    full.close()
    empty.close()


def _answer(call: Callable[[], Any]) -> Any:
    """Run one query: results, or a clear exception (returned); anything else fails the test."""
    started = time.perf_counter()
    try:
        result = call()
    except CLEAR as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        result = exc
    assert time.perf_counter() - started < SLOW_CALL_S, "a query took too long"
    return result


def _check_hits(result: Any, k: int | None = None) -> None:
    if isinstance(result, Exception):
        return
    assert isinstance(result, list)
    assert len({h.id for h in result}) == len(result)
    assert all(math.isfinite(h.score) for h in result)
    if k is not None:
        assert len(result) <= k


@SETTINGS
@given(text=query_text, k=st.integers(1, 50), which=st.sampled_from(["full", "empty"]))
def test_any_text_query(libraries: dict, text: str, k: int, which: str) -> None:
    result = _answer(lambda: libraries[which].search_text(text, k=k))
    _check_hits(result, k)
    printable = "".join(ch for ch in text if ch.isprintable()).strip()
    if printable and which == "full":
        assert not isinstance(result, Exception), result
        assert len(result) == min(k, 15)


@SETTINGS
@given(k=anything)
def test_any_k(libraries: dict, k: Any) -> None:
    result = _answer(lambda: libraries["full"].search_text("a photo", k=k))
    valid = isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 1 <= k <= vector_search.MAX_K
    assert isinstance(result, Exception) != valid, (k, result)
    _check_hits(result, k if valid else None)


@SETTINGS
@given(filters=st.dictionaries(st.sampled_from(FILTER_KEYS) | st.text(max_size=8), anything, max_size=3)
       | anything)
def test_any_filters(libraries: dict, filters: Any) -> None:
    result = _answer(lambda: libraries["full"].search_text("a photo", k=5, filters=filters))
    _check_hits(result, 5)
    if isinstance(filters, dict) and set(filters) - set(FILTER_KEYS):
        assert isinstance(result, ValueError) and "unknown filter" in str(result)


@pytest.mark.parametrize("filters", [{"min_size": 2**70}, {"ids": [2**70]}])
def test_huge_integers_in_filters(libraries: dict, filters: dict) -> None:
    with pytest.raises(ValueError, match="2\\*\\*63"):
        libraries["full"].search_text("a photo", filters=filters)


@SETTINGS
@given(image=anything | st.integers(-(2**80), 2**80) | st.binary(max_size=64)
       | st.builds(lambda shape: np.zeros(shape), st.tuples(st.integers(1, 4), st.integers(1, 4))))
def test_any_image_query(libraries: dict, image: Any) -> None:
    from mmrag.errors import InputError

    try:
        result = _answer(lambda: libraries["full"].search(image=image, k=3))
    except InputError as exc:  # undecodable bytes: an InputError with the reason, also clear
        assert "query image" in str(exc)
        return
    except FileNotFoundError as exc:  # a string that names no file
        assert isinstance(image, str) and "does not exist" in str(exc)
        return
    _check_hits(result, 3)


@SETTINGS
@given(weight=st.floats(allow_nan=True, allow_infinity=True), negative_weight=st.floats(allow_nan=True,
                                                                                          allow_infinity=True))
def test_any_weights(libraries: dict, weight: float, negative_weight: float) -> None:
    result = _answer(lambda: libraries["full"].search(text="a cat", image=1, image_weight=weight,
                                                      negative="a dog", negative_weight=negative_weight, k=3))
    if not (0 <= weight <= 1) or not math.isfinite(negative_weight):
        assert isinstance(result, ValueError)
    _check_hits(result, 3)


vectors = st.builds(
    lambda n, fill, special: np.where(np.arange(n) % 7 == 0, special, fill).astype(np.float32),
    st.sampled_from([64, 63, 65, 1, 0]), st.floats(-1e3, 1e3), st.sampled_from([0.0, np.nan, np.inf, -np.inf]),
)


@SETTINGS
@given(vector=vectors, k=st.integers(1, 30))
def test_any_vector_through_search_space_and_combine(libraries: dict, vector: np.ndarray, k: int) -> None:
    lib = libraries["full"]
    result = _answer(lambda: vector_search.search_space(lib.catalog, lib.indexes, vector, k, Filters()))
    if not np.isfinite(vector).all() or vector.size != 64:
        assert isinstance(result, ValueError), result
    _check_hits(result, k)
    combined = _answer(lambda: vector_search.combine([(vector, 1.0)]))
    if isinstance(combined, np.ndarray):
        assert np.isfinite(combined).all() and abs(float(np.linalg.norm(combined)) - 1) < 1e-3


@pytest.mark.parametrize("asset_id", [0, -1, 2**63, 2**80, 10**6])
def test_unknown_item_ids_are_value_errors(libraries: dict, asset_id: int) -> None:
    lib = libraries["full"]
    calls = (lambda: lib.similar(asset_id), lambda: lib.search(image=asset_id), lambda: lib.get_asset(asset_id))
    for call in calls:
        with pytest.raises(ValueError, match="no (such|library) item"):
            call()


def test_a_megabyte_query_is_answered_promptly(libraries: dict) -> None:
    started = time.perf_counter()
    hits = libraries["full"].search_text("word " * 2_000_000, k=3)  # 10 MB
    assert len(hits) == 3 and time.perf_counter() - started < SLOW_CALL_S
