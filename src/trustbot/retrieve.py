"""Hybrid retrieval and ranking: which sentences answer a question, best first.

    question -> dense top-N (FAISS) + lexical top-N (BM25 postings) -> candidate sentences
             -> a few signals per candidate -> one linear score -> ranked ``Hit``s

The signals (``FEATURES``) are cheap: one model pass for the question, a FAISS search, the BM25
postings of the question's terms, and some arithmetic over at most ``2 * CANDIDATES`` sentences.
Their weights (``WEIGHTS``) were fitted on the dev question sets by ``scripts/tune_ranker.py``
(see its docstring and docs/quality.md): a listwise softmax over each question's candidates,
checked by cross-validation over articles, so nothing here is a weight picked by eye.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from trustbot import token_match
from trustbot.embed import Embedder, Tokens
from trustbot.lexical import text_tokens
from trustbot.passages import SPEECH_VERBS, speaker_phrase
from trustbot.rerank import RERANK, Trees, reorder
from trustbot.rerank import load as load_trees
from trustbot.store import LoadedIndex, StoredArticle
from trustbot.text import plain

# How many sentences each side (dense, lexical) proposes before ranking. On xquad-r dev the right
# sentence is among the 40 + 40 candidates for 99% of questions (606 of 612).
CANDIDATES = 40
# Weight of the dense score in the base fusion that ranks paragraphs and articles (the paragraph
# and article signals below); 0.7 is the best plain dense+BM25 mix on xquad-r dev.
BASE_DENSE = 0.7
# A passage (the context a sentence is judged in) is its paragraph, widened to at least this many
# sentences: news runs one-sentence paragraphs, whose context is the sentence before. 4-fold P@1
# on the dev sets, bare paragraph (1) / 2 / 3: xquad-r 0.771 / 0.774 / 0.774, squad2-normans
# 0.800 / 0.800 / 0.800, bundled paraphrases 0.811 / 0.849 / 0.830.
MIN_CONTEXT = 2
# Terms sharing this many first letters are one term for coverage. On the dev sets (4-fold P@1)
# 5 letters beat exact stems on all three: xquad-r 0.774 vs 0.771, squad2-normans 0.800 vs 0.789,
# bundled paraphrases 0.830 vs 0.792; 6 and 7 letters gained nothing.
PREFIX = 5
# Ranked sentences kept per question: enough for MRR@10 and for composing an answer.
MAX_HITS = 20

FEATURES = (
    "dense",  # cosine of question and sentence (a quoted one embedded with its speaker)
    "lexical",  # BM25 of the sentence / best BM25 (not its speaker's words: _speaker_lexical)
    "coverage",  # idf-weighted share of the question's terms found in the sentence
    "local_coverage",  # the same with idf computed inside the sentence's passage
    "paragraph",  # best base score among candidates of the same passage
    "article",  # best base score among candidates of the same article
    "answer_type",  # who/when/how-many question and the sentence holds a new name/date/number
    "agent",  # who-question and a new name stands next to the question's verb/noun (is_agent)
    "passage_coverage",  # idf-weighted share of the question's terms found in the passage
    "answer_near",  # typed question and the new name/date/number is near its words (answer_near)
    "window",  # cosine of question and the sentence with its neighbours (sum of their vectors)
)
# What the trees (rerank.py) see: the FEATURES, and for the linear stage's best RERANK only, how
# well the question's words match the sentence's token by token (token_match.py; round twenty).
TREE_SIGNALS = (*FEATURES, "token_match")
# One set of weights for typed questions (who, when, where, how many, how much, what job), whose
# answer-type signals change how closely the wording must match, and one for the rest. Fitted by
# scripts/tune_ranker.py on xquad-r dev + squad2-normans + the paraphrases of the question sets
# dev, check, holdout, blind-dev, blind-holdout and blind2-blind7 (the later blind sets are kept
# for reporting; role questions, round twenty-one, take the typed weights as fitted). 4-fold P@1
# against one set for all questions (question-level folds for the bundled article): xquad-r dev
# 0.778 -> 0.783, bundled 0.802 -> 0.821, squad2-normans 0.812 -> 0.802 (round four). The window
# signal (round seven), linear stage alone: xquad-r dev 0.789 -> 0.792, bundled 0.818 -> 0.822,
# squad2-normans 0.821 -> 0.811; with the trees 0.784 -> 0.784, 0.828 -> 0.843, 0.800 -> 0.800.
WEIGHTS = {
    "typed": np.array(
        [2.887, 1.302, 2.819, 1.379, 1.871, 2.198, 1.251, 0.192, 3.463, 1.033, 3.424]
    ),
    "other": np.array(
        [3.081, 0.478, 3.706, 3.573, 4.338, 2.375, 0.000, 0.000, 4.187, 0.000, 4.269]
    ),
}


def weight_group(kind: str) -> str:
    """Which ``WEIGHTS`` rank a question of ``kind``."""
    return "other" if kind == "other" else "typed"


@dataclass(frozen=True)
class Hit:
    """One ranked sentence with the signals behind its score."""

    row: int
    score: float  # the first (linear) stage's score
    probability: float  # softmax of ``score`` over the candidates: the chance this is the answer
    dense: float
    lexical: float
    coverage: float


@dataclass(frozen=True)
class Retrieval:
    """The ranked sentences for one question, with question-level signals for abstention."""

    question: str
    kind: str  # "who", "when", "where", "count", "number", "role" or "other"
    hits: tuple[Hit, ...]
    # share of the question's names (capitalised words after the first) the index never mentions
    unknown_names: float = 0.0


@dataclass(frozen=True)
class Candidates:
    """Candidate rows and their feature matrix (one row per candidate, columns ``FEATURES``)."""

    question: str
    kind: str
    rows: np.ndarray
    features: np.ndarray
    unknown_names: float = 0.0
    # What ``rank`` encodes the question's and the best candidates' tokens with (None: it does
    # not, and the trees see no token match), and the question's tokens if already encoded.
    embedder: Embedder | None = None
    question_tokens: Tokens | None = None


# ---------------------------------------------------------------------------------------------
# Question types and what answers them

# A job title: what answers a role question ("chief executive", "regional director").
TITLE = re.compile(
    r"\b(?:(?:deputy|acting|interim|former|regional|national|medical|finance|managing|nursing|"
    r"operating|vice|prime|shadow|senior|junior|assistant|associate|health|foreign|home)\s+)*"
    r"(?:chief\s+(?:executive|officer|operating\s+officer|nurse|inspector|constable)|chief|"
    r"executive|director|chair(?:man|woman|person)?|president|secretary|minister|chancellor|"
    r"governor|manager|officer|head|leader|editor|commissioner|spokes(?:man|woman|person)|"
    r"founder|inspector|ceo|mp|mayor|councillor|professor|doctor|surgeon|nurse|consultant|"
    r"lawyer|solicitor|barrister|judge|ambassador|advis[eo]r|analyst|captain|king|queen|prince|"
    r"princess|emperor|duke|bishop|pope|admiral|trustee|registrar|psychiatrist|clinician|"
    r"superintendent)s?\b",
    re.I,
)
# A who-question whose subject is someone's post asks what that person said of others ("Who does
# the CEO say the trust is being built for?": "our patients and their families"), not for a name.
_POST_SUBJECT = re.compile(
    r"\bwhom?\s+(?:do|does|did|will|would|could|can|should)\s+(?:\S+\s+){0,2}?"
    r"(?:boss|" + TITLE.pattern + r")\s+(?:\w+\s+)?(?:say|said|says|think|thinks|thought|believe"
    r"|believes|want|wants|wanted|hope|hopes|mean|means|meant|expect|expects|reckon|reckons|feel"
    r"|feels)\b",
    re.I,
)

_KIND_PATTERNS = (
    # "How far along are they?" asks how they are getting on, not a distance.
    ("other", re.compile(r"\bhow\s+far\s+(?:along|on)\b", re.I)),
    # "How many" asks for a count: not a sum of money, a year or a percentage.
    ("count", re.compile(r"\bhow\s+many\b|\bwhat\s+number\s+of\b", re.I)),
    (
        "number",
        re.compile(
            r"\bhow\s+(?:many|much|long|old|far|large|big|tall|high|often|fast|deep|wide)\b"
            r"|\bwhat\s+(?:percentage|percent|proportion|number|amount|share|size|sum)\b",
            re.I,
        ),
    ),
    (
        "when",
        re.compile(
            r"\bwhen\b|\b(?:what|which)\s+(?:year|date|day|month|time|century|decade|period)\b",
            re.I,
        ),
    ),
    # Before "who": "Who does the CEO say ...?" asks what a post holder said, seldom a name.
    ("other", _POST_SUBJECT),
    # "Which regulator has lifted ...?", "Which body put those conditions on the trust?": a name
    # answers these too.
    (
        "who",
        re.compile(
            r"\bwho(?:m|se)?\b|\b(?:what|which)\s+(?:person|people|man|woman)\b"
            r"|\b(?:what|which)\s+(?:\w+\s+)?(?:organi[sz]ation|body|authority|regulator|agency"
            r"|watchdog|firm|company|consultancy|institution)s?\b",
            re.I,
        ),
    ),
    # "What's Nick Broughton's role?", "which post does she hold": the answer is a job title.
    (
        "role",
        re.compile(
            r"\b(?:what|which)\b[^?]*?\b(?:role|job|position|post|title|occupation|profession)s?\b",
            re.I,
        ),
    ),
    (
        "where",
        re.compile(
            r"\bwhere\b|\b(?:what|which|in\s+what|in\s+which)\s+"
            r"(?:country|countries|city|cities|town|place|region|county|state|area|street)\b",
            re.I,
        ),
    ),
)
NUMBER = re.compile(
    r"[$£€¥]?\d(?:[\d,.]*\d)?(?:%|m|bn|k)?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven"
    r"|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half)\b",
    re.I,
)
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|tomorrow"
_YEAR = r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b"
DATE = re.compile(
    rf"{_YEAR}|\b(?:{MONTHS}|{_DAYS}|spring|summer|autumn|winter|century|centuries|decade)\b",
    re.I,
)
# "What day/year/month ...?" asks for that grain of date: a year does not answer "what day".
_DATE_GRAIN = (
    (
        re.compile(r"\b(?:what|which)\s+day\b|\bday\s+of\s+the\s+week\b", re.I),
        re.compile(
            rf"\b(?:{_DAYS})\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\b"
            rf"|\b(?:{MONTHS})\s+\d{{1,2}}\b",
            re.I,
        ),
    ),
    (re.compile(r"\b(?:what|which)\s+year\b", re.I), re.compile(_YEAR)),
    (re.compile(r"\b(?:what|which)\s+month\b", re.I), re.compile(rf"\b(?:{MONTHS})\b", re.I)),
)
# Who had a thing done: "Who asked for that report to be done?", "Who commissioned the review?".
# Answered by a sentence telling of commissioning (``_commissioner_first``: round twenty-five, 11
# more right answers over the bundled sets, 2 in blind201-208, 2 more in the chats, nothing lost)
# that names what the question names (``asks.lacks_commissioned``: 111 more absent questions
# refused, no right answer lost). xquad-r and normans unchanged by either.
ASKS_COMMISSION = re.compile(
    r"\bwho(?:\s+(?:has|had|have|did|was\s+it\s+that))?\s+(?:commissioned|ordered|requested"
    r"|asked\s+for|paid\s+for|funded)\b",
    re.I,
)
_TELLS_COMMISSION = re.compile(
    # Lower case: the "Care Quality Commission" commissions nothing.
    r"\bcommission(?:s|ed|ing)?\b"
    r"|(?i:\b(?:order(?:s|ed|ing)?|request(?:s|ed|ing)?|ask(?:s|ed|ing)?|paid|pays?"
    r"|fund(?:s|ed|ing)?)\b)"
)
# A capitalised word not opening the sentence, or a run of two or more capitalised words.
NAME = re.compile(r"(?<=\S\s)[A-Z][\w'’-]+|\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)+")


def question_kind(question: str) -> str:
    """``count`` (how many), ``number`` (how much/long ...), ``when``, ``who``, ``role`` (what
    job), ``where`` or ``other``."""
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(question):
            return kind
    return "other"


@functools.lru_cache(maxsize=8192)
def matches(pattern: re.Pattern[str], sentence: str) -> tuple[re.Match[str], ...]:
    """``pattern``'s matches in ``sentence``, remembered: candidates recur across questions."""
    if pattern is NAME:
        # Capitalised words are names, except days and months ("lifted on Tuesday" names no one).
        return tuple(m for m in NAME.finditer(sentence) if not DATE.fullmatch(m.group(0)))
    return tuple(pattern.finditer(sentence))


