"""Choosing and checking FAISS factory strings (the ``spec`` of an index), in the spirit of autofaiss.

Thresholds come from measurements on 2 CPU cores (docs/benchmarks.md, "Index search"): an exact ``Flat``
scan costs about 0.3 ms per million floats per query, so it stays exact while ``n * dim <= FLAT_MAX_FLOATS``
(~5 ms); above that an IVF index answers in about a millisecond at recall@10 >= 0.95.

IVF lists hold float16 codes (``SQfp16``) rather than float32 (``Flat``): the catalog, the source of truth,
stores every vector as float16, so float32 codes add no precision, only twice the memory and twice the bytes
scanned per query (at 1 M x 512: 1.06 instead of 2.08 GB, and 0.6x the IVF search time at nprobe 256).

From ``REFINE_MIN_VECTORS`` on, the lists hold 4-bit fast-scan PQ codes (one per 2 dims, dim/4 bytes) and the
top ``k * DEFAULT_K_FACTOR`` candidates are re-scored from float16 copies (``IVF<n>,PQ<dim/2>x4fs,
Refine(SQfp16)``, index/refine.py): a query reads 1/8 of the bytes SQfp16 reads. See :func:`choose_spec`.
"""

from __future__ import annotations

import math
import re

from ..extras import optional_import
from .refine import build_refine, split_refine

faiss = optional_import("faiss")  # from the cpu or gpu extra

AUTO = "auto"
FLAT_MAX_FLOATS = 1 << 24  # n * dim: 32k vectors at 512 dims, 43k at 384
MIN_POINTS_PER_LIST = 39  # faiss k-means warns below 39 training points per centroid
MAX_NLIST = 1 << 16
ID_BYTES = 8  # int64 id stored per vector in an inverted list
MAP_BYTES = 48  # id -> position hash map per vector (IVF direct map, IndexIDMap2 reverse map)
PQ_M_CHOICES = (64, 48, 32, 24, 16, 8, 4)
DEFAULT_EF_SEARCH = 128  # HNSW: reaches recall@10 >= 0.95 on the benchmark data
DEFAULT_K_FACTOR = 8  # Refine(...): candidates re-scored per result (see choose_spec)
REFINE_MIN_VECTORS = 200_000  # fast scan + re-rank from here on (see choose_spec)
FAST_SCAN_DIMS = 2  # dims per 4-bit fast-scan PQ code (see choose_spec)

EXAMPLES = ("Flat", "IVF1024,Flat", "IVF4096,SQ8", "IVF4096,PQ64", "HNSW32", "OPQ64,IVF4096,PQ64")
_IVF = re.compile(r"IVF(\d+)")
_PQ = re.compile(r"(?<![A-Za-z])PQ(\d+)(?:x(\d+))?")
_FAST = re.compile(r"fsr?")


def _bad_spec(spec: object, why: str) -> ValueError:
    return ValueError(f"invalid index spec {spec!r} ({why}); use 'auto' or a FAISS factory string such as "
                      + ", ".join(repr(e) for e in EXAMPLES))


def build_index(spec: str, dim: int) -> faiss.Index:
    """``faiss.index_factory`` for inner product, with a ValueError quoting the spec when it cannot parse."""
    if not isinstance(spec, str) or not spec.strip() or spec.strip() == AUTO:
        raise _bad_spec(spec, "expected a factory string")
    if spec.strip().upper().startswith("IDMAP"):
        raise _bad_spec(spec, "ids are mapped by mmrag itself; give the index part only")
    if re.search(r",R(Flat|efine)", spec) and split_refine(spec) is None:
        raise _bad_spec(spec, "a re-rank is written ',Refine(<codes>)' at the end, e.g. ',Refine(SQfp16)'")
    parts = split_refine(spec)
    if parts is None:
        return _factory(spec.strip(), dim)
    base, store = (_factory(part, dim) for part in parts)
    if extract_ivf(base) is None or not isinstance(faiss.downcast_index(store), faiss.IndexFlatCodes):
        raise _bad_spec(spec, "Refine(<codes>) follows an IVF index and names flat codes such as SQfp16 or Flat")
    return build_refine(base, store, DEFAULT_K_FACTOR)


