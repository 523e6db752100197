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

import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from trustbot.embed import Embedder
from trustbot.lexical import tokenize
from trustbot.store import LoadedIndex, StoredArticle

# How many sentences each side (dense, lexical) proposes before ranking. On xquad-r dev the right
# sentence is among the 40 + 40 candidates for 99.7% of questions; more costs time, not accuracy.
CANDIDATES = 40
# Weight of the dense score in the base fusion that ranks paragraphs and articles (the paragraph
# and article signals below); 0.7 is the best plain dense+BM25 mix on xquad-r dev.
BASE_DENSE = 0.7

FEATURES = (
    "dense",  # cosine of question and sentence (embedded with its title and speaker)
    "lexical",  # BM25 of the sentence / best BM25 for this question
    "coverage",  # idf-weighted share of the question's terms found in the sentence
    "local_coverage",  # the same with idf computed inside the sentence's paragraph
    "paragraph",  # best base score among candidates of the same paragraph
    "article",  # best base score among candidates of the same article
    "answer_type",  # who/when/how-many question and the sentence holds a new name/date/number
)
# Fitted by scripts/tune_ranker.py on xquad-r dev + squad2-normans + tests/questions/dev.
WEIGHTS = np.array([4.791, 0.332, 2.972, 3.835, 9.961, 4.896, 2.036])


@dataclass(frozen=True)
class Hit:
    """One ranked sentence with the signals behind its score."""

    row: int
    score: float  # the ranker's linear score
    probability: float  # softmax of ``score`` over the candidates: the chance this is the answer
    dense: float
    lexical: float
    coverage: float


@dataclass(frozen=True)
class Retrieval:
    """The ranked sentences for one question, with question-level signals for abstention."""

    question: str
    kind: str  # "who", "when", "number" or "other"
    hits: tuple[Hit, ...]
    # idf-weighted share of the question's terms that occur anywhere in the index
    known: float


@dataclass(frozen=True)
class Candidates:
    """Candidate rows and their feature matrix (one row per candidate, columns ``FEATURES``)."""

    question: str
    kind: str
    rows: np.ndarray
    features: np.ndarray
    known: float


# ---------------------------------------------------------------------------------------------
# Question types and what answers them

