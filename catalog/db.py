"""Opening a catalog: engine set-up (SQLite WAL or PostgreSQL), schema creation and version checks.

Everything here is safe with several processes on one database: schema creation and migrations run under a
database-wide lock (``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on PostgreSQL), and
meta writes are single atomic upserts, so two processes opening a fresh database, or bumping the same
generation, never collide.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    MetaData,
    Table,
    Text,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Insert

from ..errors import LibraryError, SchemaVersionError
from .models import SCHEMA_VERSION, Base, Meta

# Migrations from version N to N+1, applied in order (under the schema lock, in one transaction) when an
# older catalog is opened. Each gets a session joined to that transaction and must not commit it.
# A new table needs no entry: opening a catalog that lacks one of the models' tables creates it under the
# schema lock (``_missing_tables``), as for ``api_keys`` (keys of the REST service).
MIGRATIONS: dict[int, Callable[[Session], None]] = {}

SCHEMA_VERSION_KEY = "schema_version"
# A random id made when the catalog is created; index sidecars record it, so an index of another library is
# recognised at open (``Catalog.library_id``).
LIBRARY_ID_KEY = "library_id"
# Key of the PostgreSQL advisory lock held while creating or migrating the schema (any constant will do).
_PG_SCHEMA_LOCK = 0x6D6D726167  # "mmrag"
_META = Meta.__table__


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout so readers and a writer coexist."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "handle_error", _map_damage)
        return engine
    connect_args = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a committed batch survives a power cut (one fsync per commit)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


class CatalogCorruptError(LibraryError):
    """The catalog's database file is damaged (SQLite: malformed, not a database, I/O error)."""


# SQLite's messages for a damaged database file (sqlite3 gives no error codes before Python 3.11's
# ``sqlite_errorname``, and those are not kept by every driver wrapper).
DAMAGE_MESSAGES = ("database disk image is malformed", "file is not a database", "disk i/o error",
                   "malformed database schema")


