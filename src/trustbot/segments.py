"""Segments: adding, changing or removing an article in a large index without rebuilding it.

A full build writes one generation: ``vectors.faiss``, ``table.json``, ``lexical/``,
``articles.json`` and ``keys.npz`` in the generation folder (the *base*). Rebuilding those costs
time proportional to the whole corpus (at 1M sentences here the FAISS index alone took ~70 s and
BM25 ~35 s), so once the index holds ``MIN_ROWS`` sentences a write keeps the base as it is and
writes new articles into a small segment, ``segments/<name>/`` with the same files. The new
generation folder hard-links the files of the base and of the earlier segments (no copy), so
every generation stays self-contained and the store's atomic swap and clean-up work unchanged.

Search runs over the base and the segments as one index: ``vectors.Segments`` merges the FAISS
results, and ``SegmentedLexical`` joins the BM25 postings, rescaling each segment's term weights
to corpus-wide document frequencies (bm25s bakes the idf of the segment it was built on into its
scores; a 25-sentence segment would otherwise weigh every word as rare).

Manifest: ``base_articles``/``base_rows`` are what the base holds; ``segments`` lists each
segment's ``name``, ``articles``, ``rows`` and ``faiss`` entry. Each part lists its articles in
its own ``articles.json`` (row order) and ``keys.npz`` (ids, hashes, corpus file names, sentence
counts as arrays, for finding an article without parsing the table).

Removing or changing an article does not rebuild either: its position goes on its part's
``deleted`` list (``base_deleted`` for the base; a tombstone) and its rows on ``dead_rows``; the
rows stay in the files, and ``vectors.Segments`` and ``SegmentedLexical`` skip them (BM25
document frequencies count live rows only). A changed article is a tombstone plus the new
version in a new segment. When a write would make more than ``MAX_SEGMENTS`` segments, the
segments (not the base) are merged into one, from the stored per-article vectors, dropping their
tombstones; when deleted rows exceed ``store.write.MAX_DEAD_SHARE`` of the live ones, the next
write rebuilds one base (from stored vectors; nothing is embedded again).
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from trustbot.lexical import LexicalIndex

# Below this many sentences a full rebuild is cheap (10k sentences took 0.5 s here): keep one base.
MIN_ROWS = 20_000
MAX_SEGMENTS = 8
FOLDER = "segments"


def _link(src: Path, dst: Path) -> None:
    """Hard-link the file ``src``, or every file under the folder ``src``, to ``dst`` (copying
    where a link is impossible)."""
    files = [src] if src.is_file() else [Path(r) / f for r, _, fs in os.walk(src) for f in fs]
    for path in files:
        target = dst / path.relative_to(src) if path != src else dst
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)


def link_kept(
    old_gen: Path, gen_dir: Path, base_files: Sequence[str], names: Sequence[str]
) -> None:
    """Bring the base and the named segments of the live generation into the new one, by hard
    link."""
    for name in base_files:
        _link(old_gen / name, gen_dir / name)
    for name in names:
        _link(old_gen / FOLDER / name, gen_dir / FOLDER / name)


def lucene_idf(n: int, df: int) -> float:
    # bm25s's default ("lucene") idf, the weight its stored scores carry.
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


class SegmentedLexical:
    """BM25 over several lexical indexes as one, rows numbered on from one part to the next.

    ``dead`` holds, per part, the sorted part rows of deleted articles: never returned, and not
    counted in document frequencies.
    """

    def __init__(
        self, parts: Sequence[LexicalIndex], dead: Sequence[NDArray[np.int64]] | None = None
    ) -> None:
        self.parts = list(parts)
        self.dead = list(dead) if dead is not None else [np.zeros(0, np.int64)] * len(self.parts)
        self.offsets = np.cumsum([0] + [p.size for p in self.parts])
        self.size = int(self.offsets[-1])
        self.live = self.size - sum(int(d.size) for d in self.dead)

    def vocabulary(self) -> list[str]:
        """Every token indexed in any part."""
        return list(dict.fromkeys(t for p in self.parts for t in p.vocabulary()))

    def postings(
        self, tokens: Sequence[str]
    ) -> list[tuple[str, NDArray[np.int64], NDArray[np.float32]]]:
        """Like ``LexicalIndex.postings``, with each part's idf replaced by the corpus-wide one."""
        per_part = [dict((t, (r, s)) for t, r, s in p.postings(tokens)) for p in self.parts]
        out = []
        for token in dict.fromkeys(tokens):
            found = [(i, hit[token]) for i, hit in enumerate(per_part) if token in hit]
            if not found:
                continue
            # Each part's scores carry the idf of that part as built (deleted rows included).
            local = [lucene_idf(self.parts[i].size, len(rows)) for i, (rows, _) in found]
            kept = []
            for i, (rows, scores) in found:
                if self.dead[i].size:
                    alive = ~np.isin(rows, self.dead[i])
                    rows, scores = rows[alive], scores[alive]
                kept.append((i, rows, scores))
            idf = lucene_idf(self.live, sum(len(rows) for _, rows, _ in kept))
            rows_all, scores_all = [], []
            for (i, rows, scores), was in zip(kept, local, strict=True):
                rows_all.append(rows + int(self.offsets[i]))
                scores_all.append(scores * np.float32(idf / was))
            out.append((token, np.concatenate(rows_all), np.concatenate(scores_all)))
        return out

    def scores(self, query: str) -> NDArray[np.float32]:
        """BM25 score of every row for ``query``."""
        from trustbot.lexical import text_tokens

        out = np.zeros(self.size, dtype=np.float32)
        for _, rows, scores in self.postings(text_tokens(query)):
            out[rows] += scores
        return out
