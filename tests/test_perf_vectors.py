"""The FAISS structure: exact below the threshold, IVF above it with recall >= 0.98, compact
storage, memory-mapped loading, and segments searched as one. Correctness only: no timings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trustbot import vectors

DIM = 384


def clustered(n: int, seed: int = 0, topics: int = 300) -> np.ndarray:
    """Unit vectors around a few hundred topics, like sentence embeddings of news (not uniform
    noise, on which no approximate index has neighbours worth finding)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    pick = rng.integers(0, topics, n)
    mix = rng.integers(0, topics, n)
    x = centres[pick] + rng.uniform(0, 0.5, (n, 1)) * centres[mix]
    x += rng.standard_normal((n, DIM)) * (0.6 / np.sqrt(DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x, dtype=np.float32)


def recall_at(index: object, exact: object, queries: np.ndarray, k: int = 10) -> float:
    _, want = exact.search(queries, k)  # type: ignore[attr-defined]
    _, got = index.search(queries, k)  # type: ignore[attr-defined]
    return float(np.mean([len(set(g) & set(w)) / k for g, w in zip(got, want, strict=True)]))


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    # Queries from the same topics as the indexed vectors, held out from them.
    both = clustered(6100)
    return both[:6000], both[6000:]


@pytest.fixture(scope="module")
def exact(data: tuple[np.ndarray, np.ndarray]) -> object:
    index, info = vectors.build(data[0])
    assert info["kind"] == "flat" and info["type"] == "IndexFlatIP"
    return index


def test_structure_is_chosen_by_size() -> None:
    assert vectors.spec_for(10)["kind"] == "flat"
    assert vectors.spec_for(vectors.APPROX_THRESHOLD)["kind"] == "flat"
    spec = vectors.spec_for(vectors.APPROX_THRESHOLD + 1)
    assert spec["kind"] == "ivf" and spec["ivf"] == {"nlist": 1024, "nprobe": 32}
    assert vectors.spec_for(1_000_000)["ivf"] == {"nlist": 4096, "nprobe": 128}
    with pytest.raises(ValueError):
        vectors.spec_for(10, storage="float8")


def test_ivf_recall_against_exact(data: tuple[np.ndarray, np.ndarray], exact: object) -> None:
    matrix, queries = data
    index, info = vectors.build(matrix, approx_threshold=1000)
    assert info["kind"] == "ivf" and info["type"] == "IndexIVFFlat"
    assert index.ntotal == len(matrix)
    assert recall_at(index, exact, queries) >= 0.98


@pytest.mark.parametrize(
    ("storage", "kind", "floor"),
    [("float16", "flat", 0.99), ("int8", "flat", 0.9), ("float16", "ivf", 0.98)],
)
def test_compact_storage_keeps_recall(
    data: tuple[np.ndarray, np.ndarray], exact: object, storage: str, kind: str, floor: float
) -> None:
    matrix, queries = data
    threshold = 1000 if kind == "ivf" else vectors.APPROX_THRESHOLD
    index, info = vectors.build(matrix, storage=storage, approx_threshold=threshold)
    assert info["storage"] == storage and info["kind"] == kind
    assert recall_at(index, exact, queries) >= floor
    # Retrieval re-scores lexical candidates from stored vectors: they must decode close.
    assert float(np.dot(index.reconstruct_batch(np.array([7]))[0], matrix[7])) > 0.99


def test_save_and_load_keep_results_and_settings(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    matrix, queries = data
    index, info = vectors.build(matrix, approx_threshold=1000)
    vectors.save(index, tmp_path)
    for mmap in (False, True):
        loaded = vectors.load(tmp_path, info, mmap=mmap)
        assert loaded.nprobe == info["ivf"]["nprobe"]
        np.testing.assert_array_equal(loaded.search(queries, 10)[1], index.search(queries, 10)[1])


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_large_index_is_memory_mapped_not_copied(tmp_path: Path) -> None:
    # 80k x 384 float32 = 117 MiB: above MMAP_MIN_BYTES, so load maps it by default.
    matrix = np.random.default_rng(2).standard_normal((80_000, DIM)).astype(np.float32)
    index, info = vectors.build(matrix)
    vectors.save(index, tmp_path)
    del index
    size_mib = (tmp_path / vectors.FILE_NAME).stat().st_size / 2**20
    assert size_mib * 2**20 >= vectors.MMAP_MIN_BYTES
    before = _rss_mib()
    loaded = vectors.load(tmp_path, info)
    grew = _rss_mib() - before
    assert grew < size_mib / 4, f"loading grew RSS by {grew:.0f} MiB for a {size_mib:.0f} MiB file"
    assert loaded.ntotal == len(matrix)
    np.testing.assert_array_equal(loaded.search(matrix[:3], 1)[1][:, 0], [0, 1, 2])


def test_segments_search_as_one_index(data: tuple[np.ndarray, np.ndarray], exact: object) -> None:
    matrix, queries = data
    parts = [vectors.build(matrix[a:b])[0] for a, b in ((0, 4000), (4000, 4001), (4001, 6000))]
    segments = vectors.Segments(parts)
    assert segments.ntotal == len(matrix) and segments.d == DIM
    want_scores, want_rows = exact.search(queries, 10)  # type: ignore[attr-defined]
    got_scores, got_rows = segments.search(queries, 10)
    np.testing.assert_array_equal(got_rows, want_rows)
    np.testing.assert_allclose(got_scores, want_scores, rtol=1e-5)
    rows = np.array([5999, 0, 4000, 3999, 4001])
    np.testing.assert_array_equal(segments.reconstruct_batch(rows), matrix[rows])
    with pytest.raises(IndexError):
        segments.reconstruct_batch(np.array([6000]))


def test_segments_pad_short_results_like_faiss(data: tuple[np.ndarray, np.ndarray]) -> None:
    matrix, queries = data
    tiny = vectors.Segments([vectors.build(matrix[:1])[0], vectors.build(matrix[1:2])[0]])
    scores, rows = tiny.search(queries[:1], 3)
    assert sorted(rows[0, :2].tolist()) == [0, 1] and rows[0, 2] == -1
    assert scores[0, 0] >= scores[0, 1] and scores[0, 2] == -np.inf


def test_segments_skip_deleted_rows_inside_faiss(data: tuple[np.ndarray, np.ndarray]) -> None:
    """Tombstoned rows never come back, and the live top k is what searching only the live rows
    gives: in an IVF part (with its own nprobe) and in a flat one."""
    matrix, queries = data
    ivf, info = vectors.build(matrix[:4000], approx_threshold=1000)
    assert info["kind"] == "ivf"
    flat, _ = vectors.build(matrix[4000:])
    rng = np.random.default_rng(1)
    dead = [np.sort(rng.choice(4000, 1000, replace=False)), np.arange(0, 2000, 3)]
    segments = vectors.Segments([ivf, flat], [d.astype(np.int64) for d in dead])
    _, rows = segments.search(queries, 10)
    alive = np.ones(len(matrix), dtype=bool)
    alive[dead[0]] = False
    alive[4000 + dead[1]] = False
    assert alive[rows].all()
    # The IVF part keeps its nprobe, so compare with the same parts searched after removal.
    live_ivf = ivf.search(queries, 4000)[1]
    live_flat = flat.search(queries, 2000)[1]
    sims = queries @ matrix.T
    for q in range(len(queries)):
        pool = [r for r in live_ivf[q] if r >= 0 and alive[r]]
        pool += [4000 + r for r in live_flat[q] if alive[4000 + r]]
        want = sorted(pool, key=lambda r: -sims[q, r])[:10]
        assert sorted(rows[q].tolist()) == sorted(want)
    assert ivf.nprobe == info["ivf"]["nprobe"]
