"""Pytest plugin: catalog URLs for SQLite and a real PostgreSQL server.

Register it once in ``tests/conftest.py`` with ``pytest_plugins = ["pg"]`` (``tests/`` is on ``sys.path``
there under pytest's default prepend import mode). Fixtures:

``catalog_url``
    parametrised over ``sqlite`` and ``postgresql``: a SQLite file in ``tmp_path``, or a fresh, empty
    PostgreSQL schema created for the test and dropped after it (``postgres_url``).
``postgres_url``
    only the PostgreSQL variant (for PostgreSQL-specific tests).
``postgres_database``
    the session's throwaway database (``mmrag_test_…``) that holds the per-test schemas.
``postgres_admin_url``
    the server from ``MMRAG_TEST_POSTGRES_URL`` (session scope; a superuser or a role with CREATEDB).

``create_database``/``drop_database`` give a test a whole database of its own when it needs one.

Start a server with ``source .ci/postgres.sh``. Without ``MMRAG_TEST_POSTGRES_URL``, or when its server
cannot be reached, the PostgreSQL variants are skipped with the reason, except in CI (``CI=true``), where
they fail instead: CI must never pass by skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

ENV_VAR = "MMRAG_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")
DATABASE_PREFIX = "mmrag_test_"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it in CI, where a missing PostgreSQL is a broken pipeline, not a choice."""
    if in_ci():
        pytest.fail(f"PostgreSQL is required in CI (CI=true): {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason} (run `source .ci/postgres.sh` to start a server)")


_ADMIN_ENGINES: dict[str, Engine] = {}


def admin_engine(url: str) -> Engine:
    """An autocommit engine (one per URL, kept for the session) for CREATE/DROP DATABASE and SCHEMA."""
    engine = _ADMIN_ENGINES.get(url)
    if engine is None:
        engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        _ADMIN_ENGINES[url] = engine
    return engine


def _dispose_admin_engine(url: str) -> None:
    engine = _ADMIN_ENGINES.pop(url, None)
    if engine is not None:
        engine.dispose()


def _probe(url: str) -> str | None:
    """None when the server answers and may create databases, else why not."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - any parse error is a reason to report
        return f"{ENV_VAR}={url!r} is not a SQLAlchemy URL: {exc}"
    if parsed.get_backend_name() != "postgresql":
        return f"{ENV_VAR} must be a postgresql URL, got {parsed.render_as_string(hide_password=True)}"
    try:
        with admin_engine(url).connect() as conn:
            allowed = conn.execute(
                text("SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user")
            ).scalar()
    except Exception as exc:  # noqa: BLE001 - connection errors come in many types
        return f"cannot connect to {parsed.render_as_string(hide_password=True)}: {exc}".splitlines()[0]
    return None if allowed else f"the role in {ENV_VAR} may not create databases"


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """``MMRAG_TEST_POSTGRES_URL``, checked once per session (skip/fail rules in the module docstring)."""
    url = os.environ.get(ENV_VAR, "").strip()
    if not url:
        unavailable(f"{ENV_VAR} is not set")
    reason = _probe(url)
    if reason:
        unavailable(reason)
    yield url
    for engine_url in list(_ADMIN_ENGINES):
        _dispose_admin_engine(engine_url)


def create_database(admin_url: str) -> str:
    """Create an empty database with a unique name; returns its URL."""
    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:16]}"
    with admin_engine(admin_url).connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    """Drop a database made by ``create_database``, disconnecting anyone still attached to it."""
    name = make_url(url).database
    assert name and name.startswith(DATABASE_PREFIX), name
    _dispose_admin_engine(url)
    with admin_engine(admin_url).connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def create_schema(database_url: str) -> str:
    """Create an empty schema in a database; returns a URL whose connections use only that schema.

    The URL sets ``search_path`` to the schema and tags connections with ``application_name`` = schema name,
    so ``drop_schema`` can disconnect whatever a test left open.
    """
    name = f"t_{uuid.uuid4().hex[:16]}"
    with admin_engine(database_url).connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    url = make_url(database_url).update_query_dict({"options": f"-csearch_path={name}", "application_name": name})
    return url.render_as_string(hide_password=False)


def drop_schema(url: str) -> None:
    """Disconnect the schema's connections and drop it with everything in it."""
    parsed = make_url(url)
    name = parsed.query["application_name"]
    assert isinstance(name, str) and name.startswith("t_"), name
    database_url = parsed.difference_update_query(["options", "application_name"]).render_as_string(hide_password=False)
    with admin_engine(database_url).connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": name},
        )
        conn.execute(text("SET lock_timeout = '60s'"))
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


@pytest.fixture(scope="session")
def postgres_database(postgres_admin_url: str) -> Iterator[str]:
    """One throwaway database for the session (each test gets a schema of its own in it)."""
    url = create_database(postgres_admin_url)
    yield url
    drop_database(postgres_admin_url, url)


@pytest.fixture
def postgres_url(postgres_database: str) -> Iterator[str]:
    """An empty PostgreSQL catalog location for one test: a fresh schema, dropped afterwards.

    A schema rather than a database per test: CREATE DATABASE costs about half a second, CREATE SCHEMA a
    millisecond. Connections made from this URL see only that schema (``search_path``).
    """
    url = create_schema(postgres_database)
    try:
        yield url
    finally:
        drop_schema(url)


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'catalog.sqlite'}"


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.integration)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty catalog database, once per backend (test ids ``[sqlite]`` / ``[postgresql]``)."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return str(request.getfixturevalue("postgres_url"))


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get(ENV_VAR, "").strip()
    if not url:
        return f"postgresql: {ENV_VAR} not set" + (" (CI: PostgreSQL tests will fail)" if in_ci() else "")
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        shown = "(unparsable URL)"
    return f"postgresql: {shown}"
