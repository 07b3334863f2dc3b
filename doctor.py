"""``mmrag doctor``: check a library's derived data against its catalog, and repair what is safe to repair.

The catalog (assets, chunks and the ``vectors`` table) is the truth; index files, thumbnails and temporary
files are derived from it or from the files on disk. ``diagnose`` reads everything and changes nothing.
``fix`` and ``plan`` (in :mod:`mmrag.doctor_fix`, importable from here) repair what is safe to repair.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from .catalog import IMAGE_KINDS, IMAGE_SPACE, OK, SCHEMA_VERSION, SPACES, TEXT_SPACE, Asset, Chunk, Vector
from .catalog.db import SCHEMA_VERSION_KEY
from .catalog.vectors import load_vectors, space_model, vector_ids
from .components import Components, models_pinned
from .errors import IndexCorruptError, MmragError
from .index.files import sidecar_path
from .library import Library
from .settings import SETTINGS_FILE, Settings

SAMPLE = 256  # index vectors compared with the stored ones
SHOWN = 20  # items listed per finding


@dataclass
class Finding:
    """One problem: what is wrong, how bad, and the way out (``fixable``: ``mmrag doctor --fix`` does it)."""

    check: str
    severity: str  # "error" | "warning"
    message: str
    remedy: str
    fixable: bool = False
    items: list[Any] = field(default_factory=list)
    space: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["count"], data["items"] = len(self.items), self.items[:SHOWN]
        return data


@dataclass
class Report:
    library: str
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, Any] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(f.severity == "error" for f in self.findings)

    def of(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def to_dict(self) -> dict[str, Any]:
        return {"library": self.library, "ok": self.ok, "checked": self.checked, "fixed": self.fixed,
                "findings": [f.to_dict() for f in self.findings]}


def open_library(library: str | os.PathLike[str] | None = None, **overrides: Any) -> Library:
    """Open a library for diagnosis, even when its models differ from the configured ones (that is a
    finding); schema and catalog errors still raise (nothing else can be read)."""
    follow = not models_pinned(overrides)  # as a plain open does: the recorded CLIP model wins
    if library is not None:
        overrides["library"] = library
    return Library(components=Components(Settings(**overrides), check_models=False, follow_recorded_clip=follow))


# -- diagnosis ------------------------------------------------------------------------------------------------

def diagnose(lib: Library, *, sample: int = SAMPLE) -> Report:
    from .catalog.db import CatalogCorruptError

    report = Report(str(lib.path))
    report.findings += _catalog_file(lib, report.checked, sample)
    if report.findings:  # a damaged catalog: the other checks would only repeat it
        return report
    for check in (_schema, _models, _index_files, _missing_vectors, _orphan_vectors, _missing_files,
                  _thumbnails, _temp_files):
        try:
            report.findings += check(lib, report.checked, sample)
        except CatalogCorruptError as exc:
            report.findings.append(Finding("catalog", "error", str(exc), SALVAGE_REMEDY))
            break
    return report


SALVAGE_REMEDY = ("restore the catalog from a backup (`mmrag restore BACKUP_FOLDER`), or "
                  "`mmrag doctor --salvage` to build a new catalog from what is still readable")


def _catalog_file(lib: Library, checked: dict[str, Any], _sample: int) -> list[Finding]:
    """SQLite's ``PRAGMA quick_check`` over the whole catalog file."""
    problems = lib.catalog.quick_check()
    checked["quick_check"] = problems[:5] or "ok"
    if not problems:
        return []
    return [Finding("catalog", "error", f"the catalog file is damaged (SQLite quick_check: {problems[0]})",
                    SALVAGE_REMEDY, items=problems)]


def _schema(lib: Library, checked: dict[str, Any], _sample: int) -> list[Finding]:
    version = int(lib.catalog.get_meta(SCHEMA_VERSION_KEY) or 0)
    checked["schema_version"] = version
    if version == SCHEMA_VERSION:
        return []
    return [Finding("schema", "error", f"catalog schema version {version}, this mmrag uses {SCHEMA_VERSION}",
                    "open the library with the mmrag version that wrote it, or upgrade mmrag")]


def _models(lib: Library, checked: dict[str, Any], _sample: int) -> list[Finding]:
    out = []
    configured = {IMAGE_SPACE: lib.components.configured_clip(), TEXT_SPACE: _text_fingerprint(lib)}
    with lib.catalog.session() as session:
        pairs = session.execute(select(Vector.space, Vector.model).distinct()).all()
    for space in SPACES:
        recorded = space_model(lib.catalog, space)
        checked[f"model:{space}"] = recorded
        if recorded and configured[space] and recorded != configured[space]:
            out.append(Finding("model", "error", f"{space} vectors were made by {recorded!r} but the configured "
                               f"model is {configured[space]!r}; searches would compare different spaces",
                               "leave out --clip-model/--clip-pretrained and MMRAG_CLIP_MODEL/MMRAG_CLIP_PRETRAINED "
                               "(a library uses the model it was made with), or ingest into a new library to use "
                               "the new model", space=space))
        if space == IMAGE_SPACE and recorded:
            out += _settings_file_model(lib, recorded)
        models = sorted(model for name, model in pairs if name == space)
        if recorded and any(m != recorded for m in models):
            out.append(Finding("model", "error", f"{space} vectors from several models are mixed: {models}",
                               "remove the affected files with `mmrag remove` and ingest them again",
                               space=space, items=models))
    return out


