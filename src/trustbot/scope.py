"""A story scope: questions asked of chosen articles only, as if the index held nothing else.

Among hundreds of stories a question such as "Who wrote the report?" is honestly ambiguous, and
stories sharing its words take part of the ranker's probability (abstention's ``focus``). A
reader who knows which story they mean can say so (``ask --article``, ``/story`` in a chat), and
the question is then answered from that story alone.

``scoped`` returns a view of a loaded index with the same row numbers (so citations, speakers and
conversations work unchanged) whose dense search and BM25 postings see only the chosen articles'
rows, with BM25 weights and idf counted within them, as they would be were only those articles
indexed. An article's rows are contiguous, so a scope is a few row ranges; its vectors are read
once and searched exactly.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from trustbot.corpus import normalise_id
from trustbot.errors import UnknownArticle
from trustbot.segments import lucene_idf

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from trustbot.store import LoadedIndex


class ScopedVectors:
    """The dense side of a scope: exact inner-product search over the scope's rows only."""

    def __init__(self, base: Any, rows: NDArray[np.int64]) -> None:
        self.base = base
        self.rows = rows
        self.d = int(base.d)
        self.ntotal = int(base.ntotal)  # row numbers stay those of the whole index
        self._vectors = base.reconstruct_batch(rows)

    def search(self, x: NDArray[np.float32], k: int) -> tuple[NDArray[Any], NDArray[Any]]:
        """Top ``k`` scope rows per query, best first; -1 rows pad short results."""
        scores = np.full((x.shape[0], k), -np.inf, dtype=np.float32)
        rows = np.full((x.shape[0], k), -1, dtype=np.int64)
        sims = x @ self._vectors.T
        n = min(k, self.rows.size)
        for q in range(x.shape[0]):
            best = np.argsort(-sims[q], kind="stable")[:n]
            scores[q, :n], rows[q, :n] = sims[q, best], self.rows[best]
        return scores, rows

    def reconstruct_batch(self, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        """The stored vectors of ``rows`` (any rows: a candidate's neighbours are read too)."""
        out: NDArray[np.float32] = self.base.reconstruct_batch(rows)
        return out


class ScopedLexical:
    """The lexical side of a scope: BM25 postings of the scope's rows only, their idf counted
    within the scope. Its vocabulary is its ``base``'s (``retrieve._prefixes`` reads that)."""

    def __init__(self, base: Any, rows: NDArray[np.int64]) -> None:
        self.base = base
        self.rows = rows
        self.live = int(rows.size)
        self._base_live = int(base.live)

    def postings(
        self, tokens: Sequence[str]
    ) -> list[tuple[str, NDArray[np.int64], NDArray[np.float32]]]:
        """Like ``LexicalIndex.postings``, restricted to the scope, with its idf."""
        out = []
        for token, rows, scores in self.base.postings(tokens):
            at = np.minimum(np.searchsorted(self.rows, rows), self.rows.size - 1)
            keep = self.rows[at] == rows
            df = int(keep.sum())
            if not df:
                continue
            ratio = lucene_idf(self.live, df) / lucene_idf(self._base_live, rows.size)
            out.append((token, rows[keep], scores[keep] * np.float32(ratio)))
        return out


def resolve(index: LoadedIndex, names: Sequence[str]) -> tuple[str, ...]:
    """The ids of the articles ``names`` (ids or file names) in index order; ``UnknownArticle``
    names the first one the index does not hold. Asked before every question of a chat that
    keeps to a story, so it looks each name up rather than walking the articles."""
    first_rows: dict[str, int] = {}
    for name in names:
        aid = normalise_id(name)
        row = index.row_of(aid, 0)
        if row is None:
            raise UnknownArticle(name)
        first_rows[aid] = row
    return tuple(sorted(first_rows, key=first_rows.__getitem__))


def scoped(index: LoadedIndex, ids: Sequence[str]) -> LoadedIndex:
    """A view of ``index`` that searches only the articles ``ids`` (at least one, all held)."""
    ranges = []
    for aid in ids:
        first = index.row_of(aid, 0)
        assert first is not None  # an indexed article has at least one sentence
        size = len(index.sentence(first)[0].sentences)
        ranges.append(np.arange(first, first + size, dtype=np.int64))
    rows = np.unique(np.concatenate(ranges))
    view = copy.copy(index)  # shares the articles and row table; only the searches differ
    view.faiss_index = ScopedVectors(index.faiss_index, rows)
    view.lexical = ScopedLexical(index.lexical, rows)
    return view