def new_names(sentence: str, question: str) -> list[re.Match[str]]:
    q = question.casefold()
    return [m for m in matches(NAME, sentence) if m.group(0).casefold() not in q]


# The currency signs a sum of money starts with.
CURRENCY = "[$£€¥]"
# A sum of money, a year or a percentage: numbers that do not count things.
_NOT_A_COUNT = re.compile(CURRENCY + r".*|.*%|1[0-9]{3}s?|20[0-9]{2}s?|half")
# "one of England's largest trusts" picks one out of many; it counts nothing.
_OF = re.compile(r"\s+of\b", re.I)
# What a how-many question counts: the two words after it ("how many of the undertakings").
_COUNTED = re.compile(
    r"\b(?:how\s+many|what\s+number)\s+(?:(?:of|the|those|these)\s+)*(\S+(?:\s+\S+)?)", re.I
)
_VAGUE_COUNT = re.compile(r"\b(?:several|a\s+few|a\s+handful\s+of|dozens\s+of|numerous)\b", re.I)


@functools.lru_cache(maxsize=1024)
def _counted_keys(question: str) -> tuple[str, ...]:
    """The stems of what a how-many question counts, once per question (the ranker asks for
    every candidate sentence)."""
    asked = _COUNTED.search(question)
    return topic_keys(asked.group(1), ()) if asked else ()


