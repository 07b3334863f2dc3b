from __future__ import annotations

import math

import pytest

from mmrag.index.spec import (
    FLAT_MAX_FLOATS,
    MIN_POINTS_PER_LIST,
    choose_nlist,
    choose_spec,
    default_nprobe,
    estimate_bytes,
    trainable_spec,
    validate_spec,
)


def test_small_libraries_are_exact() -> None:
    assert choose_spec(0, 512) == "Flat"
    assert choose_spec(1000, 512) == "Flat"
    assert choose_spec(FLAT_MAX_FLOATS // 512, 512) == "Flat"


def test_threshold_scales_with_dim() -> None:
    n = FLAT_MAX_FLOATS // 512 + 1
    assert choose_spec(n, 512).startswith("IVF")
    assert choose_spec(n, 384) == "Flat"  # fewer floats per vector: still exact


@pytest.mark.parametrize("n", [40_000, 100_000, 1_000_000, 10_000_000])
def test_nlist_is_power_of_two_near_4_sqrt_n(n: int) -> None:
    nlist = choose_nlist(n)
    assert nlist & (nlist - 1) == 0
    assert 4 * math.sqrt(n) / 2 <= nlist <= 4 * math.sqrt(n) * 2
    assert choose_spec(n, 512).startswith(f"IVF{nlist},")


def test_nlist_leaves_enough_training_points_per_list() -> None:
    for n in (100, 1000, 5000, 33_000):
        assert n / choose_nlist(n) >= MIN_POINTS_PER_LIST or choose_nlist(n) == 1


def test_memory_budget_picks_smaller_codes() -> None:
    n, dim = 1_000_000, 512
    assert choose_spec(n, dim, 4096) == "IVF4096,PQ256x4fs,Refine(SQfp16)"  # fast scan, float16 re-rank
    assert choose_spec(n, dim, 1080) == "IVF4096,SQfp16"  # the catalog's float16 precision, half of Flat's bytes
    assert choose_spec(n, dim, 1024) == "IVF4096,SQ8"
    compact = choose_spec(n, dim, 200)
    assert compact.startswith("IVF4096,PQ")
    assert estimate_bytes(compact, n, dim) <= 200 * 2**20
    assert estimate_bytes("IVF4096,Flat", n, dim) > estimate_bytes("IVF4096,SQfp16", n, dim) > estimate_bytes(
        "IVF4096,SQ8", n, dim) > estimate_bytes(compact, n, dim)


def test_flat_over_budget_is_compressed() -> None:
    assert choose_spec(20_000, 512, 16) != "Flat"


@pytest.mark.parametrize("args", [(-1, 512, 10), (10, 0, 10), (10, 512, 0)])
def test_choose_spec_rejects_bad_arguments(args: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match=str(args[0])):
        choose_spec(*args)


@pytest.mark.parametrize("bad", ["IVFx,Flat", "Flot", "", "IVF64,PQ7", "IDMap2,Flat", "auto-ish"])
def test_bad_specs_quote_the_value_and_show_examples(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_spec(bad, 64)
    message = str(info.value)
    assert repr(bad) in message
    assert "'IVF1024,Flat'" in message and "'HNSW32'" in message


@pytest.mark.parametrize("good", ["Flat", "IVF256,Flat", "IVF256,SQ8", "IVF64,PQ16", "HNSW32", "auto"])
def test_good_specs_pass(good: str) -> None:
    assert validate_spec(good, 64) == good


def test_default_nprobe() -> None:
    assert default_nprobe(1) == 1
    assert default_nprobe(8) == 8
    assert default_nprobe(128) == 16
    assert default_nprobe(2048) == 128  # recall@10 0.976 on real MiniLM embeddings (0.83 at the old 8)
    assert default_nprobe(65536) == 4096
    assert all(1 <= default_nprobe(n) <= n for n in (1, 2, 8, 64, 1024, 65536))


def test_trainable_spec_lowers_nlist_and_pq_bits() -> None:
    assert trainable_spec("IVF1024,Flat", 10**6) == "IVF1024,Flat"
    assert trainable_spec("IVF1024,Flat", 500) == "IVF8,Flat"  # 500 / 39 -> 12 -> power of two 8
    assert trainable_spec("IVF1024,Flat", 1) == "IVF1,Flat"
    assert trainable_spec("IVF64,PQ8", 100) == "IVF2,PQ8x6"
    assert trainable_spec("IVF64,PQ8", 1) == "IVF1,SQ8"
    assert trainable_spec("HNSW32", 3) == "HNSW32"
