"""Meta key/values and vector generations, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from mmrag.catalog import IMAGE_SPACE, TEXT_SPACE, Catalog, Meta


def test_meta_get_set_and_overwrite(catalog: Catalog) -> None:
    assert catalog.get_meta("model:image") is None
    catalog.set_meta("model:image", "ViT-B-32")
    assert catalog.get_meta("model:image") == "ViT-B-32"
    catalog.set_meta("model:image", "ViT-L-14")
    assert catalog.get_meta("model:image") == "ViT-L-14"


def test_meta_keeps_long_unicode_values(catalog: Catalog) -> None:
    value = "local-dir:/models/" + "é" * 5000
    catalog.set_meta("model:text", value)
    assert catalog.get_meta("model:text") == value


def test_set_meta_in_a_session_follows_its_transaction(catalog: Catalog) -> None:
    with pytest.raises(RuntimeError):
        with catalog.session() as session:
            catalog.set_meta("k", "v", session)
            raise RuntimeError("abort")
    assert catalog.get_meta("k") is None
    with catalog.session() as session:
        catalog.set_meta("k", "v", session)
    assert catalog.get_meta("k") == "v"


def test_set_meta_refreshes_a_row_the_session_already_holds(catalog: Catalog) -> None:
    catalog.set_meta("k", "old")
    with catalog.session() as session:
        row = session.get(Meta, "k")
        assert row is not None and row.value == "old"
        catalog.set_meta("k", "new", session)
        assert session.get(Meta, "k").value == "new"  # type: ignore[union-attr]


def test_generation_starts_at_zero_and_bumps_inside_transactions(catalog: Catalog) -> None:
    assert catalog.generation(IMAGE_SPACE) == 0
    with catalog.session() as session:
        assert catalog.bump_generation(session, IMAGE_SPACE) == 1
        assert catalog.bump_generation(session, IMAGE_SPACE) == 2
    assert catalog.generation(IMAGE_SPACE) == 2
    with catalog.session() as session:
        assert catalog.bump_generation(session, IMAGE_SPACE) == 3
    assert catalog.generation(IMAGE_SPACE) == 3
    assert catalog.generation(TEXT_SPACE) == 0


def test_rollback_does_not_bump(catalog: Catalog) -> None:
    with catalog.session() as session:
        catalog.bump_generation(session, TEXT_SPACE)
    with pytest.raises(RuntimeError):
        with catalog.session() as session:
            assert catalog.bump_generation(session, TEXT_SPACE) == 2
            raise RuntimeError("abort")
    assert catalog.generation(TEXT_SPACE) == 1


def test_first_bump_rolled_back_leaves_no_row(catalog: Catalog) -> None:
    with pytest.raises(RuntimeError):
        with catalog.session() as session:
            catalog.bump_generation(session, IMAGE_SPACE)
            raise RuntimeError("abort")
    assert catalog.get_meta(f"vectors_generation:{IMAGE_SPACE}") is None
    with catalog.session() as session:
        assert catalog.bump_generation(session, IMAGE_SPACE) == 1


def test_bump_is_seen_by_a_session_that_read_the_row(catalog: Catalog) -> None:
    with catalog.session() as session:
        catalog.bump_generation(session, IMAGE_SPACE)
    with catalog.session() as session:
        row = session.get(Meta, f"vectors_generation:{IMAGE_SPACE}")
        assert row is not None and row.value == "1"
        catalog.bump_generation(session, IMAGE_SPACE)
        assert session.get(Meta, f"vectors_generation:{IMAGE_SPACE}").value == "2"  # type: ignore[union-attr]
