"""Hybrid retrieval: dense (FAISS) and lexical (BM25) scores fused into one ranking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trustbot.embed import Embedder
from trustbot.store import LoadedIndex

# Fusion weight of the dense score; the rest goes to max-normalised BM25.
DENSE_WEIGHT = 0.7
# How many dense neighbours to consider before fusing (lexical scores cover every row).
DENSE_CANDIDATES = 50


@dataclass(frozen=True)
class Hit:
    """One retrieved sentence with the signals behind its score."""

    row: int
    score: float
    dense: float
    lexical: float


def search(index: LoadedIndex, embedder: Embedder, question: str, k: int = 10) -> list[Hit]:
    """The ``k`` best sentences for ``question``, best first."""
    n = index.faiss_index.ntotal
    if n == 0:
        return []
    query = embedder.encode([question])
    dense_scores, dense_rows = index.faiss_index.search(query, min(DENSE_CANDIDATES, n))
    lexical = index.lexical.scores(question)
    top_lex = float(lexical.max()) if lexical.size else 0.0
    lex_norm = lexical / top_lex if top_lex > 0 else lexical

    candidates: dict[int, float] = {
        int(r): float(s) for r, s in zip(dense_rows[0], dense_scores[0], strict=True) if r >= 0
    }
    # Strong lexical matches join even when the dense side missed them.
    # argpartition, not argsort: sorting a million scores costs ~100 ms a question.
    top = min(DENSE_CANDIDATES, lex_norm.size)
    for r in np.argpartition(-lex_norm, top - 1)[:top] if top else ():
        if lex_norm[r] > 0 and int(r) not in candidates:
            vec = index.faiss_index.reconstruct(int(r))
            candidates[int(r)] = float(np.dot(vec, query[0]))
    hits = [
        Hit(
            row=r,
            score=DENSE_WEIGHT * d + (1 - DENSE_WEIGHT) * float(lex_norm[r]),
            dense=d,
            lexical=float(lex_norm[r]),
        )
        for r, d in candidates.items()
    ]
    hits.sort(key=lambda h: h.score, reverse=True)
    return hits[:k]