def _settings_file_model(lib: Library, recorded: str) -> list[Finding]:
    """mmrag.toml naming another CLIP model than the one the image vectors were made by (e.g. written by a
    first ingest that failed): harmless while the recorded model wins, but the file should tell the truth."""
    import tomllib

    from .models.clip import clip_fingerprint

    path = lib.path / SETTINGS_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return [Finding("settings-model", "warning", f"{path} cannot be read: {exc}", "fix or delete the file")]
    if "clip_model" not in data:
        return []
    pretrained = data.get("clip_pretrained", Settings.model_fields["clip_pretrained"].default)
    named = clip_fingerprint(str(data["clip_model"]), pretrained)
    if named == recorded:
        return []
    return [Finding("settings-model", "warning", f"{path} names the CLIP model {named!r}, but the image vectors "
                    f"were made by {recorded!r}", "`mmrag doctor --fix` writes the recorded model into it", True,
                    items=[named, recorded], space=IMAGE_SPACE)]


def _text_fingerprint(lib: Library) -> str | None:
    """The configured text model's fingerprint without loading it (as SentenceEmbedder.fingerprint)."""
    if not space_model(lib.catalog, TEXT_SPACE):
        return None
    try:
        from .models.sentence import resolve_sentence_model

        return resolve_sentence_model(lib.settings.rag.text_model).fingerprint
    except MmragError:
        return None


def _index_files(lib: Library, checked: dict[str, Any], sample: int) -> list[Finding]:
    out = []
    for space in SPACES:
        stored = vector_ids(lib.catalog, space)
        checked[f"vectors:{space}"] = len(stored)
        out += _index_file(lib, space, np.sort(stored), checked, sample)
    return out


def _index_file(lib: Library, space: str, stored: np.ndarray, checked: dict[str, Any],
                sample: int) -> list[Finding]:
    path = lib.indexes.path(space)
    rebuild = "`mmrag doctor --fix` (or `mmrag rebuild`) rebuilds it from the stored vectors"
    if not path.exists() and not sidecar_path(path).exists():
        return [Finding("index", "warning", f"{space} index has not been saved; every open rebuilds it from "
                        f"{len(stored)} stored vectors", rebuild, True, space=space)] if len(stored) else []
    try:
        index, meta = lib.indexes.backend.load(path)
    except IndexCorruptError as exc:
        return [Finding("index", "error", str(exc), rebuild, True, space=space)]
    checked[f"index:{space}"] = {"spec": index.spec, "count": len(index), "generation": meta.get("generation")}
    problem = _index_mismatch(lib, space, index, meta, stored, sample)
    if problem is None:
        return []
    severity, message = problem
    return [Finding("index", severity, f"{space} index {path}: {message}", rebuild, True, space=space)]


def _index_mismatch(lib: Library, space: str, index: Any, meta: dict[str, Any], stored: np.ndarray,
                    sample: int) -> tuple[str, str] | None:
    recorded = space_model(lib.catalog, space)
    catalog_generation = lib.catalog.generation(space)
    generation = int(meta.get("generation", -1))
    if meta.get("model") and recorded and meta["model"] != recorded:
        return "error", f"built from model {meta['model']!r}, the catalog's vectors come from {recorded!r}"
    if generation > catalog_generation:
        return "error", (f"sidecar generation {generation} is ahead of the catalog's {catalog_generation} "
                         "(the catalog was restored or rolled back, or the files come from another library)")
    extra, lacking = np.setdiff1d(index.ids(), stored), np.setdiff1d(stored, index.ids())
    if generation < catalog_generation:
        return "warning", (f"behind the catalog (generation {generation} < {catalog_generation}: {len(lacking)} "
                           f"to add, {len(extra)} to drop); brought up to date in memory on every open")
    if len(extra) or len(lacking):
        return "error", (f"sidecar claims generation {generation} but the index has {len(extra)} ids without "
                         f"a stored vector and lacks {len(lacking)} stored ones")
    wrong = _differing_vectors(lib, space, index, stored, sample)
    if wrong:
        return "error", (f"{len(wrong)} of {min(sample, len(stored))} sampled vectors differ from the stored "
                         f"ones (e.g. ids {wrong[:5]}): the file does not belong to this catalog")
    return None


