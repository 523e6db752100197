"""How well a sentence matches the question word by word, by the model's token vectors.

The sentence embedding averages every token into one vector, so a sentence that holds each of
the question's ideas in other words can lose to one that shares its topic. This signal keeps the
tokens apart: each content token of the question (not a question word, not punctuation) takes
its best cosine with a token of the sentence's embedded text (``[speaker said:] sentence``, the
contextual vectors of all-MiniLM-L6-v2 before pooling), and the signal is their mean, the
"MaxSim" of late-interaction retrieval, here with a model never trained for it.

Only the trees see it, for the linear stage's best ``rerank.RERANK``. The sentences' token
vectors are made with their sentence vectors, in the same model pass, and stored beside them
(``pack``: one byte a dimension, about 11 kB a sentence of news); the question's come from the pass
that embeds it. Those of an index written before they were stored are encoded when first
needed. The last ``CACHED`` sentences used are kept in memory, by article content and
sentence, so they outlive an index generation and serve every scope.

Measured with the trees refitted on it (scripts/tune_ranker.py, round twenty): 4-fold P@1 on
the bundled paraphrases 0.847 -> 0.887, xquad-r dev 0.784 -> 0.787, squad2-normans 0.811 (the
same); on the 4,860 bundled questions kept out of the fit (blind8-blind92) P@1 0.838 -> 0.861
and right 0.797 -> 0.818 (docs/quality-history.md, round twenty).
"""

from __future__ import annotations

import io
import os
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

# Sentences whose token vectors are kept in memory: ~11 kB each, so at most ~25 MB.
CACHED = 2048
# Stored token vectors are rounded to 1/SCALE (int8); a cosine moves by less than 0.005.
SCALE = 127

# The model (its id, as two test embedders share weights' sha256), article sha256, sentence.
_Key = tuple[str, str, str, int]
_cache: OrderedDict[_Key, NDArray[np.int8]] = OrderedDict()
_lock = threading.Lock()
# Where each of the ``CACHED`` token files read most lately keeps its sentences (``_layout``).
_layouts: OrderedDict[Path, tuple[int, NDArray[np.int64], int]] = OrderedDict()


def pack(sentences: Sequence[NDArray[np.float32]], dim: int) -> bytes:
    """One article's sentences' token vectors (``Tokens.vectors``) as the bytes of a file of two
    ``.npy`` arrays one after the other: each sentence's token count, then every token vector
    rounded to int8 (one ``np.load`` of an ``.npz`` costs twice as much, at every question)."""
    buf = io.BytesIO()
    joined = np.concatenate(sentences) if sentences else np.zeros((0, dim), np.float32)
    np.save(buf, np.array([len(v) for v in sentences], dtype=np.int64))
    np.save(buf, np.round(joined * SCALE).astype(np.int8))
    return buf.getvalue()


def _layout(path: Path, sentences: int) -> tuple[int, NDArray[np.int64], int] | None:
    """Where the token vectors of a stored file begin, each sentence's first byte among them (and
    the end), and the width of a vector; None if the file is not one of ``sentences``."""
    fmt = np.lib.format
    with path.open("rb") as f:
        counts = np.load(f)
        if not isinstance(counts, np.ndarray):
            return None
        header = (
            fmt.read_array_header_1_0 if fmt.read_magic(f) == (1, 0) else fmt.read_array_header_2_0
        )
        shape, _, dtype = header(f)
        if counts.shape != (sentences,) or dtype != np.int8 or shape[0] != counts.sum():
            return None
        return f.tell(), np.concatenate([[0], np.cumsum(counts)]) * shape[1], shape[1]


def _unpack(path: Path, sentences: int, wanted: Sequence[int]) -> dict[int, NDArray[np.int8]]:
    """The stored token vectors of the ``wanted`` sentences of an article of ``sentences``, read
    without the others; empty if the file is missing or is not such a file. Where each file's
    sentences lie is remembered (the files never change: their names hold the content's hash)."""
    try:
        with _lock:
            layout = _layouts.get(path)
            if layout is not None:
                _layouts.move_to_end(path)
        if layout is None:
            layout = _layout(path, sentences)
            if layout is None:
                return {}
            with _lock:
                _layouts[path] = layout
                if len(_layouts) > CACHED:
                    _layouts.popitem(last=False)
        at, starts, width = layout
        if starts.size != sentences + 1:
            return {}
        out = {}
        fd = os.open(path, os.O_RDONLY)
        try:
            for si in wanted:
                size = int(starts[si + 1] - starts[si])
                data = os.pread(fd, size, at + int(starts[si]))
                if len(data) != size:
                    return {}
                out[si] = np.frombuffer(data, dtype=np.int8).reshape(-1, width)
        finally:
            os.close(fd)
        return out
    except (OSError, ValueError, EOFError):
        return {}


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
    # einsum, not ``@``: a matrix product this size wakes OpenBLAS's threads, which then spin on
    # both cores while the next question's FAISS search runs (synthetic 100,000-sentence index:
    # a question took 48 ms at p50 instead of 26). einsum runs in this thread (~0.1 ms more).
    sims = np.einsum("qd,td->qt", question.vectors[mask], joined)
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
    model = (embedder.model_id, embedder.weights_sha256)
    keys = [(*model, art.sha256, si) for art, si in located]
    with _lock:
        found = {k: _cache[k] for k in keys if k in _cache}
        for k in found:
            _cache.move_to_end(k)
    made: dict[_Key, NDArray[np.int8]] = {}
    unstored: dict[_Key, tuple[StoredArticle, int]] = {}
    wanted: dict[str, tuple[StoredArticle, list[int]]] = {}
    for k, (art, si) in zip(keys, located, strict=True):
        if k not in found:
            wanted.setdefault(art.sha256, (art, []))[1].append(si)
    for sha, (art, sis) in wanted.items():
        stored = _unpack(art.tokens, len(art.sentences), sis) if art.tokens else {}
        for si in sis:
            key = (*model, sha, si)
            if si in stored:
                made[key] = stored[si]
            else:
                unstored[key] = art, si
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