def _vague_counts(sentence: str, question: str) -> list[re.Match[str]]:
    """The vague counts in ``sentence`` of what the question counts: "several undertakings"
    answers how many undertakings were lifted; "several scandals" does not answer how many
    patients died in them."""
    keys = _counted_keys(question)
    if not keys:
        return []
    starts, words = _words(sentence)
    return [
        m
        for m in matches(_VAGUE_COUNT, sentence)
        if any(w.startswith(keys) for w in words[bisect.bisect_left(starts, m.end()) :][:2])
    ]


@functools.lru_cache(maxsize=1024)
def _answer_pattern(kind: str, question: str) -> re.Pattern[str] | None:
    """What answers a question of ``kind`` (once per question: it is asked for every candidate):
    a date of the grain asked ("what year": a year), a number, a job title; None for names."""
    pattern = {"number": NUMBER, "count": NUMBER, "when": DATE, "role": TITLE}.get(kind)
    if kind == "when":
        pattern = next((p for asks, p in _DATE_GRAIN if asks.search(question)), pattern)
    return pattern


def new_answers(kind: str, sentence: str, question: str) -> list[re.Match[str]]:
    """The names/dates/numbers of the asked ``kind`` in ``sentence`` that the question lacks
    (``where``: names, the nearest a regular expression gets to a place)."""
    if kind in ("who", "where"):
        return new_names(sentence, question)
    pattern = _answer_pattern(kind, question)
    if pattern is None:
        return []
    q = question.casefold()
    found = [m for m in matches(pattern, sentence) if m.group(0).casefold() not in q]
    if kind == "count":
        found = [
            m
            for m in found
            if not _NOT_A_COUNT.fullmatch(m.group(0).casefold())
            and not (m.group(0).casefold() == "one" and _OF.match(sentence, m.end()))
        ]
        found += _vague_counts(sentence, question)
    return found


WORD = re.compile(r"[\w'’&-]+")
# How many words may stand between a name and the question's verb for it to be the doer:
# "NHS Improvement has lifted", "Nick Broughton, who became chief executive".
AGENT_GAP = 3
# How many words may stand between the answer and a word of the question (answer_near). On the
# dev sets 2-8 all gained about the same (scripts/tune_ranker.py, 4-fold).
NEAR = 4


def topic_keys(
    question: str, synonyms: Sequence[tuple[str, str]], *, names: bool = True
) -> tuple[str, ...]:
    """The stems (cut to ``PREFIX`` letters) of the question's topic words, with the other
    wordings of its synonyms; without its names when ``names`` is false."""
    plain = question if names else NAME.sub(" ", question)
    text = " ".join([plain, *(form for _, form in synonyms)])
    stems = text_tokens(text)
    return tuple({t[:PREFIX] for t in stems if len(t) >= 3 and t not in _question_stopwords()})


def _gaps(
    sentence: str, found: Sequence[re.Match[str]], keys: Sequence[str]
) -> Iterator[tuple[int, int, str]]:
    """For each match in ``found`` and each word of ``sentence`` starting with one of ``keys``:
    how many words the key word stands after the match or before it (the other is 0) and the
    word just before the match."""
    starts, words = _words(sentence)
    prefixes = tuple(keys)
    hits = [i for i, w in enumerate(words) if w.startswith(prefixes)]
    if not hits:
        return
    for m in found:
        first = bisect.bisect_left(starts, m.start())
        last = bisect.bisect_left(starts, m.end()) - 1
        before = words[first - 1] if first > 0 else ""
        for i in hits:
            if i > last:
                yield i - last, 0, before
            elif i < first:
                yield 0, first - i, before


