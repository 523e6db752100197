"""The FAISS side of the index: which structure holds the vectors, and how it is saved/loaded.

Small indexes are exact (``IndexFlatIP``). Above ``APPROX_THRESHOLD`` vectors an exact search
costs tens of milliseconds a question on two cores (~150 ms at 1M), so the index becomes an
inverted file (IVF): k-means cells, of which a search scans the ``nprobe`` nearest. At 1M
sentence-like vectors it answers in ~2-4 ms with recall@10 >= 0.99 against exact search, and
builds in ~70 s; HNSW (M=32, efConstruction=40) took 236 s to build and reached only 0.80
recall@10 at efSearch=128 (0.95 at 1024) on the same data, whose neighbourhoods are dense and
near-tied like real news sentences' (measured by ``make bench``; recall also asserted in
tests/test_perf_vectors.py). Vectors may be stored as float16
or int8 (scalar quantisation) to halve or quarter their memory, at a recall cost the benchmark
reports. Whatever is chosen is recorded in the manifest entry ``build`` returns, and ``load``
reads it back with the same search settings. Large index files are memory-mapped, so opening
the index costs no copy and several processes share one page cache.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

FILE_NAME = "vectors.faiss"
# Flat search scans every vector: ~8 ms for 50k and ~150 ms for 1M on this 2-core machine. Up to
# here it stays exact (recall 1.0, and rebuilding a flat index is a memory copy).
APPROX_THRESHOLD = 100_000
# IVF: about 4*sqrt(n) cells (a power of two), trained on at most 64 vectors per cell, and a
# search scans 1/32 of them (at least 32): at 1M that is 4096 cells, 128 probed, recall@10 1.0
# on the benchmark's vectors (0.999 at 64, 0.995 at 16).
IVF_TRAIN_PER_LIST = 64
IVF_PROBE_FRACTION = 32
IVF_MIN_PROBE = 32
STORAGES = ("float32", "float16", "int8")
# Files at least this big are memory-mapped instead of read into memory.
MMAP_MIN_BYTES = 32 << 20


def spec_for(
    count: int, *, storage: str = "float32", approx_threshold: int = APPROX_THRESHOLD
) -> dict[str, Any]:
    """The manifest entry for an index of ``count`` vectors: structure, storage, search knobs."""
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {', '.join(STORAGES)}, not {storage!r}")
    approx = count > approx_threshold
    spec: dict[str, Any] = {
        "kind": "ivf" if approx else "flat",
        "metric": "inner_product",
        "storage": storage,
        "approx_threshold": approx_threshold,
    }
    if approx:
        nlist = max(1, 2 ** round(math.log2(4 * math.sqrt(count))))
        spec["ivf"] = {
            "nlist": nlist,
            "nprobe": min(nlist, max(IVF_MIN_PROBE, nlist // IVF_PROBE_FRACTION)),
        }
    return spec


def _empty(dim: int, spec: dict[str, Any]) -> Any:
    import faiss

    ip = faiss.METRIC_INNER_PRODUCT
    quantizer = {"float16": faiss.ScalarQuantizer.QT_fp16, "int8": faiss.ScalarQuantizer.QT_8bit}
    storage = spec["storage"]
    if spec["kind"] == "flat":
        if storage == "float32":
            return faiss.IndexFlatIP(dim)
        return faiss.IndexScalarQuantizer(dim, quantizer[storage], ip)
    ivf = spec["ivf"]
    index: Any
    # FAISS's Python layer keeps the coarse quantizer alive as long as the index.
    cells = faiss.IndexFlatIP(dim)
    if storage == "float32":
        index = faiss.IndexIVFFlat(cells, dim, ivf["nlist"], ip)
    else:
        index = faiss.IndexIVFScalarQuantizer(cells, dim, ivf["nlist"], quantizer[storage], ip)
    index.nprobe = ivf["nprobe"]
    return index


def build(
    matrix: NDArray[np.float32],
    *,
    storage: str = "float32",
    approx_threshold: int = APPROX_THRESHOLD,
) -> tuple[Any, dict[str, Any]]:
    """A FAISS index over normalised vectors (inner product = cosine) and its manifest entry."""
    spec = spec_for(matrix.shape[0], storage=storage, approx_threshold=approx_threshold)
    index = _empty(matrix.shape[1], spec)
    if matrix.shape[0]:
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        # IVF learns its cells and scalar quantisers each dimension's range from the data; a
        # fixed-seed sample keeps builds reproducible and training time bounded.
        if not index.is_trained:
            sample = matrix
            if spec["kind"] == "ivf" and len(matrix) > IVF_TRAIN_PER_LIST * spec["ivf"]["nlist"]:
                rows = np.random.default_rng(0).choice(
                    len(matrix), IVF_TRAIN_PER_LIST * spec["ivf"]["nlist"], replace=False
                )
                sample = matrix[np.sort(rows)]
            index.train(sample)
        index.add(matrix)
        if spec["kind"] == "ivf":
            index.make_direct_map()  # retrieval re-scores lexical hits from stored vectors
    spec["type"] = type(index).__name__
    return index, spec


def save(index: Any, folder: Path) -> None:
    """Write ``index`` into a generation folder."""
    import faiss

    faiss.write_index(index, str(folder / FILE_NAME))


def load(folder: Path, info: dict[str, Any], *, mmap: bool | None = None) -> Any:
    """Read the index of a generation folder with the search settings its manifest entry records.

    ``mmap`` None: memory-map files of at least ``MMAP_MIN_BYTES``. A mapped index is read-only
    (every write builds a new generation anyway) and pages in only what searches touch.
    """
    import faiss

    path = folder / FILE_NAME
    if mmap is None:
        mmap = path.stat().st_size >= MMAP_MIN_BYTES
    # IO_FLAG_MMAP_IFC maps the vectors of flat storage and IVF lists (plain IO_FLAG_MMAP still
    # copies a flat index into memory); FAISS < 1.9 lacks it.
    mapped = getattr(faiss, "IO_FLAG_MMAP_IFC", faiss.IO_FLAG_MMAP)
    flags = mapped | faiss.IO_FLAG_READ_ONLY if mmap else 0
    index = faiss.read_index(str(path), flags)
    ivf = info.get("ivf")
    if ivf and hasattr(index, "nprobe"):
        index.nprobe = int(ivf["nprobe"])
    return index


class Segments:
    """Several FAISS indexes searched as one, rows numbered on from one segment to the next.

    A large base index stays as it is while small segments hold the articles added since
    (see ``trustbot.segments``). It offers what retrieval uses of a FAISS index: ``ntotal``,
    ``d``, ``search``, ``reconstruct_batch``. ``dead`` holds, per part, the sorted rows of deleted
    articles (tombstones), which searches skip.
    """

    def __init__(
        self, parts: Sequence[Any], dead: Sequence[NDArray[np.int64]] | None = None
    ) -> None:
        if not parts:
            raise ValueError("Segments needs at least one index")
        self.parts = list(parts)
        self.dead = list(dead) if dead is not None else [np.zeros(0, np.int64)] * len(self.parts)
        self._skip = [_skipping(p, d) for p, d in zip(self.parts, self.dead, strict=True)]
        self.d = int(self.parts[0].d)
        self.offsets = np.cumsum([0] + [int(p.ntotal) for p in self.parts])
        self.ntotal = int(self.offsets[-1])

    def search(self, x: NDArray[np.float32], k: int) -> tuple[NDArray[Any], NDArray[Any]]:
        """Top ``k`` rows per query over all segments, best first; -1 rows pad short results."""
        scores = np.full((x.shape[0], k), -np.inf, dtype=np.float32)
        rows = np.full((x.shape[0], k), -1, dtype=np.int64)
        found: list[list[tuple[float, int]]] = [[] for _ in range(x.shape[0])]
        for part, offset, skip in zip(self.parts, self.offsets, self._skip, strict=False):
            if not part.ntotal:
                continue
            n = min(k, int(part.ntotal))
            dist, ids = part.search(x, n) if skip is None else part.search(x, n, params=skip[0])
            for q in range(x.shape[0]):
                found[q].extend(
                    (float(s), int(r) + int(offset))
                    for s, r in zip(dist[q], ids[q], strict=True)
                    if r >= 0
                )
        for q, hits in enumerate(found):
            for j, (s, r) in enumerate(heapq.nlargest(k, hits)):
                scores[q, j], rows[q, j] = s, r
        return scores, rows

    def reconstruct_batch(self, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        """The stored vectors of ``rows``, one per row."""
        if rows.size and (rows.min() < 0 or rows.max() >= self.ntotal):
            raise IndexError(f"rows outside 0..{self.ntotal - 1}")
        part = np.searchsorted(self.offsets, rows, side="right") - 1
        out = np.empty((rows.size, self.d), dtype=np.float32)
        for p in np.unique(part).tolist():
            mine = part == p
            out[mine] = self.parts[p].reconstruct_batch(rows[mine] - self.offsets[p])
        return out


def _skipping(index: Any, dead: NDArray[np.int64]) -> tuple[Any, ...] | None:
    """Search parameters under which FAISS itself skips the ``dead`` rows, so a search for k
    still returns the best k live rows without over-fetching; ``None`` when nothing is dead.
    The selectors are returned too: FAISS holds them by raw pointer, so they must outlive it."""
    if not dead.size:
        return None
    import faiss

    batch = faiss.IDSelectorBatch(dead)
    selector = faiss.IDSelectorNot(batch)
    params: Any
    if hasattr(index, "nprobe"):  # IVF: these parameters replace the index's own nprobe
        params = faiss.SearchParametersIVF()
        params.nprobe = int(index.nprobe)
    else:
        params = faiss.SearchParameters()
    params.sel = selector
    return params, selector, batch
