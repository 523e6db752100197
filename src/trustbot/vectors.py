"""The FAISS side of the index: which structure holds the vectors, and how it is saved/loaded."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

FILE_NAME = "vectors.faiss"


def build(matrix: NDArray[np.float32]) -> tuple[Any, dict[str, Any]]:
    """A FAISS index over normalised vectors (inner product = cosine) and its manifest entry."""
    import faiss

    # Exact search: at news-corpus sizes a flat index answers in milliseconds, and rebuilding it
    # from the cached per-article vectors is a memory copy, which is what makes add and delete
    # cheap without re-embedding anything.
    index = faiss.IndexFlatIP(matrix.shape[1])
    if matrix.shape[0]:
        index.add(matrix)
    return index, {"type": "IndexFlatIP", "metric": "inner_product"}


def save(index: Any, folder: Path) -> None:
    """Write ``index`` into a generation folder."""
    import faiss

    faiss.write_index(index, str(folder / FILE_NAME))


def load(folder: Path, info: dict[str, Any]) -> Any:
    """Read the index of a generation folder."""
    import faiss

    return faiss.read_index(str(folder / FILE_NAME))
