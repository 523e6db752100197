"""Answers: the values front ends render, and the ``Answerer`` that produces them."""

from __future__ import annotations

from dataclasses import dataclass

from trustbot.config import MAX_QUESTION_CHARS
from trustbot.errors import BadInput

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
