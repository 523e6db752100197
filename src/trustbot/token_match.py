"""How well a sentence matches the question word by word, by the model's token vectors.

The sentence embedding averages every token into one vector, so a sentence that holds each of
the question's ideas in other words can lose to one that shares its topic. This signal keeps the
tokens apart: each content token of the question (not a question word, not punctuation) takes
its best cosine with a token of the sentence's embedded text (``[speaker said:] sentence``, the
contextual vectors of all-MiniLM-L6-v2 before pooling), and the signal is their mean, the
"MaxSim" of late-interaction retrieval, here with a model never trained for it.

Only the trees see it, for the linear stage's best ``rerank.RERANK``. The sentences' token
vectors are made with their sentence vectors, in the same model pass, and stored beside them
(``pack``: one byte a dimension, about 15 kB a sentence); the question's come from the pass
that embeds it. Those of an index written before they were stored are encoded when first
needed. The last ``CACHED`` sentences used are kept in memory, by article content and
sentence, so they outlive an index generation and serve every scope.

Measured with the trees refitted on it (scripts/tune_ranker.py, round twenty): 4-fold P@1 on
the bundled paraphrases 0.847 -> 0.887, xquad-r dev 0.784 -> 0.794, squad2-normans 0.811 ->
0.821; on 4,860 bundled questions kept out of the fit (blind8-blind92) 0.838 -> 0.861.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trustbot.embed import Embedder, Tokens
from trustbot.passages import passage_text

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from trustbot.store import LoadedIndex, StoredArticle

# Sentences whose token vectors are kept in memory: ~15 kB each, so at most ~30 MB.
CACHED = 2048
# Stored token vectors are rounded to 1/SCALE (int8); a cosine moves by less than 0.005.
SCALE = 127

_Key = tuple[str, str, int]  # weights sha256, article sha256, sentence
_cache: OrderedDict[_Key, NDArray[np.int8]] = OrderedDict()
_lock = threading.Lock()


def pack(sentences: Sequence[NDArray[np.float32]], dim: int) -> bytes:
    """One article's sentences' token vectors (``Tokens.vectors``) as the bytes of an ``.npz``."""
    buf = io.BytesIO()
    joined = np.concatenate(sentences) if sentences else np.zeros((0, dim), np.float32)
    np.savez(
        buf,
        vectors=np.round(joined * SCALE).astype(np.int8),
        counts=np.array([len(v) for v in sentences], dtype=np.int64),
    )
    return buf.getvalue()


def _unpack(path: Path, sentences: int) -> list[NDArray[np.int8]] | None:
    """The stored token vectors of an article's ``sentences``; None if missing or unreadable."""
    try:
        with np.load(path) as z:
            vectors, counts = z["vectors"], z["counts"]
    except (OSError, ValueError, KeyError):
        return None
    if counts.size != sentences or counts.sum() != len(vectors):
        return None
    return np.split(vectors, np.cumsum(counts)[:-1])


def content_mask(pieces: Sequence[str], stopwords: frozenset[str]) -> np.ndarray:
    """Which of a question's tokens carry its content: not punctuation, not a stop word. A
    question of nothing else keeps every token."""
    keep = np.array(
        [any(c.isalnum() for c in p) and p not in stopwords for p in pieces], dtype=bool
    )
    return keep if keep.any() else np.ones(len(pieces), dtype=bool)


def maxsim(question: Tokens, mask: np.ndarray, sentences: Sequence[NDArray[np.int8]]) -> np.ndarray:
    """For each of ``sentences`` (stored token vectors), the mean over the question's
    ``mask``-ed tokens of their best cosine with one of its tokens (0 for a sentence of none)."""
    out = np.zeros(len(sentences))
    sizes = np.array([len(s) for s in sentences])
    full = np.flatnonzero(sizes)
    if not mask.any() or not full.size:
        return out
    joined = np.concatenate([sentences[i] for i in full.tolist()]).astype(np.float32)
    sims = question.vectors[mask] @ joined.T
    starts = np.concatenate([[0], np.cumsum(sizes[full])[:-1]])
    out[full] = np.maximum.reduceat(sims, starts, axis=1).mean(axis=0) / SCALE
    return out


def scores(
    index: LoadedIndex,
    embedder: Embedder,
    question: str,
    rows: Sequence[int],
    stopwords: frozenset[str],
    asked: Tokens | None = None,
) -> np.ndarray:
    """``maxsim`` of ``question`` (whose ``Tokens`` are ``asked`` when the caller has them) with
    each of ``rows``."""
    located = [index.sentence(r) for r in rows]
    keys = [(embedder.weights_sha256, art.sha256, si) for art, si in located]
    with _lock:
        found = {k: _cache[k] for k in keys if k in _cache}
        for k in found:
            _cache.move_to_end(k)
    made: dict[_Key, NDArray[np.int8]] = {}
    unstored: dict[_Key, tuple[StoredArticle, int]] = {}
    for k, (art, si) in zip(keys, located, strict=True):
        if k in found or k in made or k in unstored:
            continue
        stored = _unpack(art.tokens, len(art.sentences)) if art.tokens else None
        if stored is None:
            unstored[k] = art, si
        else:
            made.update({(k[0], k[1], i): v for i, v in enumerate(stored)})
    texts = [passage_text(a.body, a.sentences, a.speakers, si) for a, si in unstored.values()]
    if asked is None or texts:
        _, (q, *fresh) = embedder.encode_with_tokens([question, *texts])
    else:
        q, fresh = asked, []
    made.update(
        (k, np.round(t.vectors * SCALE).astype(np.int8))
        for k, t in zip(unstored, fresh, strict=True)
    )
    if made:
        with _lock:
            _cache.update(made)
            while len(_cache) > CACHED:
                _cache.popitem(last=False)
    mask = content_mask(q.pieces, stopwords)
    return maxsim(q, mask, [found[k] if k in found else made[k] for k in keys])
