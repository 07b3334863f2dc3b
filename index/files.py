"""Index files on disk: ``<name>.faiss`` plus a ``<name>.json`` sidecar, both written atomically.

The index is written first (temp file in the same folder, fsync, ``os.replace``, fsync of the folder), then
the sidecar the same way, so a sidecar always describes a complete file. The sidecar holds a CRC-32 of the
index file (zlib, ~3.7 GB/s, streamed while writing); it is verified *before* FAISS parses a byte, so a
truncated or edited file raises IndexCorruptError instead of crashing inside FAISS. A file that passed the
full check is stamped (``<name>.verified``) and later opens of the same, unchanged file in the same boot
check only its size and stamp.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import IndexCorruptError
from ..extras import optional_import
from .refine import split_refine

faiss = optional_import("faiss")  # from the cpu or gpu extra

FORMAT_VERSION = 1
CHUNK = 8 << 20
REQUIRED = ("format_version", "dim", "metric", "spec", "count", "size", "checksum", "generation")


def sidecar_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def write_index(index: faiss.Index, path: Path, sidecar: dict[str, Any]) -> dict[str, Any]:
    """Write ``index`` (CPU form) and then its sidecar; returns the sidecar as written."""
    path = Path(path)
    state = {"crc": 0, "size": 0}

    def write(f: BinaryIO) -> None:
        def sink(chunk: bytes) -> None:
            state["crc"] = zlib.crc32(chunk, state["crc"])
            state["size"] += len(chunk)
            f.write(chunk)

        writer = faiss.PyCallbackIOWriter(sink)
        faiss.write_index(index, writer)
        del writer  # flushes FAISS's buffer into sink

    _atomic_write(path, write)
    return write_sidecar(path, {**sidecar, "size": state["size"], "checksum": f"crc32:{state['crc']:08x}"})


def write_sidecar(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Atomically write the sidecar of ``path``. Alone (without an index file) it serves backends whose vectors
    live elsewhere (Milvus): they record size 0 and no checksum."""
    meta = {"format_version": FORMAT_VERSION, "size": 0, "checksum": "none", **meta}
    payload = json.dumps(meta, indent=1, sort_keys=True).encode()
    _atomic_write(sidecar_path(path), lambda f: f.write(payload))
    return meta


def corrupt_error(path: Path, why: str) -> IndexCorruptError:
    """The error for a damaged index file: names the file and the way out."""
    return IndexCorruptError(f"index file {path} is damaged or out of date ({why}); run `mmrag rebuild` "
                             "to rebuild it from the catalog")


def read_sidecar(path: Path) -> dict[str, Any]:
    """The sidecar of ``path``; a missing, unreadable or incomplete one raises IndexCorruptError."""
    side = sidecar_path(path)
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise corrupt_error(path, f"sidecar {side.name} is missing") from None
    except (OSError, ValueError) as exc:
        raise corrupt_error(path, f"sidecar {side.name} is unreadable: {exc}") from None
    if not isinstance(meta, dict) or any(key not in meta for key in REQUIRED):
        raise corrupt_error(path, f"sidecar {side.name} lacks {[k for k in REQUIRED if k not in meta]}")
    if meta["format_version"] != FORMAT_VERSION:
        raise corrupt_error(path, f"format version {meta['format_version']!r}, this mmrag reads {FORMAT_VERSION}")
    return meta


def _checksum(f: BinaryIO) -> tuple[str, int]:
    crc, size = 0, 0
    while chunk := f.read(CHUNK):
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
    return f"crc32:{crc:08x}", size


def read_index(path: Path, *, attempts: int = 6, mmap: bool = False,
               full_check: bool = False) -> tuple[faiss.Index, dict[str, Any]]:
    """Check the file against its sidecar, then parse it; any mismatch raises IndexCorruptError.

    The full CRC runs when the file has no valid verification stamp (see :func:`stamp_matches`): after every
    write, copy or edit, after a reboot (an unclean shutdown included), or with ``full_check``. Otherwise the
    checks cost microseconds: size against the sidecar and the stamp (count and generation are checked by the
    callers). ``mmap``: IVF inverted lists are memory-mapped (FAISS IO_FLAG_MMAP) instead of read, so opening
    costs no read of the vectors; such an index is read-only until ``FaissIndex`` copies the lists in.

    A writer replaces the index before its sidecar, so a reader can briefly see an old sidecar with a new
    file: a mismatch is retried with a fresh sidecar, after a growing pause (50 ms doubling, ~1.5 s in all,
    longer than a writer's gap between the two renames), before it is reported.
    """
    path = Path(path)
    why = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.05 * 2 ** (attempt - 1))
        meta = read_sidecar(path)
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise corrupt_error(path, "index file is missing") from None
        with f:
            stat = os.fstat(f.fileno())
            if stat.st_size != meta["size"]:
                why = f"{stat.st_size} bytes on disk, sidecar says {meta['size']}"
                continue
            if full_check or not stamp_matches(path, stat, meta["checksum"]):
                checksum, _ = _checksum(f)
                if checksum != meta["checksum"]:
                    why = f"checksum {checksum} does not match sidecar {meta['checksum']}"
                    continue
                write_stamp(path, stat, checksum)
            f.seek(0)
            return (_parse_mapped(f, path, _mmap_flags(meta["spec"])) if mmap else _parse(f, path)), meta
    raise corrupt_error(path, why)


