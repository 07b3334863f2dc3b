"""Schema creation, version checks and migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg import sqlite_url
from sqlalchemy import LargeBinary, create_engine, inspect, text
from sqlalchemy.orm import Session

from mmrag.catalog import SCHEMA_VERSION, Base, Catalog, Meta
from mmrag.catalog import db as catalog_db
from mmrag.errors import LibraryError, SchemaVersionError


def _set_version(url: str, version: str) -> None:
    catalog = Catalog(url)
    catalog.set_meta("schema_version", version)
    catalog.dispose()


def test_creates_every_table_on_an_empty_database(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    try:
        tables = set(inspect(catalog.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert catalog.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert catalog.dialect == catalog_url.split(":", 1)[0].split("+", 1)[0]
    finally:
        catalog.dispose()


def test_reopening_keeps_data_and_version(catalog_url: str) -> None:
    first = Catalog(catalog_url)
    first.set_meta("model:image", "clip")
    first.dispose()
    second = Catalog(catalog_url, create=False)
    try:
        assert second.get_meta("model:image") == "clip"
        assert second.get_meta("schema_version") == str(SCHEMA_VERSION)
    finally:
        second.dispose()


def test_open_without_create_on_empty_database_fails(catalog_url: str) -> None:
    with pytest.raises(LibraryError, match="no mmrag catalog"):
        Catalog(catalog_url, create=False)


def test_newer_schema_version_is_refused(catalog_url: str) -> None:
    _set_version(catalog_url, str(SCHEMA_VERSION + 1))
    with pytest.raises(SchemaVersionError, match="newer than this mmrag"):
        Catalog(catalog_url)


def test_older_schema_version_without_migration_is_refused(catalog_url: str) -> None:
    _set_version(catalog_url, str(SCHEMA_VERSION - 1))
    with pytest.raises(SchemaVersionError, match="cannot migrate"):
        Catalog(catalog_url)


def test_missing_version_counts_as_zero(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    with catalog.session() as session:
        session.delete(session.get(Meta, "schema_version"))
    catalog.dispose()
    with pytest.raises(SchemaVersionError, match="version 0"):
        Catalog(catalog_url)


def test_migration_runs_once_and_records_the_new_version(catalog_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def migrate(session: Session) -> None:
        calls.append(1)
        session.add(Meta(key="migrated", value="yes"))

    _set_version(catalog_url, str(SCHEMA_VERSION - 1))
    monkeypatch.setitem(catalog_db.MIGRATIONS, SCHEMA_VERSION - 1, migrate)
    for _ in range(2):
        catalog = Catalog(catalog_url)
        assert catalog.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert catalog.get_meta("migrated") == "yes"
        catalog.dispose()
    assert calls == [1]


def test_failed_migration_changes_nothing(catalog_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def migrate(session: Session) -> None:
        session.add(Meta(key="half-done", value="yes"))
        session.flush()
        raise RuntimeError("migration failed")

    _set_version(catalog_url, str(SCHEMA_VERSION - 1))
    monkeypatch.setitem(catalog_db.MIGRATIONS, SCHEMA_VERSION - 1, migrate)
    with pytest.raises(RuntimeError, match="migration failed"):
        Catalog(catalog_url)
    monkeypatch.delitem(catalog_db.MIGRATIONS, SCHEMA_VERSION - 1)
    with pytest.raises(SchemaVersionError):  # still the old version, nothing half-applied
        Catalog(catalog_url)
    engine = create_engine(catalog_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT key, value FROM meta")).all())
    engine.dispose()
    assert rows["schema_version"] == str(SCHEMA_VERSION - 1)
    assert "half-done" not in rows


def test_missing_table_is_added_on_open(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    with catalog.engine.begin() as conn:
        conn.execute(text("DROP TABLE feedback"))
    catalog.dispose()
    reopened = Catalog(catalog_url)
    try:
        assert "feedback" in inspect(reopened.engine).get_table_names()
    finally:
        reopened.dispose()


def test_unreachable_database_is_a_library_error() -> None:
    with pytest.raises(LibraryError, match="cannot open catalog") as info:
        Catalog("postgresql+psycopg://mmrag:secret@127.0.0.1:1/nowhere")
    assert "secret" not in str(info.value)


def test_postgres_column_types(postgres_url: str) -> None:
    catalog = Catalog(postgres_url)
    try:
        columns = {c["name"]: c for c in inspect(catalog.engine).get_columns("vectors")}
        assert isinstance(columns["data"]["type"], LargeBinary)  # bytea
        assets = {c["name"]: c for c in inspect(catalog.engine).get_columns("assets")}
        assert getattr(assets["created_at"]["type"], "timezone", False)  # timestamptz
        with catalog.engine.connect() as conn:
            kind = conn.execute(
                text(
                    "SELECT data_type FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = 'vectors' AND column_name = 'data'"
                )
            ).scalar_one()
        assert kind == "bytea"
    finally:
        catalog.dispose()


def _foreign_keys(catalog: Catalog) -> set[tuple[str, str, str]]:
    inspector = inspect(catalog.engine)
    return {
        (table, ",".join(fk["constrained_columns"]), fk["referred_table"])
        for table in Base.metadata.tables
        for fk in inspector.get_foreign_keys(table)
    }


def test_both_backends_get_every_foreign_key(postgres_url: str, tmp_path: Path) -> None:
    """A PostgreSQL catalog created first must not strip the ALTER-added foreign key from a later SQLite one."""
    expected = {
        (table.name, ",".join(c.parent.name for c in fk.elements), fk.referred_table.name)
        for table in Base.metadata.tables.values()
        for fk in table.foreign_key_constraints
    }
    assert ("assets", "source_chunk_id", "chunks") in expected
    for url in (postgres_url, sqlite_url(tmp_path)):
        catalog = Catalog(url)
        try:
            assert _foreign_keys(catalog) == expected, catalog.dialect
        finally:
            catalog.dispose()