def is_damage(exc: BaseException) -> bool:
    """True when ``exc`` (a DBAPI or SQLAlchemy error) says the database file itself is damaged."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(message in text for message in DAMAGE_MESSAGES)


def damage_error(where: str, why: str) -> CatalogCorruptError:
    """The error for a damaged catalog: what happened and both ways out."""
    return CatalogCorruptError(
        f"the catalog {where} is damaged ({why}). Restore it from a backup (`mmrag restore BACKUP_FOLDER`), "
        "or run `mmrag doctor --salvage` to build a new catalog from what is still readable (the damaged "
        "file is kept next to it)"
    )


def _map_damage(context) -> None:  # type: ignore[no-untyped-def]
    """Engine ``handle_error`` hook: every statement that meets a damaged file raises CatalogCorruptError."""
    original = context.original_exception
    if is_damage(original):
        url = context.engine.url if context.engine is not None else "?"
        where = url.database if getattr(url, "database", None) else str(url)
        raise damage_error(str(where), str(original).splitlines()[0])


_META_VALUE = select(Meta.value).where(Meta.key == bindparam("key"))


class Catalog:
    """The library's database: a session factory plus the small key/value facts kept in ``meta``."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._sessions, "before_commit", self._bump_marked)
        try:
            self._prepare_schema(create)
        except CatalogCorruptError:
            self.engine.dispose()
            raise
        except DatabaseError as exc:
            self.engine.dispose()
            if is_damage(exc):
                raise damage_error(self.safe_url, str(exc.orig or exc).splitlines()[0]) from None
            raise LibraryError(f"cannot open catalog {self.safe_url}: {exc.orig or exc}") from exc
        except BaseException:
            self.engine.dispose()
            raise

    def _prepare_schema(self, create: bool) -> None:
        """Check the schema without a lock; create, migrate or complete it under the schema lock if needed."""
        with self.engine.connect() as conn:
            version = _read_version(conn)
            if version is None and not create:
                raise LibraryError(f"no mmrag catalog at {self.safe_url}")
            if version is not None:
                self._check_not_newer(version)
                if version == SCHEMA_VERSION and not _missing_tables(conn) and not _stale_derived_tables(conn):
                    return
        with self.engine.connect() as conn:
            _lock_schema(conn)
            self._create_or_upgrade(conn)
            conn.commit()

    def _create_or_upgrade(self, conn: Connection) -> None:
        version = _read_version(conn)  # again: another process may have done it while we waited
        if version is None:
            _create_tables(conn)
            conn.execute(insert(_META).values(key=SCHEMA_VERSION_KEY, value=str(SCHEMA_VERSION)))
            conn.execute(insert(_META).values(key=LIBRARY_ID_KEY, value=uuid.uuid4().hex))
            return
        self._check_not_newer(version)
        while version < SCHEMA_VERSION:
            migrate = MIGRATIONS.get(version)
            if migrate is None:
                raise SchemaVersionError(
                    f"catalog {self.safe_url} has schema version {version}, which this mmrag cannot migrate"
                )
            with Session(bind=conn) as session:
                migrate(session)
                session.flush()
            version += 1
            _write_meta(conn, SCHEMA_VERSION_KEY, str(version))
        for table in _stale_derived_tables(conn):
            table.drop(conn)  # made again just below, filled again from the files when next needed
        _create_tables(conn)  # tables added without a schema bump (idempotent)

    def _check_not_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"catalog {self.safe_url} has schema version {version}, newer than this mmrag "
                f"(supports {SCHEMA_VERSION}); upgrade mmrag to open it"
            )

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql`` (the SQLAlchemy dialect name)."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any exception."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def get_meta(self, key: str) -> str | None:
        """One key's value, read with a plain statement (no ORM session: searches read the generations of
        their spaces on every query; built once, the statement is only looked up in SQLAlchemy's cache:
        1.3 → 0.1 ms a read)."""
        with self.engine.connect() as conn:
            return conn.execute(_META_VALUE, {"key": key}).scalar_one_or_none()

    def set_meta(self, key: str, value: str, session: Session | None = None) -> None:
        """Insert or replace one key (an atomic upsert: concurrent first writers do not collide)."""
        if session is None:
            with self.session() as own:
                self.set_meta(key, value, own)
            return
        _write_meta(session.connection(), key, value)
        _expire_cached(session, key)

    def bump_generation(self, session: Session, space: str) -> int:
        """Mark the vectors of a space as changed, in the caller's transaction; returns the new generation.

        Index sidecars record the generation they reflect; a mismatch at load time means the index must be
        brought up to date from the vectors table. The increment is one atomic statement (an upsert that
        adds 1 to the stored value), so concurrent writers never lose a bump: on PostgreSQL the second
        writer waits on the row lock until the first commits or rolls back. The row stays locked until the
        caller's transaction ends, so bump late in a transaction, and bump several spaces in a fixed order
        (``SPACES``) to avoid deadlocks between writers.
        """
        key = f"vectors_generation:{space}"
        value = _increment_meta(session.connection(), key)
        _expire_cached(session, key)
        return value

    def mark_changed(self, session: Session, space: str) -> None:
        """Bump ``space``'s generation when this session commits: late in the transaction and in the fixed
        ``SPACES`` order, so concurrent writers on PostgreSQL hold the generation rows briefly and never
        deadlock on them."""
        session.info.setdefault(_CHANGED, set()).add(space)

    def _bump_marked(self, session: Session) -> None:
        changed = session.info.pop(_CHANGED, set())
        for space in sorted(changed, key=_space_order):
            self.bump_generation(session, space)

    def generation(self, space: str) -> int:
        return int(self.get_meta(f"vectors_generation:{space}") or 0)

    def library_id(self) -> str:
        """This library's id (made on first use for catalogs older than ids: one atomic insert-if-absent)."""
        value = self.get_meta(LIBRARY_ID_KEY)
        if value is None:
            with self.engine.begin() as conn:
                _insert_if_absent(conn, LIBRARY_ID_KEY, uuid.uuid4().hex)
            value = self.get_meta(LIBRARY_ID_KEY)
        return str(value)

    def checkpoint(self, busy_timeout_ms: int = 5000) -> tuple[int, int, int] | None:
        """SQLite: copy the WAL into the main file and truncate it (``wal_checkpoint(TRUNCATE)``), so
        ``catalog.sqlite`` alone holds every committed write. Returns SQLite's (busy, wal pages,
        checkpointed pages); busy = 1 when readers kept it from finishing (the WAL then still holds the
        rest, safely). Waits at most ``busy_timeout_ms`` for readers. None on other databases."""
        if self.dialect != "sqlite":
            return None
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            try:
                row = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.exec_driver_sql("PRAGMA busy_timeout=60000")
        return (int(row[0]), int(row[1]), int(row[2])) if row is not None else None

    def quick_check(self, limit: int = 20) -> list[str]:
        """SQLite's ``PRAGMA quick_check``: [] for a sound file, else its first problems (damage raised
        while checking is reported as a problem too). Always [] on other databases."""
        if self.dialect != "sqlite":
            return []
        try:
            with self.engine.connect() as conn:
                rows = conn.exec_driver_sql(f"PRAGMA quick_check({int(limit)})").fetchall()
        except (CatalogCorruptError, DatabaseError) as exc:
            return [str(exc)]
        problems = [str(row[0]) for row in rows]
        return [] if problems == ["ok"] else problems

    def require_sound(self) -> None:
        """Raise CatalogCorruptError when ``quick_check`` finds damage (before work that trusts every row)."""
        problems = self.quick_check(limit=5)
        if problems:
            raise damage_error(self.safe_url, problems[0])

    def dispose(self) -> None:
        """Close every pooled connection (on SQLite the last close also checkpoints the WAL)."""
        self.engine.dispose()


