"""A warm text search does a fixed, small amount of catalog work, whatever the library's size: it never reads
the vectors table, counts rows or scans the assets (per-request work that grows with the library is what makes a
resident `mmrag serve` slow at 1 M images)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event


def statements_of(lib, call) -> list[str]:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def record(conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    event.listen(lib.catalog.engine, "before_cursor_execute", record)
    try:
        assert call()
    finally:
        event.remove(lib.catalog.engine, "before_cursor_execute", record)
    return seen


def test_a_warm_text_search_reads_a_few_rows_and_no_vectors(photos: Path, make_library) -> None:  # type: ignore
    lib = make_library()
    lib.ingest([photos])
    lib.search_text("a photo", k=5)  # models, index and BM25 stores loaded
    for search_in in ("all", "clip"):
        seen = statements_of(lib, lambda where=search_in: lib.search_text("a cat on a sofa", k=5, search_in=where))
        assert not [s for s in seen if "FROM vectors" in s or "count(" in s.lower()], seen
        assert len(seen) <= 6, seen
        asset_reads = [s for s in seen if "FROM assets" in s]
        assert len(asset_reads) == 1 and " IN (" in asset_reads[0], seen  # the hits' rows, by id
