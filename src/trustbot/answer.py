"""Answers: the values front ends render, and the ``Answerer`` that produces them."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trustbot.config import MAX_QUESTION_CHARS, Settings
from trustbot.errors import BadInput, IndexStale

if TYPE_CHECKING:
    from trustbot.embed import Embedder
    from trustbot.followup import Conversation
    from trustbot.retrieve import Hit, Retrieval
    from trustbot.store import LoadedIndex, StoredArticle

NOT_IN_ARTICLES = "The articles don't say."
# Scoped answerers (``Answerer.within``) kept per answerer: each holds its articles' vectors.
SCOPES_KEPT = 32
# A question not answered from several articles names the (at most) STORIES articles holding at
# least STORY_SHARE of the ranker's probability, when its confidence reached STORY_FLOOR. Among
# the bundled article and 294 news reports (command G, a sample of 1,500 paraphrases and 800
# off-topic questions), floors of 0.03 / 0.05 / 0.07 / 0.1: of 445 refused paraphrases 397 /
# 318 / 261 / 203 named stories, the bundled one among them in 255 / 219 / 186 / 149; of 759
# refused off-topic questions 256 / 172 / 120 / 82 did.
STORIES = 3
STORY_SHARE = 0.1
STORY_FLOOR = 0.05


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
class Story:
    """An article by id and title: one a question not answered came closest to
    (``Answer.stories``), or the one a reader chose to ask of (the bot's /story)."""

    article_id: str
    title: str


@dataclass(frozen=True)
class Answer:
    """The reply to one question: cited sentences, or ``answered=False`` with no citations."""

    question: str
    answered: bool
    citations: tuple[Citation, ...] = ()
    # How the question was read when not as asked (followup.Reading.note): in a conversation, or
    # a lone "he" or "she" given a name.
    note: str | None = None
    # When not answered from several articles: those it came closest to, to ask of one of them
    # (``--article``, ``/story``); empty when nothing came close.
    stories: tuple[Story, ...] = ()

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


# Abstention. ``confidence`` is a logistic model over question-level signals (``SIGNALS``), fitted
# by scripts/calibrate_abstention.py on dev data only: xquad-r dev questions asked of six indexes
# of 20 of the 24 dev articles each (questions about the 4 left out are the unanswerable ones),
# the paraphrases, off-topic and absent questions of the bundled-article sets dev, check, holdout,
# blind-dev, blind-holdout and blind2-blind7 (the later blind sets are kept for reporting), and
# squad2-normans. The threshold maximises the worst of: xquad-r dev
# answer rate, its abstain rate on absent articles, bundled paraphrase answer rate, off-topic
# abstain rate, among thresholds that abstain on every off-topic question. Dev numbers at it
# (calibrated model | plain best-cosine threshold chosen by the same rule), refitted in round
# nine with the no_count signal:
#   xquad-r dev, article indexed: answered 0.964 | 0.975
#   xquad-r dev, article not indexed: abstained 0.962 | 0.863
#   bundled article paraphrases: answered 0.966 | 0.790; off-topic: abstained 1.000 | 1.000
#   bundled article, on topic but absent: abstained 0.174 | 0.146
#   squad2-normans answerable: answered 1.000 | 0.969; unanswerable: abstained 0.125 | 0.062
SIGNALS = ("dense", "coverage", "missing_number", "unknown_names", "focus", "no_count")
SIGNAL_WEIGHTS = (2.821, 1.468, -1.610, -3.045, 3.168, -3.092)
SIGNAL_BIAS = -5.148
ANSWER_THRESHOLD = 0.2739

# Advice: "How do I complain?", "Where can I get help?", "Should I worry?", "What would you
# recommend?". A news report tells what happened; it does not advise its reader, so such a
# question is never answered. No answerable question in any set asks this way (0 of 6,260: every
# bundled paraphrase set to blind80, xquad-r dev and holdout, squad2-normans); 329 of 1,660
# off-topic questions and 8 of 1,638 absent ones do. Not "Can I ask who ...?", a courtesy before
# a question about the story.
_ADVICE = re.compile(
    r"\b(?:how|where|what|who|when|which)\b(?:\s+[\w'’]+){0,3}?\s+(?:do|can|could|should|must)\s+i\b"
    r"|^\W*should\s+i\b"
    # A recommendation asked of the bot ("Can you suggest ...?", "What would you recommend?"), not
    # of the story ("What did the review recommend?"), and "the best way to ...".
    r"|\byou\s+(?:please\s+)?(?:would\s+)?(?:recommend|suggest|advise)\b|\bbest\s+way\s+(?:to|of)\b",
    re.I,
)


def asks_advice(question: str) -> bool:
    """Whether ``question`` asks for advice (``_ADVICE``): never answered, whatever the signals."""
    return _ADVICE.search(question) is not None


# Knowledge in general: "What's the difference between an NHS trust and a foundation trust?",
# "How is materiality usually determined?". A news report tells what happened to whom; it does not
# define terms or say what is usual, so such a question is not answered from one
# (``speaks_in_general``). Found in the
# read sets (round fourteen): no question the article answers asks this way (0 of 6,174
# paraphrases and chat questions), 90 of 1,900 off-topic questions do, 6 of the 36 the signals
# answered. In sets not read: 0 of 1,920 answerable, 22 of 400 off-topic, 1 of 400 absent.
# Round twenty-three added what should be done by anyone of a kind ("How often should a trust
# board meet in public?", "What is the recommended quorum ...?", "best practice for ..."): 0 of
# the read sets' paraphrases ask this way, 24 of their off-topic questions do. An article saying
# so ("best practice is ...") speaks in general too. Round twenty-four added how a thing of a kind
# works ("How is a QALY calculated?", "How does capitation differ from ...?", "What is the role of
# an overview and scrutiny committee?"): 62 off-topic and 2 absent questions over every set ask
# this way, no paraphrase, chat turn, xquad-r or normans question does.
_IN_GENERAL = re.compile(
    r"\bdifference\s+between\b|\b(?:usually|typical|typically|normally|generally)\b"
    r"|\b(?:should|must|ought\s+to)\s+(?:a|an|one|you|we)\b|\bthe\s+recommended\b"
    r"|\b(?:best|good)\s+practices?\b"
    r"|\bhow\s+(?:does|do|is|are)\b[^?.]*\b(?:works?|calculated|differs?|measured|determined)\b"
    r"|\bwhat\s+is\s+the\s+(?:role|purpose|function)\s+of\s+an?\b",
    re.I,
)


def asks_in_general(question: str) -> bool:
    """Whether ``question`` asks about a subject in general (``_IN_GENERAL``)."""
    return _IN_GENERAL.search(question) is not None


# The future: "When will the remaining undertakings be lifted?", "When is the next inspection
# due?". Answered only by a sentence that itself looks ahead ("there will be further challenges
# ahead"); a report of what happened does not say when what has not happened will. Read sets
# (round fifteen): 0 of 5,934 paraphrases and chat questions ask this way, 130 of 1,798 absent
# and 19 of 1,820 off-topic questions do; so does 1 of xquad-r's 1,190.
# Round twenty-four added "when does NHSI expect/plan/hope ...": 29 absent and 1 off-topic
# question over every set, no paraphrase or chat turn.
_ASKS_FUTURE = re.compile(
    r"\bwhen\s+(?:will|would)\b"
    r"|\bwhen\s+(?:is|are)\b[^?]*\b(?:due|expect\w*|likely|going|gonna|set\s+to|next)\b"
    r"|\bwhen\s+(?:do|does)\b[^?]*\b(?:expect\w*|plan\w*|intend\w*|hope\w*|anticipat\w*|aim\w*|likely)\b"
    r"|\bwhat\s+happens\s+next\b"
    # Yes or no: "Is the trust going to merge?", "Will its rating go up now?"; not an obligation
    # ("Will they have to get better at listening?"). Round twenty-five: 22 more absent questions
    # over the bundled sets refused, no right answer lost.
    r"|^\W*(?:will|shall|(?:is|are)\b[^?]*\b(?:going|gonna|due|set|likely|expected)\s+to)\b"
    r"(?![^?]*\b(?:have\s+to|has\s+to|need\s+to|must)\b)",
    re.I,
)
# Not "plans" ("developing plans to implement" is what was done) nor "due" ("due to failings").
_LOOKS_AHEAD = re.compile(
    r"\b(?:will|would|shall|expected|expects|next|future|ahead|soon|going\s+to|set\s+to)\b", re.I
)


# What would follow if something happened: "What happens if the trust fails to meet the remaining
# undertakings?", "What penalties would it face if it broke them?". Answered only by a sentence
# that tells a condition or what would follow; "The trust remains subject to some regulatory
# undertakings ..." tells neither. Round twenty-five: 49 more absent questions over the bundled
# sets refused, no right answer lost.
_ASKS_CONSEQUENCE = re.compile(
    r"\b(?:happens?|happened|would|could|might|can)\b[^?]*\bif\b[^?]*"
    r"\b(?:fails?|failed|doesn[’']?t|does\s+not|didn[’']?t|did\s+not|don[’']?t|breaks?|broke"
    r"|breach(?:es|ed)?|miss(?:es|ed)?|slips?|slipped)\b"
    r"|\bwhat\s+if\b",
    re.I,
)
_TELLS_CONSEQUENCE = re.compile(r"\b(?:if|unless|otherwise|would|could|will|might)\b", re.I)


# An origin: "When was the NHS founded?", "What year was the CQC set up?". Answered only by a
# sentence that itself tells of one; the date of anything else is not the answer (round
# twenty-three: 7 off-topic and 8 absent questions over every set ask this way, 1 paraphrase
# asks when someone "started").
_ASKS_ORIGIN = re.compile(
    r"^\W*(?:when|what\s+year|which\s+year|in\s+what\s+year)\b[^?]*"
    r"\b(?:founded|set\s+up|established|created|formed|launched)\b",
    re.I,
)
_TELLS_ORIGIN = re.compile(
    r"\b(?:found(?:ed|ing|er|ers)?|set\s+up|establish\w*|creat\w*|form(?:ed|ation)|launch\w*)\b",
    re.I,
)

# What a question asks, and what a sentence must say to answer it: the future, what would follow
# if, an origin (``Answerer._beyond``).
_ASKS_AND_TELLS = (
    (_ASKS_FUTURE, _LOOKS_AHEAD),
    (_ASKS_CONSEQUENCE, _TELLS_CONSEQUENCE),
    (_ASKS_ORIGIN, _TELLS_ORIGIN),
)


# Per loaded article, as followup's speakers are: whether it ever says what is usual.
@functools.lru_cache(maxsize=64)
def speaks_in_general(art: StoredArticle) -> bool:
    """Whether ``art`` itself speaks in general (``_IN_GENERAL``). An encyclopedia's article
    does ("Function problems can typically be restated ..."), and a question asked in general
    about it may be answered: refusing them all cost xquad-r dev 8 of its 612 questions
    (answered 0.962 -> 0.949, below issue 4's 0.95); a news report like the bundled one does
    not, and is never taken to answer one."""
    return _IN_GENERAL.search(art.body) is not None


# Composition: a further sentence is cited beside the best one when the ranker gives it at least
# this probability of being the answer. The ranker's softmax is fitted as that probability and is
# calibrated on dev (second-ranked sentences given 0.2-0.3 were right 27% of the time, those given
# 0.1-0.2 18%), so a second or third sentence appears when it has a one-in-five chance of being
# the answer: about one answer in five gets one.
SECOND_OPINION = 0.2
# Sentences sharing at least this share of their words with one already cited add nothing.
NEAR_DUPLICATE = 0.7

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_WORD = re.compile(r"\w+")


def _paragraph_text(index: LoadedIndex, row: int) -> str:
    from trustbot.retrieve import paragraph_rows

    return " ".join(index.text(r) for r in paragraph_rows(index, row))


def signals(index: LoadedIndex, retrieval: Retrieval) -> list[float]:
    """The ``SIGNALS`` of a retrieval: how well its best sentence fits the question.

    ``dense``: the best sentence's cosine; ``coverage``: the idf-weighted share of the question's
    terms it holds; ``missing_number``: the question names a number its paragraph lacks ("in
    1066" when the paragraph says 1067); ``unknown_names``: the share of the question's names
    that appear nowhere in the index (a question about another story names people and places
    this corpus never mentions); ``focus``: the share of the ranker's probability that falls on
    the best sentence's article (a question no article answers scatters over several);
    ``no_count``: a how-many question whose best sentence counts nothing new of what it counts
    ("How many patients died?" asked of a story that never counts them), or a how-much question
    about money whose best sentence names no sum ("How much did the review cost?").
    """
    from trustbot.retrieve import lacks_quantity

    top, kind = retrieval.hits[0], retrieval.kind
    paragraph = _paragraph_text(index, top.row).casefold()
    numbers = _NUMBER.findall(retrieval.question)
    return [
        top.dense,
        top.coverage,
        float(any(n not in paragraph for n in numbers)),
        retrieval.unknown_names,
        _focus(index, retrieval.hits),
        float(lacks_quantity(kind, index.text(top.row), retrieval.question)),
    ]


def _focus(index: LoadedIndex, hits: Sequence[Hit]) -> float:
    """The share of the ranker's probability on the best sentence's article."""
    article = index.rows[hits[0].row][0]
    total = sum(h.probability for h in hits)
    mine = sum(h.probability for h in hits if index.rows[h.row][0] == article)
    return mine / total if total > 0 else 1.0


def confidence(values: Sequence[float]) -> float:
    """The calibrated probability-like score that the articles answer the question."""
    z = SIGNAL_BIAS + sum(w * v for w, v in zip(SIGNAL_WEIGHTS, values, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


@dataclass(frozen=True)
class Decision:
    """What the answerer made of one question: the ranking, its confidence, answer or not."""

    retrieval: Retrieval
    confidence: float
    answered: bool
    # How the question was read when not as asked (followup.Reading.note): in a conversation, or
    # a lone "he" or "she" given a name.
    note: str | None = None


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


class Answerer:
    """Answers questions from one loaded index generation."""

    def __init__(
        self, index: LoadedIndex, embedder: Embedder, scope: tuple[str, ...] | None = None
    ) -> None:
        self.index = index
        self.embedder = embedder
        # The ids of the articles searched when not all of them (``within``).
        self.scope = scope
        self._scopes: dict[tuple[str, ...], Answerer] = {}

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Answerer:
        """Load the index for ``settings``; refuse a stale index or one built with another model."""
        from trustbot.embed import make_embedder
        from trustbot.store import corpus_staleness, load_index

        reason = corpus_staleness(settings.index_dir, settings.corpus_dir)
        if reason:
            raise IndexStale(
                f"the index in {settings.index_dir} is out of date with the corpus ({reason}); "
                "run `trustbot index build`"
            )
        embedder = embedder or make_embedder(settings.model_path, settings.cache_dir)
        return cls(load_index(settings.index_dir, embedder), embedder)

    @functools.cached_property
    def articles(self) -> list[StoredArticle]:
        """The articles searched (all the indexed ones unless scoped), in index order."""
        if self.scope is None:
            return self.index.articles
        return [a for a in self.index.articles if a.id in self.scope]

    def within(self, articles: Sequence[str]) -> Answerer:
        """An answerer that searches only ``articles`` (ids or file names) of the whole index, as
        if it held nothing else (scope.py); itself when none are named or they are all of them
        (ask it of the answerer of the whole index). ``BadInput`` names an article the index
        does not hold."""
        from trustbot.scope import resolve, scoped

        ids = resolve(self.index, articles)
        if not ids or len(ids) == len(self.index.articles):
            return self
        found = self._scopes.get(ids)
        if found is None:
            if len(self._scopes) >= SCOPES_KEPT:
                self._scopes.clear()
            found = self._scopes[ids] = Answerer(scoped(self.index, ids), self.embedder, ids)
        return found

    def consider(self, question: str, conversation: Conversation | None = None) -> Decision:
        """Rank the sentences for ``question`` and decide whether the articles answer it; within
        a ``conversation``, a follow-up is read with what came before, and a "he" or "she" that
        nothing before explains is read as the person the best sentence's article quotes
        (followup.py)."""
        from trustbot.followup import lone_reading
        from trustbot.retrieve import retrieve

        reading = conversation.read(question, self.index) if conversation else None
        query = reading.query if reading else question
        retrieval = retrieve(self.index, self.embedder, clean_question(query))
        if retrieval.hits:
            # "Is he expecting more trouble?" with no one before it: searched again with the
            # name of the person the best sentence's article quotes whose first name fits.
            lone = lone_reading(question, reading, self.index.sentence(retrieval.hits[0].row)[0])
            if lone:
                reading = lone
                retrieval = retrieve(self.index, self.embedder, lone.query)
        note = reading.note if reading else None
        # The rules read the question as typed, not as searched with what came before it.
        if not retrieval.hits or asks_advice(question) or self._beyond(question, retrieval):
            decision = Decision(retrieval, 0.0, False, note)
        else:
            c = confidence(signals(self.index, retrieval))
            decision = Decision(retrieval, c, c >= ANSWER_THRESHOLD, note)
        if conversation:
            conversation.heard(self.index, question, decision)
        return decision

    def _beyond(self, question: str, retrieval: Retrieval) -> bool:
        """Whether the best sentence cannot tell what ``question`` asks, whatever the signals:
        the future, with no look ahead; what would follow if, with no condition; an origin, with
        none told; how long, with no time; who came before or holds a post, naming no one new;
        who had a thing done, lacking a name the question holds (read with the sentence before
        it when it opens "This ..."); where a thing is based, with no place; whose death it
        was, naming no person; what someone did before, naming nothing new; which hospitals or
        sites, naming none; how a group took the news, with no one of it speaking in the
        paragraph; or a question asked in general, of an article that never speaks in general."""
        from trustbot.retrieve import (
            lacks_commissioned,
            lacks_facility,
            lacks_past,
            lacks_person,
            lacks_place,
            lacks_someone,
            lacks_span,
            lacks_voice,
        )

        best, si = self.index.sentence(retrieval.hits[0].row)
        text = best.text(si)
        before = best.text(si - 1) if si > 0 else ""
        return (
            any(asks.search(question) and not tells.search(text) for asks, tells in _ASKS_AND_TELLS)
            or lacks_span(text, question)
            or lacks_someone(text, question)
            or lacks_place(text, question)
            or lacks_person(text, question)
            or lacks_past(text, question)
            or lacks_facility(text, question)
            or lacks_commissioned(text, before, question)
            or lacks_voice(_paragraph_text(self.index, retrieval.hits[0].row), question)
            or (asks_in_general(question) and not speaks_in_general(best))
        )

    def ask(
        self, question: str, top_k: int = 3, conversation: Conversation | None = None
    ) -> Answer:
        """Answer ``question`` with up to ``top_k`` cited sentences, or abstain; within a
        ``conversation``, a follow-up is read with what came before (followup.py)."""
        q = clean_question(question)
        decision = self.consider(q, conversation)
        if not decision.answered:
            return Answer(q, False, note=decision.note, stories=self.closest_stories(decision))
        rows = self._compose(decision.retrieval.hits, top_k)
        citations = []
        for n, (r, score) in enumerate(rows, start=1):
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
        return Answer(question=q, answered=True, citations=tuple(citations), note=decision.note)

    def closest_stories(self, decision: Decision) -> tuple[Story, ...]:
        """The articles a question not answered came closest to (``STORIES``), if it was asked
        of several and came near enough to answering."""
        if decision.confidence < STORY_FLOOR or len(self.articles) < 2:
            return ()
        share: dict[int, float] = {}
        for h in decision.retrieval.hits:
            ai = self.index.rows[h.row][0]
            share[ai] = share.get(ai, 0.0) + h.probability
        total = sum(share.values())
        best = sorted(share, key=lambda ai: -share[ai])[:STORIES]
        found = [self.index.articles[ai] for ai in best if share[ai] >= STORY_SHARE * total]
        return tuple(Story(a.id, a.title) for a in found)

    def _compose(self, hits: Sequence[Hit], top_k: int) -> list[tuple[int, float]]:
        """The rows to cite, best first: the best sentence; others only when the ranker thinks
        they may well be the answer too and they are not near-repeats; each quotation followed by
        the sentence naming its speaker. At most ``top_k`` ranked sentences plus one speaker."""
        chosen: list[tuple[int, float]] = []
        seen: list[set[str]] = []
        for hit in hits:
            if len(chosen) >= top_k:
                break
            # Hits come in the reranker's order, not by probability: a later one may still pass.
            if chosen and hit.probability < SECOND_OPINION:
                continue
            words = _words(self.index.text(hit.row))
            if any(len(words & w) >= NEAR_DUPLICATE * min(len(words), len(w)) for w in seen):
                continue
            chosen.append((hit.row, hit.probability))
            seen.append(words)
        out: list[tuple[int, float]] = []
        for r, p in chosen:
            if any(r == o for o, _ in out):
                continue
            out.append((r, p))
            art, si = self.index.sentence(r)
            speaker = art.speakers[si]
            srow = None if speaker is None else self.index.row_of(art.id, speaker)
            if srow is not None and all(srow != o for o, _ in out):
                out.append((srow, p))
        return out[: top_k + 1]
