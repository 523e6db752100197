"""A generation of the index loaded for searching: its FAISS and lexical indexes, its row table
and its articles, whose bodies are read from their stored files when first needed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trustbot import segments
from trustbot.embed import Embedder
from trustbot.errors import IndexCorrupt, TrustbotError
from trustbot.store.manifest import (
    REBUILD_HINT,
    check_model,
    generation_parts,
    part_entries,
    read_manifest,
)
from trustbot.text import Sentence


class StoredArticle:
    """An indexed article: its metadata, and its body and sentence offsets.

    Loaded indexes read the body and offsets lazily, from the article's stored file, the first
    time a question needs them: opening an index of 40,000 articles then reads one table per
    index part instead of 40,000 files.
    """

    def __init__(
        self,
        id: str,
        title: str,
        sha256: str,
        body: str | None = None,
        sentences: tuple[Sentence, ...] | None = None,
        speakers: tuple[int | None, ...] | None = None,
        url: str | None = None,
        published: str | None = None,
        source: str | None = None,
        *,
        file: Path | None = None,
        tokens: Path | None = None,
    ) -> None:
        self.id, self.title, self.sha256 = id, title, sha256
        # Its sentences' token vectors (token_match.py), if the index stores them.
        self.tokens = tokens
        self.url, self.published, self.source = url, published, source
        self._file = file
        if body is not None:
            self.body, self.sentences, self.speakers = body, sentences or (), speakers or ()

    # Set on first use (``__getattr__`` runs only while they are missing), so that once loaded
    # they cost what plain attributes cost: retrieval reads them in its inner loops.
    body: str
    sentences: tuple[Sentence, ...]
    speakers: tuple[int | None, ...]

    def __getattr__(self, name: str) -> object:
        file = self.__dict__.get("_file")
        if name not in ("body", "sentences", "speakers") or file is None:
            raise AttributeError(name)
        self.body, self.sentences, self.speakers = read_article_file(file)
        return self.__dict__[name]

    def text(self, i: int) -> str:
        """Sentence ``i``, cut from the body by its offsets."""
        s = self.sentences[i]
        return self.body[s.start : s.end]


def read_article_file(
    path: Path,
) -> tuple[str, tuple[Sentence, ...], tuple[int | None, ...]]:
    """An article's stored body, sentence offsets and speakers."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        sentences = tuple(
            Sentence(index=i, start=s, end=e, paragraph=p)
            for i, (s, e, p) in enumerate(data["sentences"])
        )
        return str(data["body"]), sentences, tuple(data["speakers"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise IndexCorrupt(f"index file {path} is unreadable ({err}); {REBUILD_HINT}") from None


def open_article(index_dir: Path, entry: dict[str, Any], *, lazy: bool = True) -> StoredArticle:
    """The article an index entry describes; its body is read now or, ``lazy``, when needed."""
    stored = StoredArticle(
        id=entry["id"],
        title=entry["title"],
        sha256=entry["sha256"],
        url=entry.get("url"),
        published=entry.get("published"),
        source=entry.get("source"),
        file=index_dir / entry["file"],
        tokens=index_dir / entry["tokens"] if entry.get("tokens") else None,
    )
    if not lazy:
        stored.body  # noqa: B018 - read (and check) the stored file now
    return stored


@dataclass
class LoadedIndex:
    """A generation of the index, loaded and ready to search."""

    index_dir: Path
    manifest: dict[str, Any]
    # The live articles (their bodies are read when first needed).
    articles: list[StoredArticle]
    # rows[i] = (position in ``articles``, sentence index) for FAISS/lexical row i; position -1
    # for the rows of deleted articles, which searches never return.
    rows: list[tuple[int, int]]
    faiss_index: Any
    lexical: Any
    _first_row: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        # Rows are laid out article by article, so a sentence's row is its article's first row
        # plus its index.
        self._first_row = {}
        for row, (ai, si) in enumerate(self.rows):
            if si == 0 and ai >= 0:
                self._first_row[self.articles[ai].id] = row

    def row_of(self, article_id: str, sentence_index: int) -> int | None:
        """The search row of an article's sentence."""
        first = self._first_row.get(article_id)
        return None if first is None else first + sentence_index

    @property
    def generation(self) -> str:
        return str(self.manifest["generation"])

    def sentence(self, row: int) -> tuple[StoredArticle, int]:
        """The article and sentence index behind a search row."""
        ai, si = self.rows[row]
        return self.articles[ai], si

    def text(self, row: int) -> str:
        """The sentence behind a search row, as stored."""
        art, si = self.sentence(row)
        return art.text(si)


def load_index(index_dir: Path, embedder: Embedder | None = None) -> LoadedIndex:
    """Load the live generation. With ``embedder``, refuse an index built with another model.

    A writer may swap in a new manifest while we read the generation the old one named, and a
    later write may then delete that generation's files; we start over from the new manifest.
    """
    for attempt in range(3):
        manifest = read_manifest(index_dir, entries=False)
        if embedder is not None:
            check_model(manifest, embedder, index_dir)
        try:
            return _load_generation(index_dir, manifest)
        except IndexCorrupt:
            try:
                swapped = read_manifest(index_dir, entries=False).get("generation") != manifest.get(
                    "generation"
                )
            except TrustbotError:
                swapped = False
            if attempt == 2 or not swapped:
                raise
    raise AssertionError("unreachable")


def _load_generation(index_dir: Path, manifest: dict[str, Any]) -> LoadedIndex:
    from trustbot import vectors
    from trustbot.lexical import LexicalIndex

    gen_dir = index_dir / str(manifest.get("generation"))
    articles: list[StoredArticle] = []
    counts: list[int] = []
    rows: list[tuple[int, int]] = []
    indexes, lexicals, dead_rows = [], [], []
    try:
        for folder, info in generation_parts(manifest):
            part_dir = gen_dir / folder
            deleted = set(info.get("deleted", []))
            live: list[int] = []  # part position -> position in ``articles`` (-1: deleted)
            for pos, entry in enumerate(part_entries(gen_dir, folder)):
                live.append(-1 if pos in deleted else len(articles))
                if pos not in deleted:
                    articles.append(open_article(index_dir, entry))
                    counts.append(int(entry["sentences"]))
            first = len(rows)
            rows.extend(
                (live[int(a)], int(s)) for a, s in json.loads((part_dir / "table.json").read_text())
            )
            dead_rows.append(
                np.array([r - first for r in range(first, len(rows)) if rows[r][0] < 0], np.int64)
                if deleted
                else np.zeros(0, dtype=np.int64)
            )
            indexes.append(vectors.load(part_dir, info.get("faiss", {})))
            lexicals.append(LexicalIndex.load(part_dir / "lexical"))
    except IndexCorrupt:
        raise
    except Exception as err:  # faiss raises RuntimeError, json ValueError, files OSError
        raise IndexCorrupt(
            f"the index in {index_dir} is unreadable ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); {REBUILD_HINT}"
        ) from None
    faiss_index: Any = indexes[0]
    lexical: Any = lexicals[0]
    if len(indexes) > 1 or dead_rows[0].size:
        faiss_index = vectors.Segments(indexes, dead_rows)
        lexical = segments.SegmentedLexical(lexicals, dead_rows)
    if faiss_index.ntotal != len(rows) or any(
        not (-1 <= a < len(articles) and 0 <= s < (counts[a] if a >= 0 else s + 1)) for a, s in rows
    ):
        raise IndexCorrupt(f"the index in {index_dir} is inconsistent; {REBUILD_HINT}")
    return LoadedIndex(index_dir, manifest, articles, rows, faiss_index, lexical)
