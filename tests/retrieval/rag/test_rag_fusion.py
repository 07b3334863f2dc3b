"""Reciprocal rank fusion."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmrag.retrieval.fusion import reciprocal_rank_fusion


def test_items_in_both_lists_win() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 4, 1]], k=60)
    assert [item for item, _ in fused][:2] == [1, 3]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 63)


def test_weights_and_k_change_the_order() -> None:
    assert reciprocal_rank_fusion([[1, 2], [2, 1]], [1.0, 2.0])[0][0] == 2
    assert reciprocal_rank_fusion([[1, 2], [2, 1]], [2.0, 1.0])[0][0] == 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="2 rankings but 1 weights"):
        reciprocal_rank_fusion([[1], [2]], [1.0])
    with pytest.raises(ValueError, match="k must be >= 0"):
        reciprocal_rank_fusion([[1]], k=-1)


@given(st.lists(st.lists(st.integers(0, 30), max_size=15), min_size=1, max_size=3))
def test_fused_scores_are_sorted_and_cover_every_item(rankings: list[list[int]]) -> None:
    fused = reciprocal_rank_fusion(rankings)
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)
    assert {item for item, _ in fused} == {item for ranking in rankings for item in ranking}
