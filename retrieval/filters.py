"""Search filters, turned into SQL over the catalog so they select ids before the vector search."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from ..catalog.models import KINDS, OK, Asset, AssetTag, Chunk, OcrText, Tag


@dataclass(frozen=True)
class Filters:
    """What a result must satisfy. Folder and path patterns are globs (``*``, ``?``).

    Globs ignore case (the same on SQLite and PostgreSQL); ``*`` also crosses ``/``. A folder includes its files
    and sub-folders, and a relative folder pattern matches at any depth: ``"2024"``, ``"2024/"`` and
    ``"2024/*"`` all select everything under any folder named 2024; ``"2024/0*"`` its sub-folders whose names
    start with 0 (and their files); ``"/data/2024"`` only that absolute folder.
    Dates compare with the photo's EXIF date when it has one, else the file's modification time.
    """

    kind: tuple[str, ...] = ()
    folder: str | None = None
    path: str | None = None
    after: datetime | None = None
    before: datetime | None = None
    min_size: int | None = None
    max_size: int | None = None
    tags: tuple[str, ...] = ()
    ids: tuple[int, ...] = field(default=())
    has_text: bool | None = None  # True: OCR found text in the image; False: read, or not read, and none found

    @classmethod
    def parse(cls, value: Filters | Mapping[str, Any] | None) -> Filters:
        if value is None:
            return cls()
        if isinstance(value, Filters):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"filters must be a dict or Filters, got {type(value).__name__}")
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - valid)
        if unknown:
            raise ValueError(f"unknown filter(s) {unknown}; valid filters: {sorted(valid)}")
        return cls(
            kind=_kinds(value.get("kind")),
            folder=_optional_str(value, "folder"),
            path=_optional_str(value, "path"),
            after=_datetime(value.get("after"), "after"),
            before=_datetime(value.get("before"), "before"),
            min_size=_optional_int(value, "min_size"),
            max_size=_optional_int(value, "max_size"),
            tags=_strings(value.get("tags"), "tags"),
            ids=tuple(_id(i) for i in value.get("ids") or ()),
            has_text=_optional_bool(value, "has_text"),
        )

    @property
    def is_empty(self) -> bool:
        return self == Filters()

    def with_kind(self, *kinds: str) -> Filters:
        return Filters(**{**self.__dict__, "kind": tuple(kinds)})

    def conditions(self) -> list[Any]:
        """SQL conditions on Asset (status ok is always required)."""
        conds: list[Any] = [Asset.status == OK]
        if self.kind:
            conds.append(Asset.kind.in_(self.kind))
        if self.folder:
            conds.append(_folder_condition(self.folder))
        if self.path:
            conds.append(_glob_condition(Asset.path, self.path))
        date_col = func.coalesce(Asset.taken_at, Asset.created_at)  # ingest fills taken_at (EXIF or mtime)
        if self.after:
            conds.append(date_col >= self.after)
        if self.before:
            conds.append(date_col < self.before)
        if self.min_size is not None:
            conds.append(Asset.size >= self.min_size)
        if self.max_size is not None:
            conds.append(Asset.size <= self.max_size)
        for tag in self.tags:
            conds.append(
                Asset.id.in_(select(AssetTag.asset_id).join(Tag, Tag.id == AssetTag.tag_id).where(Tag.name == tag))
            )
        if self.ids:
            conds.append(Asset.id.in_(self.ids))
        if self.has_text is not None:
            with_text = Asset.id.in_(select(OcrText.asset_id).where(OcrText.has_text.is_(True)))
            conds.append(with_text if self.has_text else ~with_text)
        return conds

    def asset_ids(self) -> Select:
        return select(Asset.id).where(and_(*self.conditions()))

    def chunk_ids(self) -> Select:
        return select(Chunk.id).join(Asset, Asset.id == Chunk.asset_id).where(and_(*self.conditions()))


def _like_pattern(glob: str) -> str:
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _glob_condition(column: Any, glob: str) -> Any:
    pattern = _like_pattern(glob.rstrip("/"))
    if glob.startswith("/"):
        return column.ilike(pattern, escape="\\")
    return or_(column.ilike(pattern, escape="\\"), column.ilike("%/" + pattern, escape="\\"))


def _folder_condition(glob: str) -> Any:
    """The folder itself, anything below it, or a file the pattern names as a path ("photos/*")."""
    return or_(_glob_condition(Asset.folder, glob), _glob_condition(Asset.folder, glob.rstrip("/") + "/*"),
               _glob_condition(Asset.path, glob))


def _kinds(value: Any) -> tuple[str, ...]:
    kinds = _strings(value, "kind")
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown kind {bad[0]!r}; valid kinds: {list(KINDS)}")
    return kinds


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, set)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise TypeError(f"filter {name!r} must be a string or a list of strings, got {value!r}")


def _optional_str(mapping: Mapping[str, Any], name: str) -> str | None:
    value = mapping.get(name)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"filter {name!r} must be a string, got {value!r}")
    return value or None


MAX_INT64 = 2**63 - 1


def _id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT64:
        raise ValueError(f"filter 'ids' must hold item ids (integers from 0 to 2**63-1), got {value!r}")
    return value


def _optional_int(mapping: Mapping[str, Any], name: str) -> int | None:
    value = mapping.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT64:
        raise ValueError(f"filter {name!r} must be a non-negative integer of bytes (at most 2**63-1), got {value!r}")
    return value


def _optional_bool(mapping: Mapping[str, Any], name: str) -> bool | None:
    value = mapping.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise TypeError(f"filter {name!r} must be true or false, got {value!r}")


def _datetime(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return _datetime(datetime.fromisoformat(value), name)
        except ValueError:
            pass
    raise ValueError(f"filter {name!r} must be an ISO date such as '2024-05-01', got {value!r}")
