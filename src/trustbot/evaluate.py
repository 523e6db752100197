"""``trustbot eval``: question sets in the shared/eval format, scored against the live index.

A question set is a ``.jsonl`` file, one question per line::

    {"question": str, "answer": str | null, "evidence": str | null, "article": slug}

Scoring rules (shared/eval/README.md):

- A cited sentence is a *hit* when its text contains ``answer`` and it is the evidence sentence:
  one contains the other, or they share at least half of their words. With no ``evidence``,
  containing ``answer`` is enough. Matching ignores case and runs of whitespace.
- A question is *answerable* when ``answer`` is not null and its ``article`` is in the index.
  A question about an article that is not indexed should be abstained on, like one whose
  ``answer`` is null: that is how "index only the dev articles, ask the holdout questions"
  measures abstention.
- P@1, R@5 and MRR@10 score the ranking (the ten best sentences, before the abstention decision)
  over the answerable questions; *answer rate* is the share of answerable questions answered and
  *abstain rate* the share of unanswerable ones abstained on. *Answered right* is the end-to-end
  number: answered, and the first cited sentence is a hit. *Precision* looks from the other side:
  of the questions answered (answerable or not), the share whose first cited sentence is a hit; a
  quote given for a question the articles do not answer is a wrong one.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustbot.errors import BadInput
from trustbot.text import plain

if TYPE_CHECKING:
    from trustbot.answer import Answerer

RANK_DEPTH = 10
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class EvalQuestion:
    """One line of a question set."""

    question: str
    answer: str | None
    evidence: str | None
    article: str
    source: str  # "file:line", for messages


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


def is_evidence(text: str, evidence: str) -> bool:
    """True if ``text`` is the evidence sentence: one contains the other, or they share at least
    half of the words of each (so a long sentence does not match a short one by containing it
    loosely)."""
    a, b = plain(text), plain(evidence)
    if a in b or b in a:
        return True
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return False
    return len(wa & wb) >= 0.5 * max(len(wa), len(wb))


def is_hit(text: str, q: EvalQuestion) -> bool:
    """True if citing ``text`` answers ``q`` by the shared/eval rule."""
    if q.answer is None or plain(q.answer) not in plain(text):
        return False
    return q.evidence is None or is_evidence(text, q.evidence)


def read_questions(path: Path) -> list[EvalQuestion]:
    """The questions of one ``.jsonl`` file. Raises ``BadInput`` naming the bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise BadInput(f"cannot read question set {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise BadInput(f"question set {path} is not UTF-8 text") from None
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except ValueError:
            raise BadInput(f"{where}: not a JSON object (expected one question per line)") from None
        if not isinstance(row, dict):
            raise BadInput(f"{where}: not a JSON object (expected one question per line)")
        q, answer, evidence, article = (
            row.get(k) for k in ("question", "answer", "evidence", "article")
        )
        if not isinstance(q, str) or not q.strip():
            raise BadInput(f'{where}: "question" must be a non-empty string')
        for key, value in (("answer", answer), ("evidence", evidence)):
            if value is not None and not isinstance(value, str):
                raise BadInput(f'{where}: "{key}" must be a string or null')
        if not isinstance(article, str):
            raise BadInput(f'{where}: "article" must be the article id (a string)')
        questions.append(EvalQuestion(q, answer, evidence, article, where))
    if not questions:
        raise BadInput(f"question set {path} holds no questions")
    return questions


@dataclass(frozen=True)
class QuestionResult:
    """How the answerer did on one question."""

    item: EvalQuestion
    answerable: bool
    answered: bool
    confidence: float
    rank: int | None  # 1-based rank of the first hit within RANK_DEPTH, if any
    first: str  # text of the best-ranked sentence ("" when nothing was retrieved)
    seconds: float  # answering it: embed, retrieve, rank, decide
    bare_seconds: float = 0.0  # a bare embed + FAISS top-10 search of the same question
    # Not answered: the ids of the stories it came closest to (Answerer.closest_stories).
    stories: tuple[str, ...] = ()

    @property
    def right(self) -> bool:
        """Answered, and the first cited sentence is a hit."""
        return self.answered and self.rank == 1


@dataclass(frozen=True)
class Metrics:
    """The numbers for one group of results (a file, or all files together)."""

    name: str
    questions: int
    answerable: int
    unanswerable: int
    p_at_1: float | None
    r_at_5: float | None
    mrr_at_10: float | None
    answer_rate: float | None
    answered_right: float | None
    abstain_rate: float | None
    precision: float | None
    mean_ms: float
    bare_ms: float
    # Questions not answered; of those, how many named the stories that came closest, and how
    # many of these named the question's own article among them.
    refused: int = 0
    refused_named: int = 0
    named_own_article: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON (rates rounded to 4 digits)."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in vars(self).items()}


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def metrics(name: str, results: Sequence[QuestionResult]) -> Metrics:
    """P@1, R@5, MRR@10 and the answer/abstain rates of ``results``."""
    pos = [r for r in results if r.answerable]
    neg = [r for r in results if not r.answerable]
    return Metrics(
        name=name,
        questions=len(results),
        answerable=len(pos),
        unanswerable=len(neg),
        p_at_1=_mean([float(r.rank == 1) for r in pos]),
        r_at_5=_mean([float(r.rank is not None and r.rank <= 5) for r in pos]),
        mrr_at_10=_mean([1.0 / r.rank if r.rank else 0.0 for r in pos]),
        answer_rate=_mean([float(r.answered) for r in pos]),
        answered_right=_mean([float(r.right) for r in pos]),
        abstain_rate=_mean([float(not r.answered) for r in neg]),
        precision=_mean([float(r.right) for r in results if r.answered]),
        mean_ms=1000 * (_mean([r.seconds for r in results]) or 0.0),
        bare_ms=1000 * (_mean([r.bare_seconds for r in results]) or 0.0),
        refused=sum(not r.answered for r in results),
        refused_named=sum(bool(r.stories) for r in results),
        named_own_article=sum(r.item.article in r.stories for r in results),
    )


@dataclass(frozen=True)
class CurvePoint:
    """Answer and abstain rates if the answer threshold were ``threshold``."""

    threshold: float
    answer_rate: float | None
    answered_right: float | None
    abstain_rate: float | None
    precision: float | None


def tradeoff(results: Sequence[QuestionResult], steps: int = 10) -> list[CurvePoint]:
    """Answer rate vs abstain rate as the confidence threshold moves from 0 to 1."""
    pos = [r for r in results if r.answerable]
    neg = [r for r in results if not r.answerable]
    points = []
    for i in range(steps + 1):
        t = i / steps
        points.append(
            CurvePoint(
                threshold=t,
                answer_rate=_mean([float(r.confidence >= t) for r in pos]),
                answered_right=_mean([float(r.confidence >= t and r.rank == 1) for r in pos]),
                abstain_rate=_mean([float(r.confidence < t) for r in neg]),
                # ``rank`` is None for an unanswerable question: answering it is wrong.
                precision=_mean([float(r.rank == 1) for r in results if r.confidence >= t]),
            )
        )
    return points


def run(
    answerer: Answerer,
    questions: Sequence[EvalQuestion],
    progress: Callable[[int, int], None] | None = None,
    conversation: bool = False,
) -> list[QuestionResult]:
    """Ask every question (nothing is ingested) and score the ranking and the decision; with
    ``conversation``, in order as one chat session (followup.py)."""
    from trustbot.followup import Conversation

    indexed = {a.id for a in answerer.articles}
    chat = Conversation() if conversation else None
    results = []
    for i, q in enumerate(questions, start=1):
        # The latency baseline: what a bare dense search of the same question costs, measured
        # right before it so both see the same machine load.
        started = time.perf_counter()
        vector = answerer.embedder.encode([q.question])
        answerer.index.faiss_index.search(vector, RANK_DEPTH)
        bare = time.perf_counter() - started
        started = time.perf_counter()
        decision = answerer.consider(q.question, chat)
        seconds = time.perf_counter() - started
        hits = decision.retrieval.hits[:RANK_DEPTH]
        texts = [answerer.index.text(h.row) for h in hits]
        answerable = q.answer is not None and q.article in indexed
        rank = next((n for n, t in enumerate(texts, start=1) if is_hit(t, q)), None)
        results.append(
            QuestionResult(
                item=q,
                answerable=answerable,
                answered=decision.answered,
                confidence=decision.confidence,
                rank=rank if answerable else None,
                first=texts[0] if texts else "",
                seconds=seconds,
                bare_seconds=bare,
                stories=tuple(s.article_id for s in answerer.closest_stories(decision))
                if not decision.answered
                else (),
            )
        )
        if progress:
            progress(i, len(questions))
    return results


@dataclass(frozen=True)
class Report:
    """Everything ``trustbot eval`` prints."""

    files: list[Metrics]
    total: Metrics
    curve: list[CurvePoint]
    threshold: float
    results: list[QuestionResult]

    def as_dict(self, verbose: bool = False) -> dict[str, Any]:
        """The JSON report; with ``verbose`` the misses too."""
        out: dict[str, Any] = {
            "total": self.total.as_dict(),
            "files": [m.as_dict() for m in self.files],
            "threshold": self.threshold,
            "tradeoff": [
                {k: round(v, 4) if isinstance(v, float) else v for k, v in vars(p).items()}
                for p in self.curve
            ],
        }
        if verbose:
            out["misses"] = [_miss_dict(r) for r in self.results if _is_miss(r)]
        return out


def _is_miss(r: QuestionResult) -> bool:
    return (r.answerable and not r.right) or (not r.answerable and r.answered)


def _miss_dict(r: QuestionResult) -> dict[str, Any]:
    return {
        "where": r.item.source,
        "question": r.item.question,
        "expected": r.item.answer if r.answerable else None,
        "answered": r.answered,
        "confidence": round(r.confidence, 4),
        "rank": r.rank,
        "first": r.first,
    }


def evaluate(
    answerer: Answerer,
    sets: Sequence[tuple[str, Sequence[EvalQuestion]]],
    threshold: float,
    progress: Callable[[int, int], None] | None = None,
    conversation: bool = False,
) -> Report:
    """Run named question sets and gather per-set and overall metrics and the trade-off; with
    ``conversation``, each set is asked in order as one chat session."""
    total = sum(len(qs) for _, qs in sets)
    files: list[Metrics] = []
    results: list[QuestionResult] = []
    for name, qs in sets:
        done = len(results)
        step = None if progress is None else (lambda i, _n, done=done: progress(done + i, total))
        mine = run(answerer, qs, step, conversation)
        files.append(metrics(name, mine))
        results += mine
    return Report(files, metrics("all", results), tradeoff(results), threshold, results)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_report(report: Report, verbose: bool = False) -> str:
    """The plain-text report: a table per question set, the trade-off curve, and the misses."""
    head = (
        f"{'set':28s} {'n':>5s} {'P@1':>6s} {'R@5':>6s} {'MRR@10':>7s} "
        f"{'answer':>7s} {'right':>6s} {'abstain':>8s} {'prec':>6s} {'ms/q':>6s}"
    )
    lines = [head]
    rows = report.files + ([report.total] if len(report.files) > 1 else [])
    for m in rows:
        lines.append(
            f"{m.name[-28:]:28s} {m.questions:5d} {_pct(m.p_at_1):>6s} {_pct(m.r_at_5):>6s} "
            f"{_pct(m.mrr_at_10):>7s} {_pct(m.answer_rate):>7s} {_pct(m.answered_right):>6s} "
            f"{_pct(m.abstain_rate):>8s} {_pct(m.precision):>6s} {m.mean_ms:6.1f}"
        )
    t = report.total
    ratio = t.mean_ms / t.bare_ms if t.bare_ms else 0.0
    lines += [
        "",
        f"latency: {t.mean_ms:.1f} ms a question; a bare embed + FAISS search of the same "
        f"questions {t.bare_ms:.1f} ms ({ratio:.2f}x).",
        *(
            [
                f"stories: {t.refused_named} of the {t.refused} questions not answered named the "
                f"stories that came closest, {t.named_own_article} with the question's own "
                "article among them."
            ]
            if t.refused_named
            else []
        ),
        "P@1/R@5/MRR@10 rank sentences before abstention, over answerable questions (answer given"
        " and article indexed);",
        "answer = share of answerable questions answered; right = answered with a right first"
        " sentence; abstain = share of unanswerable questions abstained on;",
        "prec = share of the questions answered whose first sentence is right (an answer to an"
        " unanswerable question is wrong).",
        "",
        f"trade-off (all sets; current threshold {report.threshold:.3f}):",
        f"  {'threshold':>9s} {'answer':>7s} {'right':>6s} {'abstain':>8s} {'prec':>6s}",
    ]
    for p in report.curve:
        lines.append(
            f"  {p.threshold:9.2f} {_pct(p.answer_rate):>7s} {_pct(p.answered_right):>6s} "
            f"{_pct(p.abstain_rate):>8s} {_pct(p.precision):>6s}"
        )
    if verbose:
        misses = [r for r in report.results if _is_miss(r)]
        lines += ["", f"misses ({len(misses)}):"]
        for r in misses:
            if r.answerable:
                what = "abstained" if not r.answered else f"rank {r.rank or '>10'}"
                lines.append(f"  {r.item.source}: {r.item.question}")
                lines.append(f"    expected {r.item.answer!r}; {what}; first: {r.first[:120]}")
            else:
                lines.append(f"  {r.item.source}: {r.item.question}")
                lines.append(
                    f"    should abstain; answered (confidence {r.confidence:.2f}): {r.first[:120]}"
                )
    return "\n".join(lines)
