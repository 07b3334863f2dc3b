"""Opening a catalog: engine set-up (SQLite WAL or PostgreSQL), schema creation and version checks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import LibraryError, SchemaVersionError
from .models import SCHEMA_VERSION, Base, Meta

# Migrations from version N to N+1, applied in order when an older catalog is opened.
MIGRATIONS: dict[int, object] = {}


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout so readers and a writer coexist."""
    if url.startswith("sqlite"):
        database = url.split(":///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


class Catalog:
    """The library's database: a session factory plus the small key/value facts kept in ``meta``."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._prepare_schema(create)

    def _prepare_schema(self, create: bool) -> None:
        has_meta = inspect(self.engine).has_table("meta")
        if not has_meta:
            if not create:
                raise LibraryError(f"no mmrag catalog at {self.safe_url}")
            Base.metadata.create_all(self.engine)
            self._init_version()
            return
        version = int(self.get_meta("schema_version") or 0)
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"catalog {self.safe_url} has schema version {version}, newer than this mmrag "
                f"(supports {SCHEMA_VERSION}); upgrade mmrag to open it"
            )
        while version < SCHEMA_VERSION:
            migrate = MIGRATIONS.get(version)
            if migrate is None:
                raise SchemaVersionError(
                    f"catalog {self.safe_url} has schema version {version}, which this mmrag cannot migrate"
                )
            with self.session() as session:
                migrate(session)  # type: ignore[operator]
                version += 1
                session.merge(Meta(key="schema_version", value=str(version)))
        Base.metadata.create_all(self.engine)  # tables added without a schema bump (idempotent)

    def _init_version(self) -> None:
        try:
            with self.session() as session:
                session.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
        except IntegrityError:  # another process created it at the same moment
            pass

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

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
        with self.session() as session:
            row = session.get(Meta, key)
            return row.value if row else None

    def set_meta(self, key: str, value: str, session: Session | None = None) -> None:
        if session is None:
            with self.session() as own:
                own.merge(Meta(key=key, value=value))
        else:
            session.merge(Meta(key=key, value=value))

    def bump_generation(self, session: Session, space: str) -> None:
        """Mark the vectors of a space as changed, inside the caller's transaction.

        Index sidecars record the generation they reflect; a mismatch at load time means the index must be
        brought up to date from the vectors table.
        """
        key = f"vectors_generation:{space}"
        result = session.execute(
            update(Meta).where(Meta.key == key).values(value=str(_next_generation(session, key)))
        )
        if result.rowcount == 0:
            session.add(Meta(key=key, value="1"))

    def generation(self, space: str) -> int:
        return int(self.get_meta(f"vectors_generation:{space}") or 0)

    def dispose(self) -> None:
        self.engine.dispose()


def _next_generation(session: Session, key: str) -> int:
    current = session.execute(select(Meta.value).where(Meta.key == key)).scalar_one_or_none()
    return int(current or 0) + 1
