"""Fusion of the dense and BM25 rankings: convex (normalised scores) and reciprocal rank fusion."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmrag.retrieval.fusion import check_fusion, convex_fusion, reciprocal_rank_fusion


def test_rrf_items_in_both_lists_win() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 4, 1]], k=60)
    assert [item for item, _ in fused][:2] == [1, 3]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 63)


def test_rrf_weights_change_the_order() -> None:
    assert reciprocal_rank_fusion([[1, 2], [2, 1]], [1.0, 2.0])[0][0] == 2
    assert reciprocal_rank_fusion([[1, 2], [2, 1]], [2.0, 1.0])[0][0] == 1


def test_convex_normalises_each_list_by_its_best_score() -> None:
    dense = ([1, 2, 3], [0.8, 0.6, 0.4])
    bm25 = ([3, 4], [12.0, 6.0])
    fused = dict(convex_fusion(dense, bm25, bm25_weight=0.3))
    assert fused[1] == pytest.approx(0.7 * 1.0)
    assert fused[3] == pytest.approx(0.7 * 0.5 + 0.3 * 1.0)
    assert fused[4] == pytest.approx(0.7 * 0.5 + 0.3 * 0.5)  # beyond the dense list: its lowest score
    assert [item for item, _ in convex_fusion(dense, bm25, 0.3)] == [1, 3, 2, 4]
    assert [item for item, _ in convex_fusion(dense, bm25, 0.9)][0] == 3


def test_convex_with_an_empty_list() -> None:
    assert convex_fusion(([5, 6], [0.5, 0.25]), ([], [])) == [(5, pytest.approx(0.7)), (6, pytest.approx(0.35))]
    assert [i for i, _ in convex_fusion(([], []), ([7, 8], [3.0, 1.0]))] == [7, 8]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="2 rankings but 1 weights"):
        reciprocal_rank_fusion([[1], [2]], [1.0])
    with pytest.raises(ValueError, match="k must be >= 0"):
        reciprocal_rank_fusion([[1]], k=-1)
    with pytest.raises(ValueError, match=r"bm25_weight must be in \[0, 1\], got 1.5"):
        convex_fusion(([1], [1.0]), ([1], [1.0]), 1.5)
    with pytest.raises(ValueError, match="'max'.*convex, rrf"):
        check_fusion("max")


ranked = st.lists(st.integers(0, 30), max_size=15, unique=True)
# shared CPUs: generation time is not under test
loaded_machine = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


@loaded_machine
@given(st.lists(ranked, min_size=1, max_size=3))
def test_rrf_scores_are_sorted_and_cover_every_item(rankings: list[list[int]]) -> None:
    fused = reciprocal_rank_fusion(rankings)
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)
    assert {item for item, _ in fused} == {item for ranking in rankings for item in ranking}


@loaded_machine
@given(ranked, ranked, st.floats(0, 1))
def test_convex_scores_are_sorted_bounded_and_cover_every_item(dense: list[int], bm25: list[int], w: float) -> None:
    dense_scores = sorted((0.9 - 0.01 * i for i in range(len(dense))), reverse=True)
    bm25_scores = sorted((10.0 - 0.5 * i for i in range(len(bm25))), reverse=True)
    fused = convex_fusion((dense, dense_scores), (bm25, bm25_scores), w)
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 + 1e-9 for s in scores)
    assert {item for item, _ in fused} == set(dense) | set(bm25)