def _factory(spec: str, dim: int) -> faiss.Index:
    try:
        return faiss.index_factory(int(dim), spec, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1].split(": ")[-1][:160]
        raise _bad_spec(spec, f"FAISS cannot build it at dim {dim}: {reason}") from None


def extract_ivf(index: faiss.Index) -> faiss.IndexIVF | None:
    """The IVF index inside ``index`` (behind a transform, an id map or a Refine container), else None."""
    try:
        return faiss.downcast_index(faiss.extract_index_ivf(index))
    except RuntimeError:
        return None


def validate_spec(spec: str, dim: int) -> str:
    """Return the stripped spec if FAISS can build it at ``dim`` ('auto' passes), else raise ValueError."""
    if spec == AUTO:
        return spec
    build_index(spec, dim)
    return spec.strip()


def ivf_nlist(spec: str) -> int | None:
    match = _IVF.search(spec)
    return int(match.group(1)) if match else None


def _floor_pow2(x: float) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(x, 1.0)))))


def choose_nlist(n_vectors: int) -> int:
    """~4*sqrt(n) rounded to a power of two, capped so every list gets MIN_POINTS_PER_LIST training points."""
    target = 1 << max(0, round(math.log2(max(4.0 * math.sqrt(max(n_vectors, 1)), 1.0))))
    return max(1, min(target, _floor_pow2(n_vectors / MIN_POINTS_PER_LIST), MAX_NLIST))


