"""Segments: adding an article to a large index without rebuilding it.

A full build writes one generation: ``vectors.faiss``, ``table.json`` and ``lexical/`` in the
generation folder (the *base*). Rebuilding those costs time proportional to the whole corpus
(at 1M sentences here the FAISS index alone took ~70 s and BM25 ~35 s), so once the index holds
``MIN_ROWS`` sentences a write that only *adds* articles keeps the base as it is and writes the
new articles into a small segment, ``segments/<name>/`` with the same three files. The new
generation folder hard-links the files of the base and of the earlier segments (no copy), so
every generation stays self-contained and the store's atomic swap and clean-up work unchanged.

Search runs over the base and the segments as one index: ``vectors.Segments`` merges the FAISS
results, and ``SegmentedLexical`` joins the BM25 postings, rescaling each segment's term weights
to corpus-wide document frequencies (bm25s bakes the idf of the segment it was built on into its
scores; a 25-sentence segment would otherwise weigh every word as rare).

Manifest: ``base_articles`` is how many of ``articles`` the base holds (they come first, in the
base's order); ``segments`` lists each segment's ``name``, ``articles`` (the next that many
entries), ``rows`` and ``faiss`` entry. When a write would make more than ``MAX_SEGMENTS``
segments, the segments (not the base) are merged into one, from the stored per-article vectors.
Removing or changing an article rebuilds everything, as before.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from trustbot.lexical import LexicalIndex

# Below this many sentences a full rebuild is cheap (10k sentences took 0.5 s here): keep one base.
MIN_ROWS = 20_000
MAX_SEGMENTS = 8
FOLDER = "segments"


@dataclass
class Plan:
    """What a write keeps from the live generation (nothing: a full rebuild)."""

    base_articles: int = 0
    segments: list[dict[str, Any]] = field(default_factory=list)
    # The old manifest's entries for the kept articles, in row order.
    entries: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0
    old_gen: Path | None = None

    @property
    def appends(self) -> bool:
        return self.old_gen is not None

    @functools.cached_property
    def kept_ids(self) -> frozenset[str]:
        return frozenset(str(e["id"]) for e in self.entries)


def plan(
    old: dict[str, Any] | None,
    current: dict[str, str],
    same_model: bool,
    index_dir: Path,
) -> Plan:
    """Whether a write of the articles ``current`` (id -> sha256) can append a segment.

    Only when it adds articles and removes or changes none, with the same model and text
    recipe, to an index of at least ``MIN_ROWS`` sentences written in this layout.
    """
    if not old or not same_model or "base_articles" not in old:
        return Plan()
    entries = list(old.get("articles", []))
    held = {str(e["id"]): str(e["sha256"]) for e in entries}
    rows = int(old.get("counts", {}).get("sentences", 0))
    old_gen = index_dir / str(old.get("generation"))
    if (
        rows < MIN_ROWS
        or not old_gen.is_dir()
        or any(current.get(aid) != sha for aid, sha in held.items())
        or not current.keys() - held.keys()
    ):
        return Plan()
    base = int(old["base_articles"])
    segments = list(old.get("segments", []))
    if len(segments) + 1 > MAX_SEGMENTS:
        segments = []  # merge them: their articles join the new segment, from stored vectors
    kept = base + sum(int(s["articles"]) for s in segments)
    kept_rows = sum(int(e["sentences"]) for e in entries[:kept])
    return Plan(base, segments, entries[:kept], kept_rows, old_gen)


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


def link_kept(p: Plan, gen_dir: Path, base_files: Sequence[str]) -> None:
    """Bring the kept base and segments of the live generation into the new one, by hard link."""
    assert p.old_gen is not None
    for name in base_files:
        _link(p.old_gen / name, gen_dir / name)
    for seg in p.segments:
        _link(p.old_gen / FOLDER / seg["name"], gen_dir / FOLDER / seg["name"])


def _lucene_idf(n: int, df: int) -> float:
    # bm25s's default ("lucene") idf, the weight its stored scores carry.
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


class SegmentedLexical:
    """BM25 over several lexical indexes as one, rows numbered on from one part to the next."""

    def __init__(self, parts: Sequence[LexicalIndex]) -> None:
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [p.size for p in self.parts])
        self.size = int(self.offsets[-1])

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
            df = sum(len(rows) for _, (rows, _) in found)
            idf = _lucene_idf(self.size, df)
            rows_all, scores_all = [], []
            for i, (rows, scores) in found:
                local = _lucene_idf(self.parts[i].size, len(rows))
                rows_all.append(rows + int(self.offsets[i]))
                scores_all.append(scores * np.float32(idf / local))
            out.append((token, np.concatenate(rows_all), np.concatenate(scores_all)))
        return out

    def scores(self, query: str) -> NDArray[np.float32]:
        """BM25 score of every row for ``query``."""
        from trustbot.lexical import tokenize

        out = np.zeros(self.size, dtype=np.float32)
        for _, rows, scores in self.postings(tokenize([query])[0]):
            out[rows] += scores
        return out