@functools.lru_cache(maxsize=4096)
def _words(sentence: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Where each word of ``sentence`` starts, and the words case-folded."""
    found = list(WORD.finditer(sentence))
    return tuple(w.start() for w in found), tuple(w.group(0).casefold() for w in found)


def is_agent(sentence: str, names: Sequence[re.Match[str]], keys: Sequence[str]) -> bool:
    """True if one of ``names`` (new to the question) stands just before a word of ``keys`` (the
    question's own words, by their first letters: its verb or noun) or just after it following
    "by": the name is who did what the question asks about, not a bystander of the sentence."""
    return any(
        0 < after <= AGENT_GAP + 1 or (0 < before <= AGENT_GAP + 1 and word == "by")
        for after, before, word in _gaps(sentence, names, keys)
    )


def answer_near(sentence: str, found: Sequence[re.Match[str]], keys: Sequence[str]) -> bool:
    """True if one of ``found`` (the question's kind of answer, new to it) stands within
    ``NEAR`` words of one of the question's words: "the Mazars report in 2016" answers "when
    was the Mazars report?"; "lifted on Tuesday" in a sentence that mentions Mazars does not."""
    return any(
        0 < after <= NEAR + 1 or 0 < before <= NEAR + 1
        for after, before, _ in _gaps(sentence, found, keys)
    )


# ---------------------------------------------------------------------------------------------
# Acronyms learnt from the articles: NHSI <-> NHS Improvement, CQC <-> Care Quality Commission

_ACRONYM = re.compile(r"\b[A-Z][A-Z&]{1,6}s?\b")
_CAPITALISED_RUN = re.compile(
    r"\b[A-Z][\w'’&-]*(?:\s+(?:(?:of|and|for|the|de|du|von|&)\s+)*[A-Z][\w'’&-]*)+"
)
_MINOR = frozenset({"of", "and", "for", "the", "de", "du", "von", "&"})


def _initials(words: Sequence[str]) -> str:
    return "".join(w if w.isupper() else w[0] for w in words if w not in _MINOR).upper()


@functools.lru_cache(maxsize=1024)
def acronym_links(body: str) -> dict[str, frozenset[str]]:
    """Acronym -> the capitalised phrases of ``body`` whose initials spell it, both ways round:
    the keys are every acronym a run of capitalised words abbreviates (``NHS Improvement`` gives
    ``NHSI``), so a question may use either form even when the article uses only the other."""
    links: dict[str, set[str]] = {}
    for m in _CAPITALISED_RUN.finditer(body):
        words = m.group(0).split()
        for i in range(len(words)):
            for j in range(i + 2, len(words) + 1):
                part = words[i:j]
                if part[0] in _MINOR or part[-1] in _MINOR:
                    continue
                key = _initials(part)
                if 2 <= len(key) <= 7:
                    links.setdefault(key, set()).add(" ".join(part))
    return {k: frozenset(v) for k, v in links.items()}


def _expansions(question: str, articles: Iterable[StoredArticle]) -> list[tuple[str, str]]:
    """(form in the question, other form) pairs found in ``articles``."""
    acronyms = {a.rstrip("s") for a in _ACRONYM.findall(question)}
    phrases = [m.group(0) for m in _CAPITALISED_RUN.finditer(question)]
    if not acronyms and not phrases:
        return []  # nothing to expand: skip scanning every candidate article (~7 ms at 1M rows)
    keys = [(phrase, _initials(phrase.split())) for phrase in phrases]
    pairs: dict[tuple[str, str], None] = {}
    for art in articles:
        links = acronym_links(art.body)
        for acronym in acronyms:
            for phrase in links.get(acronym, ()):
                pairs[(acronym, phrase)] = None
        for phrase, key in keys:
            if key in links and re.search(rf"\b{re.escape(key)}\b", art.body):
                pairs[(phrase, key)] = None
    return list(pairs)


# ---------------------------------------------------------------------------------------------
# Common news wording: a small general-English table, not learnt and not about any one article.
# A question word on the left also counts as present where every word of one of its right-hand
# forms is (the way an acronym counts where its expansion is): "who runs the trust?" meets
# "... who became chief executive of the trust", "the CEO" meets "the chief executive".

SYNONYMS: dict[str, tuple[str, ...]] = {
    # titles and roles
    "ceo": ("chief executive",),
    "cfo": ("chief financial officer", "finance director"),
    "coo": ("chief operating officer",),
    "md": ("managing director",),
    "pm": ("prime minister",),
    "mp": ("member of parliament",),
    "boss": ("chief executive", "managing director", "chairman", "head"),
    "head": ("chief executive", "director", "chairman", "leader"),
    "leader": ("chief executive", "head", "chairman", "president"),
    "lead": ("chief executive", "head", "chairman", "leader"),
    "run": ("chief executive", "managing director", "head"),
    "charge": ("chief executive", "head", "director"),
    "chair": ("chairman", "chairwoman"),
    "spokesman": ("spokesperson", "spokeswoman"),
    # institutions
    "watchdog": ("regulator",),
    "regulator": ("watchdog",),
    "govt": ("government",),
    "firm": ("company",),
    "staff": ("employees", "workers"),
    "employees": ("staff", "workers"),
    "workers": ("staff", "employees"),
    # money
    "budget": ("turnover", "revenue", "income", "funding"),
    "revenue": ("turnover", "income", "sales"),
    "income": ("turnover", "revenue"),
    "turnover": ("revenue", "income"),
    "earnings": ("profit", "income"),
    "profit": ("earnings",),
    "pay": ("salary", "wage"),
    "salary": ("pay", "wage"),
}

# Words news reports and their readers use for the same thing: each word of a group also counts
# where any other one is (verbs, their nouns and adjectives are separate words to the stemmer).
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("lift", "ease", "remove", "scrap", "relax", "withdraw", "drop", "rescind", "revoke", "waive"),
    ("impose", "place"),
    ("condition", "restriction", "requirement", "undertaking", "sanction"),
    ("death", "die", "dying", "fatality", "dead", "killed"),
    ("investigate", "investigation", "probe", "inquiry", "examine"),
    ("report", "review", "audit", "assessment", "study", "inquiry"),
    ("firm", "company", "consultancy", "consulting", "consultant"),
    ("commission", "order", "request"),
    ("inspect", "inspection", "inspector"),
    ("scandal", "controversy"),
    ("departure", "leave", "quit", "resign", "resignation", "exit", "exodus"),
    ("appoint", "appointed", "became", "join", "hired"),
    ("big", "large", "largest", "biggest"),
    ("say", "said", "comment", "state", "statement"),
    ("annual", "yearly", "year"),
    ("external", "outside", "independent"),
    ("organisation", "organization", "body"),
    ("improve", "improvement", "better"),
    ("future", "ahead"),
    ("failing", "failure", "fault", "shortcoming"),
    ("money", "turnover", "revenue", "income", "funding", "budget"),
    ("action", "move"),
    ("demonstrate", "prove", "indicate", "reveal"),
    ("reinforce", "support", "strengthen", "bolster", "endorse"),
    ("claim", "allege", "accuse"),
    ("highlight", "flag"),
)


def _add_groups(table: dict[str, tuple[str, ...]], groups: Sequence[Sequence[str]]) -> None:
    for group in groups:
        for word in group:
            others = [w for w in group if w != word]
            table[word] = tuple(dict.fromkeys([*table.get(word, ()), *others]))


_add_groups(SYNONYMS, SYNONYM_GROUPS)


@functools.lru_cache(maxsize=1)
def _synonym_stems() -> dict[str, tuple[str, ...]]:
    # Keyed by the index's stem of each word, so "runs" and "running" find "run".
    table: dict[str, tuple[str, ...]] = {}
    for word, forms in SYNONYMS.items():
        for stem in text_tokens(word):
            table[stem] = table.get(stem, ()) + forms
    return table


# Phrasal verbs read as one word: (the verb's forms, its particle, the word it means). "Who took
# the conditions off the trust?" asks who lifted them.
PHRASAL_VERBS = (
    ("take|takes|took|taken|taking", "off|away", "lift"),
    ("let|lets|letting", "off", "lift"),
    ("come|comes|came|coming", "off", "lift"),
    ("put|puts|putting|slap|slaps|slapped|slapping", "on|onto", "impose"),
)
_PHRASAL = tuple(
    (re.compile(rf"\b({verb})\b(?:\s+[\w'’-]+){{0,3}}?\s+(?:{particle})\b", re.I), word)
    for verb, particle, word in PHRASAL_VERBS
)


def synonym_pairs(question: str) -> list[tuple[str, str]]:
    """(word in the question, other wording) pairs from ``SYNONYMS`` and ``PHRASAL_VERBS``."""
    table = _synonym_stems()
    pairs: list[tuple[str, str]] = []
    words = re.findall(r"[\w'’]+", question)
    for word in words:
        for stem in text_tokens(word):
            pairs += [(word, form) for form in table.get(stem, ())]
    for pattern, meant in _PHRASAL:
        for m in pattern.finditer(question):
            pairs += [(m.group(1), form) for form in (meant, *SYNONYMS[meant])]
    return list(dict.fromkeys(pairs))


# ---------------------------------------------------------------------------------------------
# Candidates and features


# Words that make a question a question but say nothing of its topic. bm25s's English stop
# words keep most of them ("what", "did", "when", "have"), and as terms of a question they only
# dilute its coverage and add noise to its BM25 scores.
_QUESTION_WORDS = (
    "what which who whom whose when where why how whether did do does doing done is are was were "
    "be been being am have has had having can could would will shall should may might must "
    "many much tell me please there their they it its about "
    # Words the stop words leave that say nothing of a topic: as unheld terms they weighed on
    # coverage ("What did they take off them, exactly?").
    "them those just actually exactly "
    # A title before a name says nothing the name does not ("Mr Broughton"); as a word the index
    # never holds, it made a question look like one about somebody else.
    "mr mrs ms mx dr prof cllr"
)


# The tokens of a question that say nothing of its topic, as the model's tokenizer writes them.
_TOKEN_STOP = frozenset(_QUESTION_WORDS.split()) | {
    "the", "a", "an", "of", "to", "in", "on", "for", "by", "and",
}  # fmt: skip


@functools.lru_cache(maxsize=1)
def _question_stopwords() -> frozenset[str]:
    # Stemmed the way the index stems, so they match the question's tokens.
    return frozenset(text_tokens(_QUESTION_WORDS))


def content_terms(question: str) -> list[str]:
    """The question's stemmed words that are not question words ("what", "did", "Mr")."""
    return [t for t in text_tokens(question) if t not in _question_stopwords()]


@dataclass
class _Term:
    """One concept of the question: its idf weight and the rows where any of its forms occur."""

    token: str
    weight: float
    rows: np.ndarray  # sorted row numbers
    forms: tuple[frozenset[str], ...] = ()  # the tokens of each other wording (acronym, synonym)
    # Whether the token itself, another wording, or the token give or take a short ending occurs
    # (India/Indian), not only a word sharing its first letters: for names ("Scandinavian" is
    # not "scandals", "Southampton" not "south").
    exact: bool = True


def _terms(
    index: LoadedIndex, question: str, extra: Sequence[tuple[str, str]]
) -> tuple[list[_Term], np.ndarray]:
    """The question's terms with the rows holding them, and the BM25 score of every row."""
    n = index.faiss_index.ntotal
    tokens = content_terms(question)
    postings = {t: (rows, s) for t, rows, s in index.lexical.postings(tokens)}
    lexical = np.zeros(n, dtype=np.float32)
    for rows, s in postings.values():
        lexical[rows] += s

    # An acronym and its expansion are one concept: present where either form is.
    alt_rows: dict[str, np.ndarray] = {}
    alt_forms: dict[str, list[frozenset[str]]] = {}
    for form, other in extra:
        other_tokens = text_tokens(other)
        other_post = index.lexical.postings(other_tokens)
        if not other_post or len(other_post) < len(set(other_tokens)):
            continue
        both: np.ndarray | None = None
        for _, rows, s in other_post:
            lexical[rows] += s
            both = rows if both is None else np.intersect1d(both, rows)
        assert both is not None
        for t in text_tokens(form):
            alt_rows[t] = np.union1d(alt_rows.get(t, np.zeros(0, dtype=np.int64)), both)
            alt_forms.setdefault(t, []).append(frozenset(other_tokens))

    # Snowball leaves some relatives apart (respond/response, regulator/regulatory): indexed
    # tokens sharing a term's first PREFIX letters count as that term being present.
    by_prefix = _prefixes(index)
    close: set[str] = set()  # terms whose variants include the term give or take an ending
    for t in dict.fromkeys(tokens):
        variants = _variants(by_prefix, t)
        if any(v.startswith(t) or t.startswith(v) for v in variants if abs(len(v) - len(t)) <= 2):
            close.add(t)
        found = [rows for _, rows, _ in index.lexical.postings(variants)]
        if found:  # one union for all variants: unions of long postings dominate at 1M rows
            alt_rows[t] = _union(alt_rows.get(t, found[0][:0]), *found)
    terms = []
    for t in dict.fromkeys(tokens):
        rows = np.sort(postings[t][0]) if t in postings else np.zeros(0, dtype=np.int64)
        if t in alt_rows:
            rows = _union(rows, alt_rows[t])
        w = math.log((index.lexical.live + 1) / (rows.size + 0.5))
        forms = tuple(alt_forms.get(t, ()))
        terms.append(_Term(t, w, rows, forms, t in postings or bool(forms) or t in close))
    return terms, lexical


def _variants(by_prefix: dict[str, list[str]], token: str) -> list[str]:
    """The indexed tokens other than ``token`` sharing its first ``PREFIX`` letters."""
    return (
        [v for v in by_prefix.get(token[:PREFIX], ()) if v != token] if len(token) >= PREFIX else []
    )


def _held(index: LoadedIndex, question: str) -> list[bool]:
    """For each of the question's content terms, whether the index holds it in any form, as
    ``_terms`` counts it (the token or a variant of it), without scoring every row."""
    by_prefix = _prefixes(index)
    return [
        any(rows.size for _, rows, _ in index.lexical.postings([t, *_variants(by_prefix, t)]))
        for t in dict.fromkeys(content_terms(question))
    ]


def holds_any_term(index: LoadedIndex, question: str) -> bool:
    """Whether the index holds any of the question's content terms (in any form), or the
    question has none ("And why?")."""
    held = _held(index, question)
    return not held or any(held)


def holds_every_term(index: LoadedIndex, question: str) -> bool:
    """Whether the index holds every one of the question's content terms (in any form): "What
    year was that?" but not "What's a good meal my son could learn to make himself?"."""
    return all(_held(index, question))


# Per lexical index (by identity, kept alive meanwhile): its tokens by their first PREFIX letters.
_PREFIX_CACHE: dict[int, tuple[object, dict[str, list[str]]]] = {}


def _prefixes(index: LoadedIndex) -> dict[str, list[str]]:
    # A story scope (scope.ScopedLexical) shares the vocabulary of the index it views.
    lexical = getattr(index.lexical, "base", index.lexical)
    cached = _PREFIX_CACHE.get(id(lexical))
    if cached is not None and cached[0] is lexical:
        return cached[1]
    table: dict[str, list[str]] = {}
    for token in lexical.vocabulary():
        if len(token) >= PREFIX:
            table.setdefault(token[:PREFIX], []).append(token)
    if len(_PREFIX_CACHE) >= 8:
        _PREFIX_CACHE.clear()
    _PREFIX_CACHE[id(lexical)] = (lexical, table)
    return table


# A capitalised word not opening the question, nor a later sentence of it ("... Good or bad?"):
# round twenty-four found such first words counted as names no indexed sentence holds, and right
# answers refused for them (blind93-blind192: 23 more right answers, no off-topic one more).
NAME_WORD = re.compile(r"(?<=\S\s)(?<![.?!:;]\s)[A-Z][\w'’&-]*")


def _unknown_names(question: str, terms: Sequence[_Term]) -> float:
    """The share of the question's names that no indexed sentence holds (in any known form)."""
    names = set(text_tokens(" ".join(NAME_WORD.findall(question)))) - _question_stopwords()
    if not names:
        return 0.0
    found = {t.token for t in terms if t.exact}
    return len(names - found) / len(names)


def _union(*rows: np.ndarray) -> np.ndarray:
    """Sorted distinct rows of sorted arrays: a merge (timsort finds the runs), where
    ``np.union1d`` hashes everything; at 1M rows its unions were the largest cost of a question."""
    merged = np.concatenate(rows)
    merged.sort(kind="stable")
    return merged[np.concatenate(([True], merged[1:] != merged[:-1]))] if merged.size else merged


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """The rows of the ``k`` best positive scores, in no order. Partitioned among the positive
    rows only: over a million rows (a question's words touch a few percent of them) that costs
    0.3-0.6 ms against 6-7 ms for all of them, and sorting all costs ~100 ms."""
    hit = np.flatnonzero(scores > 0)
    if hit.size <= k:
        return hit
    return hit[np.argpartition(-scores[hit], k - 1)[:k]]


# Per article (by identity): for each sentence, its paragraph's and its passage's (first, stop)
# sentence indexes, whether it opens with a pronoun, and the sentence naming its speaker when it
# is quoted. Bounded; the article itself is kept so its id cannot be reused meanwhile.
_Spans = tuple[list[tuple[int, int]], list[tuple[int, int]], np.ndarray, np.ndarray]
_SPANS: dict[int, tuple[StoredArticle, _Spans]] = {}
_SPANS_MAX = 50_000


def _spans(art: StoredArticle) -> _Spans:
    """Each sentence's paragraph and passage, whether it opens with a pronoun, and the sentence
    naming its speaker if it is quoted (-1 if not; empty when the article quotes no one)."""
    cached = _SPANS.get(id(art))
    if cached is not None and cached[0] is art:
        return cached[1]
    paras: list[tuple[int, int]] = []
    count = len(art.sentences)
    start = 0
    for i in range(1, count + 1):
        if i == count or art.sentences[i].paragraph != art.sentences[start].paragraph:
            paras += [(start, i)] * (i - start)
            start = i
    contexts = []
    for lo, hi in paras:
        # Widen short paragraphs (news runs one-sentence paragraphs) by their neighbours.
        while hi - lo < MIN_CONTEXT and (lo > 0 or hi < count):
            lo = lo - 1 if lo > 0 else lo
            hi = hi + 1 if hi - lo < MIN_CONTEXT and hi < count else hi
        contexts.append((lo, hi))
    # A quotation is one passage however many paragraphs it runs over: the sentence naming its
    # speaker and every sentence it attributes.
    quotes: dict[int, list[int]] = {}
    for i, speaker in enumerate(art.speakers):
        if speaker is not None:
            quotes.setdefault(speaker, [speaker]).append(i)
    for members in quotes.values():
        for i in members:
            contexts[i] = (min(contexts[i][0], members[0]), max(contexts[i][1], members[-1] + 1))
    anaphors = np.array(
        [i > 0 and bool(ANAPHOR.match(art.text(i))) for i in range(count)], dtype=bool
    )
    speakers = np.array([-1 if s is None else s for s in art.speakers], dtype=np.int64)
    if not quotes:
        speakers = speakers[:0]  # nothing quoted: nothing to look up per question
    if len(_SPANS) >= _SPANS_MAX:
        _SPANS.clear()
    _SPANS[id(art)] = (art, (paras, contexts, anaphors, speakers))
    return paras, contexts, anaphors, speakers


def paragraph_rows(index: LoadedIndex, row: int) -> range:
    """The search rows of the paragraph holding ``row`` (rows run article by article)."""
    art, si = index.sentence(row)
    lo, hi = _spans(art)[0][si]
    return range(row - si + lo, row - si + hi)


def candidates(
    index: LoadedIndex,
    embedder: Embedder,
    question: str,
    *,
    depth: int = CANDIDATES,
    query: np.ndarray | None = None,
) -> Candidates:
    """Candidate sentences for ``question`` and their ``FEATURES``.

    ``query`` is the question's embedding when the caller already has it.
    """
    kind = question_kind(question)
    n = index.faiss_index.ntotal
    if n == 0:
        return Candidates(question, kind, np.zeros(0, dtype=np.int64), np.zeros((0, len(FEATURES))))
    asked = None
    if query is None:
        q, (asked,) = embedder.encode_with_tokens([question])
    else:
        q = query.reshape(1, -1)
    _, dense_rows = index.faiss_index.search(q, min(depth, n))

    terms, lexical = _terms(index, question, [])
    seed = set(dense_rows[0][dense_rows[0] >= 0].tolist()) | set(_top(lexical, depth).tolist())
    extra = _expansions(question, {id(a): a for a, _ in map(index.sentence, seed)}.values())
    synonyms = synonym_pairs(question)
    extra += synonyms
    if extra:
        terms, lexical = _terms(index, question, extra)
        seed |= set(_top(lexical, depth).tolist())

    rows = np.array(sorted(seed), dtype=np.int64)
    located = [index.sentence(r) for r in rows.tolist()]
    # Each candidate's vector and those of the sentences either side of it in its article (the
    # candidate's own row stands in for a missing neighbour, then zeroed).
    sides = np.array([(si > 0, si + 1 < len(art.sentences)) for art, si in located], dtype=bool)
    block = index.faiss_index.reconstruct_batch(
        np.concatenate([rows, rows - sides[:, 0], rows + sides[:, 1]])
    ).reshape(3, rows.size, -1)
    block[1, ~sides[:, 0]] = 0.0
    block[2, ~sides[:, 1]] = 0.0
    # The cosine, also of strong lexical matches the dense side missed.
    d = block[0] @ q[0]
    # The sentence in its context: the question's cosine with the sum of the three vectors (the
    # mean-pooled embedding of the three sentences together, roughly, without a model pass).
    together = block.sum(axis=0)
    norms = np.sqrt(np.maximum(np.einsum("ij,ij->i", together, together), 1e-12))
    window = (together @ q[0]) / norms
    top_lex = float(lexical.max())
    lex = lexical[rows] / top_lex if top_lex > 0 else np.zeros(rows.size)
    if top_lex > 0:
        lex = np.maximum(lex - _speaker_lexical(index, located, rows, terms) / top_lex, 0.0)
    base = BASE_DENSE * d + (1 - BASE_DENSE) * lex

    # Which terms occur in each candidate and in each row of the candidates' passages.
    cached = [_spans(art) for art, _ in located]
    spans = [c[1][si] for c, (_, si) in zip(cached, located, strict=True)]
    # Each candidate's passage as rows: its article's first row + the span within the article.
    bounds = np.array([(a - si, b - si) for (a, b), (_, si) in zip(spans, located, strict=True)])
    lo_rows, hi_rows = rows + bounds[:, 0], rows + bounds[:, 1]
    # Every row of every passage: the ranges lo..hi laid end to end, then made unique.
    lengths = hi_rows - lo_rows
    shift = np.repeat(lo_rows - (np.cumsum(lengths) - lengths), lengths)
    passage = np.unique(shift + np.arange(lengths.sum()))
    present = np.zeros((passage.size, len(terms)), dtype=bool)
    for j, t in enumerate(terms):
        if t.rows.size:  # sorted: a binary search per passage row, not a sort of all of t.rows
            at_term = np.minimum(np.searchsorted(t.rows, passage), t.rows.size - 1)
            present[:, j] = t.rows[at_term] == passage
    at = np.searchsorted(passage, rows)
    lo = np.searchsorted(passage, lo_rows)
    hi = np.searchsorted(passage, hi_rows)
    anaphors = np.zeros(passage.size, dtype=bool)
    quoted: dict[int, tuple[StoredArticle, int]] = {}  # passage position -> article, speaker
    for (art, _), (_, _, opens, speakers), (a, b), at_span in zip(
        located, cached, spans, lo.tolist(), strict=True
    ):
        anaphors[at_span : at_span + b - a] = opens[a:b]
        if speakers.size:
            for j in np.flatnonzero(speakers[a:b] >= 0).tolist():
                quoted[at_span + j] = art, int(speakers[a + j])
    _inherit_speakers(quoted, present, terms)
    _inherit_antecedents(passage, anaphors, present, terms)
    weights = np.array([t.weight for t in terms])
    coverage = present[at] @ weights / (weights.sum() or 1.0)
    # The same with idf counted inside the passage: what singles the sentence out from its
    # neighbours, which share its topic.
    cumulative = np.vstack([np.zeros((1, len(terms))), np.cumsum(present, axis=0)])
    inside = cumulative[hi] - cumulative[lo]
    local_w = np.log(((hi - lo)[:, None] + 1) / (inside + 0.5))
    local_total = local_w.sum(axis=1)
    local = np.divide(
        (local_w * present[at]).sum(axis=1),
        local_total,
        out=np.zeros(rows.size),
        where=local_total > 0,
    )
    # The best base score among the candidates of the same passage, and of the same article.
    # Candidates run in row order, so those inside a passage are a run of them: first..last.
    first, last = np.searchsorted(at, lo), np.searchsorted(at, hi)
    paragraph = base.copy()
    for step in range(int((last - first).max())):
        paragraph = np.maximum(paragraph, base[np.minimum(first + step, last - 1)])
    numbers: dict[str, int] = {}
    article_of = np.array([numbers.setdefault(art.id, len(numbers)) for art, _ in located])
    article_best = np.full(len(numbers), -np.inf)
    np.maximum.at(article_best, article_of, base)
    article = article_best[article_of]
    answer_type = np.zeros(rows.size)
    agent = np.zeros(rows.size)
    near = np.zeros(rows.size)
    if kind != "other":
        keys = topic_keys(question, synonyms)
        verb_keys = topic_keys(question, synonyms, names=False) if kind == "who" else ()
        for i, (art, si) in enumerate(located):
            text = art.text(si)
            found = new_answers(kind, text, question)
            if found:
                answer_type[i] = 1.0
                near[i] = answer_near(text, found, keys)
                agent[i] = bool(verb_keys) and is_agent(text, found, verb_keys)
    passage_cov = (inside > 0) @ weights / (weights.sum() or 1.0)
    features = np.column_stack(
        [d, lex, coverage, local, paragraph, article, answer_type, agent, passage_cov, near, window]
    )
    unknown = _unknown_names(question, terms)
    return Candidates(question, kind, rows, features, unknown, embedder, asked)


def _speaker_lexical(
    index: LoadedIndex,
    located: Sequence[tuple[StoredArticle, int]],
    rows: np.ndarray,
    terms: Sequence[_Term],
) -> np.ndarray:
    """The BM25 each candidate owes only to the question's words for the speaker it introduces.

    "Does Broughton think the work is finished?": every sentence of his quote holds his name for
    the coverage signals (``_inherit_speakers``), but only the sentence that introduces the quote
    holds it for BM25, so it outranked the later paragraph that answers. Not when the question
    asks about nothing but the speaker ("Who is Nick Broughton?")."""
    owed = np.zeros(rows.size)
    introducers: dict[int, frozenset[int]] = {}  # per article: the sentences naming a speaker
    for i, (art, si) in enumerate(located):
        named = introducers.get(id(art))
        if named is None:
            # _spans is cached per article; its speakers are empty when it quotes no one.
            named = introducers[id(art)] = frozenset(_spans(art)[3].tolist())
        if si not in named:
            continue
        who = _speaker_tokens(art.text(si))
        naming = [t for t in terms if _names_speaker(t, who)]
        if not naming or len(naming) == len(terms):
            continue
        tokens = [t.token for t in naming] + [w for t in naming for f in t.forms for w in f]
        row = int(rows[i])
        for _, posted, share in index.lexical.postings([w for w in tokens if w in who]):
            at = np.flatnonzero(posted == row)
            owed[i] += float(share[at[0]]) if at.size else 0.0
    return owed


@functools.lru_cache(maxsize=4096)
def _speaker_tokens(attribution: str) -> frozenset[str]:
    who = speaker_phrase(attribution)
    return frozenset(text_tokens(who)) if who else frozenset()


def _inherit_speakers(
    quoted: dict[int, tuple[StoredArticle, int]], present: np.ndarray, terms: Sequence[_Term]
) -> None:
    """A quoted sentence also holds the words naming its speaker: the third paragraph of the
    chief executive's quote answers "what does the chief executive expect?". ``quoted`` maps
    rows of ``present`` to their article and the sentence naming the speaker."""
    if not terms:  # "When was that?": nothing to inherit (and an empty list is not boolean)
        return
    for i, (art, speaker) in quoted.items():
        who = _speaker_tokens(art.text(speaker))
        present[i] |= [_names_speaker(t, who) for t in terms]


def _names_speaker(term: _Term, who: frozenset[str]) -> bool:
    """Whether ``term`` is one of the words ``who`` (a speaker's tokens) holds, in any of its
    wordings: "the CEO" is the speaker "chief executive of the trust"."""
    return term.token in who or any(f <= who for f in term.forms)


# A sentence opening with a pronoun or "This/That ..." continues the one before it.
ANAPHOR = re.compile(r"(?:This|These|That|Those|It|He|She|They|His|Her|Its|Their)\b")


def _inherit_antecedents(
    rows: np.ndarray, anaphors: np.ndarray, present: np.ndarray, terms: Sequence[_Term]
) -> None:
    """A sentence opening with a pronoun also holds the words of the sentence before it: "This
    report was commissioned as part of the undertakings" answers "what was the Grant Thornton
    review part of?" (4-fold P@1 on dev: xquad-r 0.776 -> 0.779, squad2-normans 0.792 -> 0.812,
    bundled 0.802 -> 0.808)."""
    at = np.flatnonzero(anaphors)
    if not at.size:
        return
    before = rows[at] - 1
    for j, t in enumerate(terms):
        if t.rows.size:
            k = np.minimum(np.searchsorted(t.rows, before), t.rows.size - 1)
            present[at, j] |= t.rows[k] == before


def tree_features(index: LoadedIndex, cands: Candidates, best: np.ndarray) -> np.ndarray:
    """What the trees see (``TREE_SIGNALS``): ``cands.features`` and a last column, the token
    match (``token_match.py``) of the candidates at positions ``best``, 0 for the rest."""
    late = np.zeros(cands.rows.size)
    if cands.embedder is not None and best.size:
        late[best] = token_match.scores(
            index,
            cands.embedder,
            cands.question,
            cands.rows[best].tolist(),
            _TOKEN_STOP,
            cands.question_tokens,
        )
    return np.column_stack([cands.features, late])


def rank(
    index: LoadedIndex,
    cands: Candidates,
    weights: np.ndarray | None = None,
    trees: Trees | None = None,
) -> list[Hit]:
    """Score candidates with ``weights`` (by default ``WEIGHTS`` of the question's group), let
    ``trees`` (by default the shipped ones) reorder the best ``rerank.RERANK``, and return them best
    first: exact repeats dropped, and for a who-question a quotation's speaker sentence placed
    before the quotation. A hit's probability is the linear stage's softmax (calibrated on dev,
    and what abstention's ``focus`` was fitted on); the trees only reorder."""
    if cands.rows.size == 0:
        return []
    if weights is None:
        weights = WEIGHTS[weight_group(cands.kind)]
    scores = cands.features @ weights
    probability = np.exp(scores - scores.max())
    probability /= probability.sum()
    order = np.argsort(-scores, kind="stable")
    order = reorder(
        order,
        tree_features(index, cands, order[:RERANK]),
        cands.kind,
        load_trees(TREE_SIGNALS) if trees is None else trees,
    )
    hits: list[Hit] = []
    seen: set[str] = set()
    for i in order.tolist():
        if len(hits) >= MAX_HITS:
            break
        r = int(cands.rows[i])
        key = plain(index.text(r))
        if key in seen:
            continue
        seen.add(key)
        f = cands.features[i]
        hits.append(
            Hit(r, float(scores[i]), float(probability[i]), float(f[0]), float(f[1]), float(f[2]))
        )
    if cands.kind == "who" and hits:
        hits = _speaker_first(index, hits, cands.question)
        hits = _commissioner_first(index, hits, cands.question)
    return hits


# How far down a sentence that tells of commissioning is looked for.
COMMISSION_DEPTH = 5


def _commissioner_first(index: LoadedIndex, hits: list[Hit], question: str) -> list[Hit]:
    """ "Who asked for the report?": a sentence telling who commissioned it ("This report was
    commissioned as part of the undertakings placed ... by NHSI") answers, not the one that
    describes the report. Moved first from the next few hits, keeping the best one's scores."""
    if not ASKS_COMMISSION.search(question):
        return hits
    tells = [
        _TELLS_COMMISSION.search(index.text(h.row)) is not None for h in hits[:COMMISSION_DEPTH]
    ]
    if tells[0] or not any(tells):
        return hits
    at = tells.index(True)
    return [dataclasses.replace(hits[0], row=hits[at].row), *hits[:at], *hits[at + 1 :]]


# "Who said ...", "who has warned ...", "who is ...": the speaker is what the question asks for.
# Not "who does he say deserves ...", "whose actions did the CEO say ...", "for whom ...": there
# the speaker is the question's subject and the answer is in the quotation. (The second branch,
# "who is/was/'s", already covers those before a speech verb.)
_ASKS_SPEAKER = re.compile(
    r"\bwho(?:\s+(?:has|had|did|does|do|would)\b)?\s+(?:\w+ly\s+)?(?:"
    + "|".join(SPEECH_VERBS)
    + r"|say|states|warns|insists|argues|claims|notes|admits|confirms|explains|commented|"
    r"comments|described|describes|called|calls|spoke|speaks|quoted|believes?|thinks?|praised|"
    r"praises|welcomed|welcomes)\b"
    r"|\bwho(?:'s|’s|\s+(?:is|was|are|were)\b)",
    re.IGNORECASE,
)


def _speaker_first(index: LoadedIndex, hits: list[Hit], question: str) -> list[Hit]:
    """ "Who said X?": X is in the quotation, the name is in the sentence that attributes it.

    Only when the question asks who speaks (``_ASKS_SPEAKER``), and not when it already names
    the speaker ("Was it Broughton who said ...?"). Over every bundled question set, moving the
    speaker first for any who-question whose question did not name him put the attribution
    before the answer 27 times ("Who does the CEO say deserves a better organisation?") and
    helped 3 times ("Who said there would be further challenges ahead?"); asked only for who
    speaks, it still helps those 3 and hurts none.
    """
    if not _ASKS_SPEAKER.search(question):
        return hits
    top = hits[0]
    art, si = index.sentence(top.row)
    speaker = art.speakers[si]
    if speaker is None:
        return hits
    srow = index.row_of(art.id, speaker)
    who = speaker_phrase(art.text(speaker)) or ""
    names = set(NAME_WORD.findall(f"_ {who}"))
    if srow is None or any(re.search(rf"\b{re.escape(n)}\b", question) for n in names):
        return hits
    rest = [h for h in hits if h.row != srow]
    # The speaker sentence answers on the strength of the quotation it introduces.
    promoted = dataclasses.replace(top, row=srow)
    return [promoted, *rest]


def retrieve(index: LoadedIndex, embedder: Embedder, question: str) -> Retrieval:
    """The ranked candidate sentences for ``question`` and its question-level signals."""
    cands = candidates(index, embedder, question)
    return Retrieval(question, cands.kind, tuple(rank(index, cands)), cands.unknown_names)
