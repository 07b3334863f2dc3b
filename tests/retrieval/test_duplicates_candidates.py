"""Candidate generation of the duplicate cascade against brute force, and the aligned check on look-alikes that
share a smooth gradient."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from mmrag.ingest.hashes import compute_signature
from mmrag.retrieval import dedup_candidates
from mmrag.retrieval.dedup_verify import verify_pair


def _planted_hashes(n: int, seed: int) -> np.ndarray:
    """n random pHash sets (8 symmetries); the second half are copies of the first half's rotation by 90
    degrees with 0..9 bits flipped."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
    half = n // 2
    hashes[half:, 0] = hashes[: n - half, 1]
    for k in range(half, n):
        for bit in rng.choice(64, k % 10, replace=False):
            hashes[k, 0, bit // 8] ^= np.uint8(1 << (bit % 8))
    return hashes


def test_hash_candidates_equal_brute_force() -> None:
    hashes = _planted_hashes(600, seed=3)
    words = hashes.view(">u8").reshape(len(hashes), 8).astype(np.uint64)
    expected: dict[tuple[int, int], tuple[int, int]] = {}
    for symmetry in range(8):
        distance = np.bitwise_count(words[:, symmetry][:, None] ^ words[:, 0][None, :])
        for i, j in zip(*np.nonzero(distance <= dedup_candidates.HASH_RADIUS), strict=True):
            if (symmetry and i != j) or (not symmetry and i < j):
                d = int(distance[i, j])
                if (int(i), int(j)) not in expected or d < expected[(int(i), int(j))][1]:
                    expected[(int(i), int(j))] = (symmetry, d)
    found = dedup_candidates.hash_candidates(hashes)
    # multi-index hashing with 2 flips is exact up to 11 bits; 12 bits only when the flips fall unevenly
    assert {p: v for p, v in expected.items() if v[1] <= 11} == {p: v for p, v in found.items() if v[1] <= 11}
    assert all(expected[p] == v for p, v in found.items())
    assert all((k - 300, k) in found or (k, k - 300) in found for k in range(300, 600))


def test_knn_candidates_beyond_the_exact_size_find_planted_copies() -> None:
    """Past EXACT_KNN_UP_TO rows the neighbours come from a PCA + inverted-file index: planted near copies
    are still found, and every pair returned is above the cosine floor."""
    rng = np.random.default_rng(5)
    n = dedup_candidates.EXACT_KNN_UP_TO + 2000
    vectors = rng.normal(size=(n, 96)).astype(np.float32)
    vectors[-500:] = vectors[:500] + rng.normal(scale=0.05, size=(500, 96))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pairs = dedup_candidates.vector_candidates(vectors, k=3, min_cosine=0.9)
    planted = {(k, n - 500 + k) for k in range(500)}
    assert len(planted & pairs) >= 490
    assert all(float(vectors[i] @ vectors[j]) >= 0.9 for i, j in pairs)


def test_tiny_vectors_batched_equal_one_by_one() -> None:
    rng = np.random.default_rng(7)
    smalls = [rng.integers(0, 256, (40, 64, 3), dtype=np.uint8) for _ in range(5)]
    framed = np.full((64, 64, 3), 255, np.uint8)
    framed[6:58, 6:58] = rng.integers(0, 200, (52, 52, 3), dtype=np.uint8)
    smalls += [framed, rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)]
    batched = dedup_candidates.tiny_vectors(smalls)
    single = np.concatenate([dedup_candidates.tiny_vectors([s]) for s in smalls])
    assert np.allclose(batched, single, atol=1e-5)
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-3)


def _gradient_wallpaper(seed: int, grey: bool) -> Image.Image:
    """A dark-to-bright diagonal gradient (blue or grey) with faint random shapes of its own."""
    side = 512
    ramp = np.add.outer(np.arange(side)[::-1], np.arange(side)) / (2 * side - 2)
    colour = (ramp[..., None] * (np.array([90, 90, 90]) if grey else np.array([0, 200, 255])) + 20).astype(np.uint8)
    image = Image.fromarray(colour)
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(seed)
    for _ in range(12):
        x, y = rng.integers(0, side, 2)
        draw.ellipse((x, y, x + rng.integers(20, 90), y + rng.integers(20, 90)), outline=(230, 230, 230), width=2)
    return image


def test_look_alike_gradient_wallpapers_are_not_duplicates() -> None:
    """Two wallpapers with the same smooth gradient but different shapes are different pictures; a copy of one
    turned grey is the same picture."""
    first, second = _gradient_wallpaper(1, grey=False), _gradient_wallpaper(2, grey=True)
    a, b = compute_signature(first), compute_signature(second)
    grey_copy = compute_signature(first.convert("L").convert("RGB"))
    assert verify_pair(a, b, 0) is None or verify_pair(a, b, 0).confidence < 0.5
    same = verify_pair(a, grey_copy, 0)
    assert same is not None and same.confidence >= 0.5


def test_hash_radius_beyond_two_flips_is_the_exact_radius() -> None:
    """Past TWO_FLIPS_UP_TO images the probes are exact up to 7 bits, and so is the radius: random hashes
    within 8-12 bits (thousands of chance pairs at 100,000 images) are no longer verified."""
    n = dedup_candidates.TWO_FLIPS_UP_TO + 2000
    hashes = _planted_hashes(n, seed=11)
    found = dedup_candidates.hash_candidates(hashes)
    half = n // 2
    planted = {(k - half, k): k % 10 for k in range(half, n)}  # (original, copy): bits flipped
    assert all(d <= 7 for _, d in found.values())
    assert all((a, b) in found or (b, a) in found for (a, b), bits in planted.items() if bits <= 7)