def default_nprobe(nlist: int) -> int:
    """Lists to visit per query: nlist/16, at least 16 (never more than nlist).

    Real embeddings need far more probes than synthetic clusters: on 214,000 MiniLM sentence embeddings
    (bench/bench_index_real.py, docs/benchmarks.md) IVF2048 reached recall@10 0.83 at nprobe 8, 0.93 at 32,
    0.955 at 64 and 0.976 at 128 (p50 1.8 ms on 2 threads); the synthetic 1M x 512 mixture was >= 0.99 at 8.
    nlist/16 keeps recall@10 >= 0.95 on the real set with a margin. ``FaissIndex.nprobe`` can be changed
    (it is saved in the sidecar).
    """
    return max(1, min(nlist, max(16, nlist // 16)))


def bytes_per_vector(spec: str, dim: int) -> int:
    """Approximate resident bytes per stored vector for a spec (codes + id + id map)."""
    if "HNSW" in spec:
        m = int(re.search(r"HNSW(\d+)", spec).group(1))  # type: ignore[union-attr]
        return dim * 4 + int(2 * m * 4 * 1.1) + MAP_BYTES + ID_BYTES
    parts = split_refine(spec)
    if parts is not None:  # base codes and ids (no direct map), store codes, ids and id map
        return _code_bytes(parts[0], dim) + ID_BYTES + _code_bytes(parts[1], dim) + ID_BYTES + MAP_BYTES
    return _code_bytes(spec, dim) + ID_BYTES + MAP_BYTES


def _code_bytes(spec: str, dim: int) -> int:
    if _PQ.search(spec):
        m, bits = _PQ.search(spec).groups()  # type: ignore[union-attr]
        return math.ceil(int(m) * int(bits or 8) / 8)
    return dim if "SQ8" in spec else dim // 2 if "SQ4" in spec else dim * 2 if "SQfp16" in spec else dim * 4


def estimate_bytes(spec: str, n_vectors: int, dim: int) -> int:
    nlist = ivf_nlist(spec) or 0
    return n_vectors * bytes_per_vector(spec, dim) + nlist * dim * 4


def refine_spec(nlist: int, dim: int) -> str | None:
    """The fast-scan + re-rank spec ``auto`` picks for large sets (None where dim is odd)."""
    return f"IVF{nlist},PQ{dim // FAST_SCAN_DIMS}x4fs,Refine(SQfp16)" if dim % FAST_SCAN_DIMS == 0 else None


def choose_spec(n_vectors: int, dim: int, memory_budget_mb: float = 4096) -> str:
    """Pick a factory string: exact Flat while small, else IVF codes that fit the budget, in this order:
    fast scan + re-rank (from REFINE_MIN_VECTORS on), float16, SQ8, PQ.

    Fast scan + re-rank (``refine_spec``) against SQfp16 at the same nprobe (nlist/16), one thread, side by
    side (bench/bench_index_real.py, bench/bench_ivf_codes.py, bench/bench_serve.py; docs/benchmarks.md,
    issue 11, "IVF fast scan + float16 re-rank"):

    * one code per 2 dims, not 4: on real MiniLM sentence embeddings (152,600 x 384, IVF2048, nprobe 128)
      PQ192 (2 dims) at k_factor 8 matches SQfp16's recall@10 (0.9789 both; k_factor 4: 0.9780) at 0.74x its
      p50 (1.36 vs 1.84 ms), where PQ96 (4 dims) loses 0.004 (0.9750). On the synthetic isotropic 1 M x 512 library,
      which has no low-dimensional structure (unlike real embeddings), PQ256 at k_factor 8 kept top-10
      agreement 0.99 with SQfp16 over 200 text queries; PQ128 only 0.67.
    * k_factor 8 (DEFAULT_K_FACTOR): the real set needs 4. The hard case is the synthetic 1 M library with
      queries near its own vectors: top-10 agreement with SQfp16 0.85 at k_factor 8, 0.95 at 16, 0.99 at 32,
      the IVF search through FaissIndex 2.7-3.5 / 3.0-4.3 / 3.6-5.5 ms (SQfp16: 17-20 ms). The re-rank is
      the costly part (~8 us a candidate, page faults on the mapped store included: k=100 at k_factor 8
      re-ranks 800, ~7 ms), so 8 rather than 16; raise ``FaissIndex.k_factor`` for embeddings with little
      structure.
    * time at 1 M x 512, nprobe 256, k_factor 8: ``Library.search_text`` CPU 42 ms a query, not 52-62 ms (the
      scan reads ~62,000 vectors: 8 MB of codes instead of 64 MB of float16). Small sets scan little and
      the re-rank has a fixed cost (~0.3 ms): on the real set fast scan was slower at 68,632 vectors (1.01
      vs 0.62 ms at nprobe 64) and faster at 152,600; REFINE_MIN_VECTORS keeps a margin above that.
    """
    if n_vectors < 0 or dim < 1 or memory_budget_mb <= 0:
        raise ValueError(
            f"choose_spec needs n_vectors >= 0, dim >= 1, memory_budget_mb > 0; "
            f"got n_vectors={n_vectors!r}, dim={dim!r}, memory_budget_mb={memory_budget_mb!r}"
        )
    budget = memory_budget_mb * 1024 * 1024
    if n_vectors * dim <= FLAT_MAX_FLOATS and estimate_bytes("Flat", n_vectors, dim) <= budget:
        return "Flat"
    nlist = choose_nlist(n_vectors)
    fast = refine_spec(nlist, dim) if n_vectors >= REFINE_MIN_VECTORS else None
    candidates = [*([fast] if fast else []), f"IVF{nlist},SQfp16", f"IVF{nlist},SQ8"]
    candidates += [f"IVF{nlist},PQ{m}" for m in PQ_M_CHOICES if dim % m == 0 and m < dim]
    for spec in candidates:
        if estimate_bytes(spec, n_vectors, dim) <= budget:
            return spec
    return candidates[-1]  # best effort: the smallest codes we offer


def trainable_spec(spec: str, n_train: int) -> str:
    """The spec with nlist (and PQ bits) lowered so ``n_train`` points can train it; unchanged if enough."""
    out = spec
    nlist = ivf_nlist(spec)
    if nlist is not None:
        fit = max(1, min(nlist, _floor_pow2(n_train / MIN_POINTS_PER_LIST)))
        out = _IVF.sub(f"IVF{fit}", out, count=1)
    pq = _PQ.search(out)
    if pq is not None:
        bits = int(pq.group(2) or 8)
        fast = _FAST.match(out, pq.end())
        if fast and n_train < (1 << bits):  # fast scan takes 4-bit codes only: use the store's codes or SQ8
            parts = split_refine(out)
            return out[: pq.start()] + (parts[1] if parts else "SQ8" + out[fast.end():])
        if n_train < 2:
            out = out[: pq.start()] + "SQ8" + out[pq.end():]
        elif n_train < (1 << bits):
            fit_bits = int(math.floor(math.log2(n_train)))
            out = out[: pq.start()] + f"PQ{pq.group(1)}x{fit_bits}" + out[pq.end():]
    return out