# -- verification stamps ------------------------------------------------------------------------------------
# ``<name>.verified`` records that this exact file (device, inode, size, mtime, ctime) passed the full CRC
# during this boot. Any write, copy, restore or edit changes the inode or the times; a reboot changes the boot
# id. Like git's racy-index rule, a file changed less than RACY_NS before it was checked is never trusted
# (a same-tick edit could keep its times). `doctor` (verify_file) always reads the whole file.

RACY_NS = 2_000_000_000
_STAMP_KEYS = ("st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns")


def stamp_path(path: Path) -> Path:
    return Path(path).with_suffix(".verified")


def boot_id() -> str:
    """Changes at every boot: /proc's boot id on Linux, else the boot time to the minute."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return str(round((time.time() - time.monotonic()) / 60))


def _stamp(stat: os.stat_result, checksum: str) -> dict[str, Any]:
    return {**{key: getattr(stat, key) for key in _STAMP_KEYS}, "boot": boot_id(), "checksum": checksum}


def stamp_matches(path: Path, stat: os.stat_result, checksum: str) -> bool:
    try:
        recorded = json.loads(stamp_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict) or recorded.get("verified_ns", 0) < stat.st_ctime_ns + RACY_NS:
        return False
    return all(recorded.get(key) == value for key, value in _stamp(stat, checksum).items())


def write_stamp(path: Path, stat: os.stat_result, checksum: str) -> None:
    """Record a passed full check (skipped while the file is racy, or where the folder is read-only)."""
    now = time.time_ns()
    if now < stat.st_ctime_ns + RACY_NS:
        return
    payload = json.dumps({**_stamp(stat, checksum), "verified_ns": now}).encode()
    try:
        target = stamp_path(path)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.write_bytes(payload)
        os.replace(tmp, target)
    except OSError:
        pass  # a reader without write access checks in full every time


def _mmap_flags(spec: str) -> int:
    """IVF lists are mapped; a refine index's store of flat codes too (FaissIndex copies it in before a change,
    which other flat-code indexes, HNSW storage included, do not do: theirs stay read)."""
    return faiss.IO_FLAG_MMAP | (faiss.IO_FLAG_MMAP_IFC if split_refine(spec) else 0)


def _parse_mapped(f: BinaryIO, path: Path, flags: int) -> faiss.Index:
    """FAISS reads the already checked open file (through /proc/self/fd where it exists) memory-mapped."""
    name = f"/proc/self/fd/{f.fileno()}"
    if not os.path.exists(name):
        return _parse(f, path)
    try:
        return faiss.read_index(name, flags)
    except RuntimeError as exc:
        raise corrupt_error(path, f"FAISS cannot read it: {str(exc).splitlines()[-1][:160]}") from None


def _parse(f: BinaryIO, path: Path) -> faiss.Index:
    reader = faiss.PyCallbackIOReader(f.read)
    try:
        return faiss.read_index(reader)
    except RuntimeError as exc:
        raise corrupt_error(path, f"FAISS cannot read it: {str(exc).splitlines()[-1][:160]}") from None
    finally:
        del reader


# -- binding an index to its library (reliability) ----------------------------------------------------------
# The sidecar records the catalog's library id (``Catalog.library_id``); an index copied from another library
# is then recognised at open even when its generation happens to match.

def check_library(path: Path, meta: dict[str, Any], library_id: str | None) -> None:
    """Raise IndexCorruptError when the sidecar names another library (sidecars without an id pass)."""
    recorded = meta.get("library_id")
    if recorded is not None and library_id is not None and recorded != library_id:
        raise corrupt_error(path, f"it belongs to another library (id {recorded}, this catalog is {library_id})")


def verify_file(path: Path, library_id: str | None = None) -> str | None:
    """Why the index pair at ``path`` cannot be used as it is (sidecar, size, checksum, library), or None.

    Reads the whole file once (CRC-32, ~3.7 GB/s) but never parses it: cheap enough for a writer to check
    every index it did not load before it finishes.
    """
    path = Path(path)
    if not path.exists() and not sidecar_path(path).exists():
        return None
    try:
        meta = read_sidecar(path)
        check_library(path, meta, library_id)
        if meta.get("backend", "faiss") != "faiss":
            return None  # no file here: the vectors live in the backend's server, checked when it is opened
        with open(path, "rb") as f:
            checksum, size = _checksum(f)
    except IndexCorruptError as exc:
        return str(exc)
    except OSError as exc:
        return f"index file {path} is unreadable: {exc.strerror or exc}"
    if size != meta["size"] or checksum != meta["checksum"]:
        return f"index file {path} does not match its sidecar ({size} bytes, {checksum})"
    return None