def _differing_vectors(lib: Library, space: str, index: Any, stored: np.ndarray, sample: int) -> list[int]:
    """Ids whose index vector does not match the stored one (inner product below the spec's fidelity)."""
    if not len(stored):
        return []
    picks = np.random.default_rng(0).choice(stored, size=min(sample, len(stored)), replace=False)
    ids, vectors = load_vectors(lib.catalog, space, picks.tolist())
    floor = 0.7 if "PQ" in index.spec else 0.98  # PQ codes are lossy; Flat/SQ/HNSW are (near) exact
    wrong = []
    for item_id, vector in zip(ids.tolist(), vectors, strict=True):
        result = index.search(vector[None, :], 1, allowed_ids=np.asarray([item_id], dtype=np.int64))
        if int(result.ids[0, 0]) != item_id or float(result.scores[0, 0]) < floor:
            wrong.append(int(item_id))
    return wrong


def _missing_vectors(lib: Library, checked: dict[str, Any], _sample: int) -> list[Finding]:
    with lib.catalog.session() as session:
        images = select(Vector.item_id).where(Vector.space == IMAGE_SPACE)
        lacking = session.execute(select(Asset.id).where(Asset.status == OK, Asset.kind.in_(IMAGE_KINDS),
                                                         Asset.id.not_in(images))).scalars().all()
        texts = select(Vector.item_id).where(Vector.space == TEXT_SPACE)
        docs = session.execute(select(Chunk.asset_id).join(Asset, Asset.id == Chunk.asset_id)
                               .where(Asset.status == OK, Chunk.id.not_in(texts)).distinct()).scalars().all()
    remedy = "`mmrag doctor --fix` marks them changed; the next `mmrag ingest` of their folders re-embeds them"
    out = []
    if lacking:
        out.append(Finding("missing-vector", "error", f"{len(lacking)} ok images have no stored vector "
                           "(search cannot find them)", remedy, True, list(lacking), IMAGE_SPACE))
    if docs:
        out.append(Finding("missing-vector", "error", f"{len(docs)} documents have passages without a stored "
                           "vector", remedy, True, list(docs), TEXT_SPACE))
    return out


def _orphan_vectors(lib: Library, checked: dict[str, Any], _sample: int) -> list[Finding]:
    with lib.catalog.session() as session:
        owners = select(Asset.id).where(Asset.status == OK, Asset.kind.in_(IMAGE_KINDS))
        images = session.execute(select(Vector.item_id).where(Vector.space == IMAGE_SPACE,
                                                              Vector.item_id.not_in(owners))).scalars().all()
        chunks = select(Chunk.id).join(Asset, Asset.id == Chunk.asset_id).where(Asset.status == OK)
        texts = session.execute(select(Vector.item_id).where(Vector.space == TEXT_SPACE,
                                                             Vector.item_id.not_in(chunks))).scalars().all()
    out = []
    for space, ids in ((IMAGE_SPACE, images), (TEXT_SPACE, texts)):
        if ids:
            out.append(Finding("orphan-vector", "error", f"{len(ids)} {space} vectors belong to no ok item "
                               "(searches skip them)", "`mmrag doctor --fix` deletes them", True, list(ids), space))
    return out


def _missing_files(lib: Library, checked: dict[str, Any], _sample: int) -> list[Finding]:
    with lib.catalog.session() as session:
        rows = session.execute(select(Asset.id, Asset.path).where(Asset.status == OK)).all()
    gone = [(asset_id, path) for asset_id, path in rows if not os.path.exists(path)]
    checked["items"] = len(rows)
    if not gone:
        return []
    return [Finding("missing-file", "warning", f"{len(gone)} items point at files that no longer exist",
                    "`mmrag ingest` of their folders drops them; or `mmrag doctor --fix --prune-missing`",
                    True, [path for _, path in gone])]


def _thumbnails(lib: Library, checked: dict[str, Any], _sample: int) -> list[Finding]:
    from .ingest.images import thumbnail_path

    with lib.catalog.session() as session:
        rows = session.execute(select(Asset.path, Asset.sha256).where(
            Asset.status == OK, Asset.kind.in_(IMAGE_KINDS), Asset.sha256.is_not(None))).all()
    lacking = [path for path, sha in rows if not _nonempty(thumbnail_path(lib.path, sha))]
    if not lacking:
        return []
    return [Finding("thumbnail", "warning", f"{len(lacking)} pictures have no (or an empty) thumbnail",
                    "`mmrag doctor --fix` makes them again from the files that still exist", True, lacking)]


def _temp_files(lib: Library, checked: dict[str, Any], _sample: int) -> list[Finding]:
    leftovers = [p.as_posix() for folder in ("index", "thumbs") for p in (lib.path / folder).rglob("*.tmp")]
    if not leftovers:
        return []
    return [Finding("temp-file", "warning", f"{len(leftovers)} temporary files left by an interrupted writer",
                    "`mmrag doctor --fix` deletes them (under the write lock)", True, leftovers)]


def _nonempty(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def __getattr__(name: str) -> object:
    """``fix`` and ``plan`` live in :mod:`mmrag.doctor_fix` (imported on first use)."""
    if name in ("fix", "plan", "FIXERS", "PLANS"):
        from . import doctor_fix

        return getattr(doctor_fix, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Finding", "Report", "diagnose", "fix", "open_library", "plan"]  # noqa: F822 - fix, plan: __getattr__