_CHANGED = "mmrag_changed_spaces"


def _space_order(space: str) -> tuple[int, str]:
    from .models import SPACES

    return (SPACES.index(space) if space in SPACES else len(SPACES), space)


def _read_version(conn: Connection) -> int | None:
    """The stored schema version, 0 when ``meta`` has none, None when there is no catalog at all."""
    if not inspect(conn).has_table(_META.name):
        return None
    value = conn.execute(select(_META.c.value).where(_META.c.key == SCHEMA_VERSION_KEY)).scalar_one_or_none()
    return int(value or 0)


def _missing_tables(conn: Connection) -> set[str]:
    return set(Base.metadata.tables) - set(inspect(conn).get_table_names())


def _stale_derived_tables(conn: Connection) -> list[Table]:
    """Tables of derived data (``info={"derived": True}``: recomputed from the files when rows are missing) whose
    columns differ from the model's, as an older mmrag made them: they are dropped and made again."""
    inspector = inspect(conn)
    present = set(inspector.get_table_names())
    return [table for table in Base.metadata.tables.values()
            if table.info.get("derived") and table.name in present
            and {column["name"] for column in inspector.get_columns(table.name)} != set(table.columns.keys())]


def _create_tables(conn: Connection) -> None:
    """``create_all`` on a copy of the metadata.

    On backends with ALTER, SQLAlchemy adds the ``use_alter`` foreign key (assets.source_chunk_id) after
    CREATE TABLE and marks the constraint object to be left out of CREATE TABLE from then on; on the shared
    metadata that mark would make a later SQLite catalog in the same process lack that foreign key.
    """
    copy = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(copy)
    copy.create_all(conn)


def _lock_schema(conn: Connection) -> None:
    """Serialise schema creation/migration between processes until ``conn``'s transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK)))
    elif conn.dialect.name == "sqlite":
        # pysqlite leaves DDL and SELECT outside transactions unless one is open: open a write one now.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _upsert(conn: Connection, values: dict[str, str]) -> Insert | None:
    """An ``INSERT … ON CONFLICT (key)`` statement for the backends that have one, else None."""
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        return None
    return dialect_insert(_META).values(values)


def _write_meta(conn: Connection, key: str, value: str) -> None:
    stmt = _upsert(conn, {"key": key, "value": value})
    if stmt is not None:
        conn.execute(stmt.on_conflict_do_update(index_elements=[_META.c.key], set_={"value": value}))  # type: ignore[attr-defined]
        return
    if conn.execute(update(_META).where(_META.c.key == key).values(value=value)).rowcount == 0:
        _insert_or_retry(conn, key, value, update(_META).where(_META.c.key == key).values(value=value))


def _increment_meta(conn: Connection, key: str) -> int:
    plus_one = cast(cast(_META.c.value, BigInteger) + 1, Text)
    stmt = _upsert(conn, {"key": key, "value": "1"})
    if stmt is not None:
        stmt = stmt.on_conflict_do_update(index_elements=[_META.c.key], set_={"value": plus_one})  # type: ignore[attr-defined]
        if conn.dialect.insert_returning:
            return int(conn.execute(stmt.returning(_META.c.value)).scalar_one())
        conn.execute(stmt)  # SQLite before 3.35: no RETURNING, but the row is ours until commit
        return int(conn.execute(select(_META.c.value).where(_META.c.key == key)).scalar_one())
    bump = update(_META).where(_META.c.key == key).values(value=plus_one)
    if conn.execute(bump).rowcount == 0:
        _insert_or_retry(conn, key, "1", bump)
    return int(conn.execute(select(_META.c.value).where(_META.c.key == key)).scalar_one())


def _insert_if_absent(conn: Connection, key: str, value: str) -> None:
    stmt = _upsert(conn, {"key": key, "value": value})
    if stmt is not None:
        conn.execute(stmt.on_conflict_do_nothing(index_elements=[_META.c.key]))  # type: ignore[attr-defined]
        return
    if conn.execute(select(_META.c.key).where(_META.c.key == key)).first() is None:
        _insert_or_retry(conn, key, value, select(_META.c.key))


def _insert_or_retry(conn: Connection, key: str, value: str, on_conflict: object) -> None:
    """Generic fallback: insert in a savepoint; if another writer inserted first, run ``on_conflict``."""
    from sqlalchemy.exc import IntegrityError

    try:
        with conn.begin_nested():
            conn.execute(insert(_META).values(key=key, value=value))
    except IntegrityError:
        conn.execute(on_conflict)  # type: ignore[call-overload]


def _expire_cached(session: Session, key: str) -> None:
    """Forget a Meta row the session may hold, since it was changed behind the ORM's back."""
    cached = session.identity_map.get(session.identity_key(Meta, key))
    if cached is not None:
        session.expire(cached)