_KIND_PATTERNS = (
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
    ("who", re.compile(r"\bwho(?:m|se)?\b|\b(?:what|which)\s+(?:person|people|man|woman)\b", re.I)),
)
_NUMBER = re.compile(
    r"[$£€¥]?\d[\d,.]*(?:%|m|bn|k)?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven"
    r"|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half)\b",
    re.I,
)
_DATE = re.compile(
    r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b|\b(?:January|February|March|April|May|June|July|August"
    r"|September|October|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday"
    r"|Sunday|spring|summer|autumn|winter|century|centuries|decade|yesterday|today|tomorrow)\b",
    re.I,
)
# A capitalised word not opening the sentence, or a run of two or more capitalised words.
_NAME = re.compile(r"(?<=\S\s)[A-Z][\w'’-]+|\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)+")


def question_kind(question: str) -> str:
    """``who``, ``when``, ``number`` (how many/much ...) or ``other``."""
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(question):
            return kind
    return "other"


def has_new_answer(kind: str, sentence: str, question: str) -> bool:
    """True if ``sentence`` holds a name/date/number of the asked ``kind`` the question lacks."""
    pattern = {"number": _NUMBER, "when": _DATE, "who": _NAME}.get(kind)
    if pattern is None:
        return False
    q = question.casefold()
    return any(m.group(0).casefold() not in q for m in pattern.finditer(sentence))


# ---------------------------------------------------------------------------------------------
# Acronyms learnt from the articles: NHSI <-> NHS Improvement, CQC <-> Care Quality Commission

_ACRONYM = re.compile(r"\b[A-Z][A-Z&]{1,6}s?\b")
_CAPITALISED_RUN = re.compile(
    r"\b[A-Z][\w'’&-]*(?:\s+(?:(?:of|and|for|the|de|du|von|&)\s+)*[A-Z][\w'’&-]*)+"
)
_MINOR = frozenset({"of", "and", "for", "the", "de", "du", "von", "&"})


def _initials(words: Sequence[str]) -> str:
    return "".join(w if w.isupper() else w[0] for w in words if w not in _MINOR).upper()


@functools.lru_cache(maxsize=4096)
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
    pairs: dict[tuple[str, str], None] = {}
    for art in articles:
        links = acronym_links(art.body)
        for acronym in acronyms:
            for phrase in links.get(acronym, ()):
                pairs[(acronym, phrase)] = None
        for phrase in phrases:
            key = _initials(phrase.split())
            if key in links and re.search(rf"\b{re.escape(key)}\b", art.body):
                pairs[(phrase, key)] = None
    return list(pairs)


# ---------------------------------------------------------------------------------------------
# Candidates and features


@dataclass
class _Term:
    """One concept of the question: its idf weight and the rows where any of its forms occur."""

    weight: float
    rows: set[int]


def _terms(
    index: LoadedIndex, question: str, extra: Sequence[tuple[str, str]]
) -> tuple[list[_Term], np.ndarray, float]:
    """The question's terms with their rows, the BM25 score of every row, and the known share."""
    n = index.faiss_index.ntotal
    tokens = tokenize([question])[0]
    postings = {t: (rows, s) for t, rows, s in index.lexical.postings(tokens)}
    lexical = np.zeros(n, dtype=np.float32)
    for rows, s in postings.values():
        lexical[rows] += s

    def idf(df: int) -> float:
        return math.log((n + 1) / (df + 0.5))

    # An acronym and its expansion are one concept: present where either form is.
    alt_rows: dict[str, set[int]] = {}
    for form, other in extra:
        other_tokens = tokenize([other])[0]
        other_post = index.lexical.postings(other_tokens)
        if len(other_post) < len(set(other_tokens)):
            continue
        rows_all: set[int] | None = None
        for _, rows, s in other_post:
            lexical[rows] += s
            rows_all = set(rows.tolist()) if rows_all is None else rows_all & set(rows.tolist())
        for t in tokenize([form])[0]:
            alt_rows.setdefault(t, set()).update(rows_all or set())

    terms = []
    known = total = 0.0
    for t in dict.fromkeys(tokens):
        rows = set(postings[t][0].tolist()) if t in postings else set()
        rows |= alt_rows.get(t, set())
        w = idf(len(rows))
        terms.append(_Term(w, rows))
        total += w
        known += w if rows else 0.0
    return terms, lexical, (known / total if total else 0.0)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    # argpartition, not argsort: sorting a million scores costs ~100 ms a question.
    k = min(k, scores.size)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[scores[top] > 0]


def paragraph_rows(index: LoadedIndex, row: int) -> range:
    """The search rows of the paragraph holding ``row`` (rows run article by article)."""
    art, si = index.sentence(row)
    para = art.sentences[si].paragraph
    lo = si
    while lo > 0 and art.sentences[lo - 1].paragraph == para:
        lo -= 1
    hi = si + 1
    while hi < len(art.sentences) and art.sentences[hi].paragraph == para:
        hi += 1
    return range(row - (si - lo), row + (hi - si))


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
    empty = Candidates(
        question, kind, np.zeros(0, dtype=np.int64), np.zeros((0, len(FEATURES))), 0.0
    )
    if n == 0:
        return empty
    q = embedder.encode([question]) if query is None else query.reshape(1, -1)
    dense_scores, dense_rows = index.faiss_index.search(q, min(depth, n))
    dense = {
        int(r): float(s) for r, s in zip(dense_rows[0], dense_scores[0], strict=True) if r >= 0
    }

    terms, lexical, known = _terms(index, question, [])
    seed = set(dense) | set(_top(lexical, depth).tolist())
    articles = {id(index.sentence(r)[0]): index.sentence(r)[0] for r in seed}
    extra = _expansions(question, articles.values())
    if extra:
        terms, lexical, known = _terms(index, question, extra)
        seed |= set(_top(lexical, depth).tolist())

    rows = np.array(sorted(seed), dtype=np.int64)
    missing = [int(r) for r in rows if int(r) not in dense]
    if missing:
        # Strong lexical matches the dense side missed: score them against the question too.
        vectors = np.vstack([index.faiss_index.reconstruct(r) for r in missing])
        dense.update(zip(missing, (vectors @ q[0]).tolist(), strict=True))
    d = np.array([dense[int(r)] for r in rows])
    top_lex = float(lexical.max())
    lex = lexical[rows] / top_lex if top_lex > 0 else np.zeros(rows.size)
    base = BASE_DENSE * d + (1 - BASE_DENSE) * lex

    total = sum(t.weight for t in terms) or 1.0
    coverage = (
        np.array([sum(t.weight for t in terms if r in t.rows) for r in rows.tolist()]) / total
    )

    local = np.zeros(rows.size)
    para_best: dict[int, float] = {}
    art_best: dict[int, float] = {}
    para_of = []
    for i, r in enumerate(rows.tolist()):
        span = paragraph_rows(index, r)
        para_of.append(span.start)
        para_best[span.start] = max(para_best.get(span.start, -1.0), base[i])
        ai = index.rows[r][0]
        art_best[ai] = max(art_best.get(ai, -1.0), base[i])
        num = den = 0.0
        for t in terms:
            inside = sum(1 for s in span if s in t.rows)
            w = math.log((len(span) + 1) / (inside + 0.5))
            den += w
            num += w if r in t.rows else 0.0
        local[i] = num / den if den else 0.0
    paragraph = np.array([para_best[p] for p in para_of])
    article = np.array([art_best[index.rows[r][0]] for r in rows.tolist()])
    texts = [_text(index, r) for r in rows.tolist()]
    answer_type = np.array([float(has_new_answer(kind, t, question)) for t in texts])
    features = np.column_stack([d, lex, coverage, local, paragraph, article, answer_type])
    return Candidates(question, kind, rows, features, known)


def _text(index: LoadedIndex, row: int) -> str:
    art, si = index.sentence(row)
    return art.text(si)


def rank(index: LoadedIndex, cands: Candidates, weights: np.ndarray = WEIGHTS) -> list[Hit]:
    """Score candidates with ``weights`` and order them: best first, exact repeats dropped, and
    for a who-question a quotation's speaker sentence placed before the quotation."""
    if cands.rows.size == 0:
        return []
    scores = cands.features @ weights
    probability = np.exp(scores - scores.max())
    probability /= probability.sum()
    order = np.argsort(-scores, kind="stable")
    hits: list[Hit] = []
    seen: set[str] = set()
    for i in order.tolist():
        r = int(cands.rows[i])
        key = " ".join(_text(index, r).casefold().split())
        if key in seen:
            continue
        seen.add(key)
        f = cands.features[i]
        hits.append(
            Hit(r, float(scores[i]), float(probability[i]), float(f[0]), float(f[1]), float(f[2]))
        )
    if cands.kind == "who" and hits:
        hits = _speaker_first(index, hits)
    return hits


def _speaker_first(index: LoadedIndex, hits: list[Hit]) -> list[Hit]:
    """ "Who said X?": X is in the quotation, the name is in the sentence that attributes it."""
    top = hits[0]
    art, si = index.sentence(top.row)
    speaker = art.speakers[si]
    if speaker is None:
        return hits
    srow = index.row_of(art.id, speaker)
    if srow is None:
        return hits
    rest = [h for h in hits if h.row != srow]
    # The speaker sentence answers on the strength of the quotation it introduces.
    promoted = Hit(srow, top.score, top.probability, top.dense, top.lexical, top.coverage)
    return [promoted, *rest]


def retrieve(index: LoadedIndex, embedder: Embedder, question: str) -> Retrieval:
    """The ranked candidate sentences for ``question`` and its question-level signals."""
    cands = candidates(index, embedder, question)
    return Retrieval(question, cands.kind, tuple(rank(index, cands)), cands.known)


def search(index: LoadedIndex, embedder: Embedder, question: str, k: int = 10) -> list[Hit]:
    """The ``k`` best sentences for ``question``, best first."""
    return list(retrieve(index, embedder, question).hits[:k])
