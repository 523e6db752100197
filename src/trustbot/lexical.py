"""The lexical (BM25) side of retrieval, on bm25s with an English Snowball stemmer."""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray


@functools.lru_cache(maxsize=1)
def _bm25s() -> Any:
    import bm25s

    # bm25s sets its own logger to DEBUG on import; we are a library here.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


@functools.lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens of each text."""
    return _bm25s().tokenize(  # type: ignore[no-any-return]
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )


# bm25s's own word pattern: its tokens are found word by word, so one word's tokens are the same
# wherever the word stands.
_WORD = re.compile(r"(?u)\b\w\w+\b")


# Words whose tokens are remembered; past this many the memory starts afresh.
WORDS_KNOWN = 65536
_known: dict[str, tuple[str, ...]] = {}
_known_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    # The list ``tokenize``'s stopwords="en" stands for.
    return frozenset(_bm25s().tokenization.STOPWORDS_EN)


def text_tokens(text: str) -> list[str]:
    """``tokenize`` of one text, a remembered word at a time: words recur across questions.

    A word not yet known is what ``tokenize`` makes of it alone: nothing for a stop word, else
    its stem. That is bm25s's tokenizer word by word, without its cost of a tenth of a
    millisecond a call however short the text.
    """
    words = _WORD.findall(text.lower())
    with _known_lock:
        known = {w: _known[w] for w in words if w in _known}
    new = [w for w in dict.fromkeys(words) if w not in known]
    if new:
        stop = _stopwords()
        stems = _stemmer().stemWords(new)
        made = {w: () if w in stop else (s,) for w, s in zip(new, stems, strict=True)}
        known.update(made)
        with _known_lock:
            if len(_known) + len(made) > WORDS_KNOWN:
                _known.clear()
            _known.update(made)
    return [t for w in words for t in known[w]]


class LexicalIndex:
    """BM25 scores over the sentence table (row ``i`` = FAISS row ``i``)."""

    def __init__(self, retriever: Any, size: int) -> None:
        self._retriever = retriever
        self.size = size
        self.live = size  # the rows searched, for idf: all of them (see SegmentedLexical, scope)

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        retriever = _bm25s().BM25()
        tokens = tokenize(texts) if texts else []
        if not any(tokens):
            # bm25s cannot index a corpus without a single token (no articles left after
            # `trustbot remove`, or only stop words): one extra row holding a token no query can
            # contain keeps every real row at 0 (``scores`` cuts the extra row off).
            tokens = [*tokens, ["\x00"]]
        retriever.index(tokens, show_progress=False)
        return cls(retriever, len(texts))

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)
        (folder / "size.txt").write_text(str(self.size))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        size = int((folder / "size.txt").read_text())
        retriever = _bm25s().BM25.load(str(folder), show_progress=False)
        return cls(retriever, size)

    def scores(self, query: str) -> NDArray[np.float32]:
        """BM25 score of every row for ``query`` (zeros when no query term is indexed)."""
        if self.size == 0:
            return np.zeros(0, dtype=np.float32)
        tokens = [t for t in text_tokens(query) if t in self._retriever.vocab_dict]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)[: self.size]

    def vocabulary(self) -> list[str]:
        """Every indexed token."""
        return list(self._retriever.vocab_dict)

    def postings(
        self, tokens: Sequence[str]
    ) -> list[tuple[str, NDArray[np.int64], NDArray[np.float32]]]:
        """For each indexed token (from ``tokenize``): the rows holding it and its BM25 share there.

        Read straight from bm25s's term-by-document score matrix, so the cost is the length of
        the postings, not the number of rows; summing the shares gives ``scores``.
        """
        if self.size == 0:
            return []
        vocab = self._retriever.vocab_dict
        matrix = self._retriever.scores
        data, indices, indptr = matrix["data"], matrix["indices"], matrix["indptr"]
        out = []
        for token in dict.fromkeys(tokens):
            tid = vocab.get(token)
            if tid is None:
                continue
            lo, hi = int(indptr[tid]), int(indptr[tid + 1])
            rows = np.asarray(indices[lo:hi], dtype=np.int64)
            keep = rows < self.size
            out.append((token, rows[keep], np.asarray(data[lo:hi], dtype=np.float32)[keep]))
        return out
