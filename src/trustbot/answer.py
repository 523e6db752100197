"""Answers: the values front ends render, and the ``Answerer`` that produces them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from trustbot.config import MAX_QUESTION_CHARS, Settings
from trustbot.errors import BadInput, IndexStale

if TYPE_CHECKING:
    from trustbot.embed import Embedder
    from trustbot.store import LoadedIndex, StoredArticle

NOT_IN_ARTICLES = "The articles don't say."


@dataclass(frozen=True)
class Citation:
    """One quoted sentence: ``text`` is ``body[start:end]`` of the stored article, verbatim."""

    n: int
    article_id: str
    title: str
    sentence_index: int
    text: str
    start: int
    end: int
    score: float
    url: str | None = None
    published: str | None = None


@dataclass(frozen=True)
class Answer:
    """The reply to one question: cited sentences, or ``answered=False`` with no citations."""

    question: str
    answered: bool
    citations: tuple[Citation, ...] = ()

    @property
    def text(self) -> str:
        """The answer in words: the quoted sentences with their [n] markers."""
        if not self.answered:
            return NOT_IN_ARTICLES
        return " ".join(f"{c.text} [{c.n}]" for c in self.citations)


def clean_question(question: str) -> str:
    """Return the question stripped, or raise ``BadInput`` if it is empty or too long."""
    q = " ".join(question.split())
    if not q:
        raise BadInput("the question is empty: type a question about the articles")
    if len(q) > MAX_QUESTION_CHARS:
        raise BadInput(
            f"the question is {len(q)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    return q


# A question is answered only when its best sentence is at least this similar (cosine) or shares
# enough of the question's words. Calibrated on data: see ``trustbot eval``.
MIN_DENSE = 0.35
MIN_FUSED = 0.45
# Further sentences join the first only when they score close to it.
KEEP_RATIO = 0.85


class Answerer:
    """Answers questions from one loaded index generation."""

    def __init__(self, index: LoadedIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Answerer:
        """Load the index for ``settings``; refuse a stale index or one built with another model."""
        from trustbot.corpus import load_corpus
        from trustbot.embed import make_query_embedder
        from trustbot.store import load_index, read_manifest, stale_reason

        articles = load_corpus(settings.corpus_dir)
        reason = stale_reason(read_manifest(settings.index_dir), articles)
        if reason:
            raise IndexStale(
                f"the index in {settings.index_dir} is out of date with the corpus ({reason}); "
                "run `trustbot index build`"
            )
        embedder = embedder or make_query_embedder(settings.model_path, settings.cache_dir)
        return cls(load_index(settings.index_dir, embedder), embedder)

    @property
    def articles(self) -> list[StoredArticle]:
        """The indexed articles, in index order."""
        return self.index.articles

    def ask(self, question: str, top_k: int = 3) -> Answer:
        """Answer ``question`` with up to ``top_k`` cited sentences, or abstain."""
        from trustbot.retrieve import search

        q = clean_question(question)
        hits = search(self.index, self.embedder, q, k=max(top_k, 10))
        if not hits or (hits[0].dense < MIN_DENSE and hits[0].score < MIN_FUSED):
            return Answer(question=q, answered=False)
        best = hits[0].score
        chosen: list[tuple[int, float]] = []
        for hit in hits:
            if len(chosen) >= top_k or hit.score < best * KEEP_RATIO:
                break
            chosen.append((hit.row, hit.score))
        # A quoted sentence keeps its speaker: cite the attribution sentence right after it.
        rows = [r for r, _ in chosen]
        for r, score in list(chosen):
            art, si = self.index.sentence(r)
            speaker = art.speakers[si]
            if speaker is not None:
                srow = self.index.row_of(art.id, speaker)
                if srow is not None and srow not in rows:
                    at = chosen.index((r, score)) + 1
                    chosen.insert(at, (srow, score))
                    rows.insert(at, srow)
        citations = []
        for n, (r, score) in enumerate(chosen[: top_k + 1], start=1):
            art, si = self.index.sentence(r)
            s = art.sentences[si]
            citations.append(
                Citation(
                    n=n,
                    article_id=art.id,
                    title=art.title,
                    sentence_index=si,
                    text=art.body[s.start : s.end],
                    start=s.start,
                    end=s.end,
                    score=round(score, 4),
                    url=art.url,
                    published=art.published,
                )
            )
        return Answer(question=q, answered=True, citations=tuple(citations))
