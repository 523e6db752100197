"""Paragraphs and sentences with exact character offsets, and quote continuation.

Everything trustbot quotes is ``body[start:end]`` for a :class:`Sentence` made here, so the one
rule that matters is the offset invariant: each sentence slices back to its exact text with no
surrounding whitespace, sentences are ordered and disjoint, and every non-whitespace character of
the body lies in exactly one sentence. pysbd finds the boundaries; this module maps its output
back onto the body itself (pysbd's own char spans are not trusted), patches the few places where
pysbd gets news text wrong, and verifies the result before returning it.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pysbd

__all__ = ["Sentence", "quote_speakers", "split_paragraphs", "split_sentences"]


@dataclass(frozen=True)
class Sentence:
    """One sentence of an article; ``body[start:end]`` is its verbatim text."""

    index: int  # 0-based position in the article
    start: int  # offset into body
    end: int  # body[start:end] == the sentence text, no leading/trailing whitespace
    paragraph: int  # 0-based paragraph number


Span = tuple[int, int]

# A line break is \r\n, \n or a lone \r; a blank line is a line holding only whitespace.
# (``\r(?!\n)`` stops the regex from backtracking into the middle of a \r\n.)
_BREAK = r"(?:\r\n|\r(?!\n)|\n)"
_BLANK_LINES = re.compile(rf"{_BREAK}(?:[^\S\r\n]*{_BREAK})+")
_LINE_BREAK = re.compile(_BREAK)
_WHITESPACE = re.compile(r"\s")
# A line that starts a list item, or a Markdown heading, is its own unit even without a full stop.
_LIST_ITEM = re.compile(r"[^\S\r\n]*(?:[-*+•‣◦]|\d{1,3}[.)])[^\S\r\n]")
_HEADING = re.compile(r"[^\S\r\n]*#")

_TERMINAL = ".!?…‼⁇⁈⁉"
_CLOSERS = "”’\"')]}»"
_OPENERS = "“‘\"'([{«"
# Titles that always precede a name, so a boundary right after one is never real.
# fmt: off
_TITLES = frozenset({
    "mr", "mrs", "ms", "mx", "dr", "prof", "sen", "rep", "gov", "gen", "capt", "lt", "col", "sgt",
    "rev", "fr", "hon", "insp", "supt", "det", "cllr",
})
# Abbreviations that may end a sentence, but not when a number or lowercase word follows.
_ABBREVIATIONS = _TITLES | frozenset({
    "no", "nos", "approx", "est", "vs", "v", "p", "pp", "para", "fig", "figs", "vol", "vols",
    "ch", "art", "cf", "ca", "c", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "st", "ave", "rd", "inc", "ltd", "co", "corp",
})
# fmt: on
# A closed quotation, as pysbd sees one (a ’ followed by a letter is an apostrophe).
_QUOTED = re.compile(r"“[^“”]*”|\"[^\"]*\"|‘(?:[^‘’]|’(?=[^\W\d_]))*’")
# Sentence punctuation followed by more text: the quotation may hold more than one sentence.
_INNER_BOUNDARY = re.compile(r"[.!?…][\"”’')\]]*\s+\S")
_LAST_WORD = re.compile(r"(?:^|[\s(\[“‘\"'])([A-Za-z]+)\.$")


@functools.lru_cache(maxsize=8192)
def plain(text: str) -> str:
    """``text`` case-folded, its spaces collapsed: how the ranking's near-duplicate check and
    the eval's evidence rule compare sentences (remembered: an article's sentences recur)."""
    return " ".join(text.casefold().split())


@functools.lru_cache(maxsize=1)
def _segmenter() -> Any:
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


# pysbd's Segmenter keeps per-call state on the instance (``self.original_text``), so the shared
# cached instance must not be used by two threads at once.
_SEGMENTER_LOCK = threading.Lock()


def split_paragraphs(body: str) -> list[Span]:
    """(start, end) of each paragraph; paragraphs are separated by blank lines (lines holding only
    whitespace). Offsets trimmed of surrounding whitespace; empty paragraphs skipped."""
    spans: list[Span] = []
    pos = 0
    for match in _BLANK_LINES.finditer(body):
        spans.extend(_trim(body, pos, match.start()))
        pos = match.end()
    spans.extend(_trim(body, pos, len(body)))
    return spans


def split_sentences(body: str) -> list[Sentence]:
    """Sentences of the body, in order, never crossing a paragraph boundary.

    Within a paragraph, a line break is only a boundary where a list item starts or after a
    Markdown heading; other line breaks are hard wraps and are read as spaces (a headline glued to
    the next line without a blank line therefore joins the first sentence).
    """
    sentences: list[Sentence] = []
    for number, (p_start, p_end) in enumerate(split_paragraphs(body)):
        for b_start, b_end in _blocks(body, p_start, p_end):
            for start, end in _segment(body[b_start:b_end]):
                sentences.append(Sentence(len(sentences), b_start + start, b_start + end, number))
    return sentences


def _trim(text: str, start: int, end: int) -> list[Span]:
    """The span with surrounding whitespace removed, or nothing if it is all whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if start < end else []


def _blocks(body: str, start: int, end: int) -> Iterator[Span]:
    """Split a paragraph at the line breaks that are real boundaries (list items, headings)."""
    block_start = start
    line_start = start
    for match in _LINE_BREAK.finditer(body, start, end):
        next_line = match.end()
        if _LIST_ITEM.match(body, next_line, end) or _HEADING.match(body, line_start, end):
            yield from _trim(body, block_start, match.start())
            block_start = next_line
        line_start = next_line
    yield from _trim(body, block_start, end)


def _segment(text: str) -> list[Span]:
    """Sentence spans of one block of text (no blank lines in it), verified."""
    # Any whitespace becomes a plain space: pysbd treats newlines as boundaries, which is wrong
    # for hard-wrapped text, and this keeps every offset unchanged.
    prepared = _WHITESPACE.sub(" ", text)
    spans = _map_segments(prepared, _pysbd_segments(prepared))
    spans = _split_inside_quotes(prepared, spans)
    spans = _reattach_closers(prepared, spans)
    spans = _split_after_single_quotes(prepared, spans)
    spans = _merge_false_splits(prepared, spans)
    if not _valid(prepared, spans):
        # Should not happen; if a fix-up ever breaks the invariant, one long sentence is safe.
        return _trim(text, 0, len(text))
    return spans


def _pysbd_segments(text: str) -> list[str]:
    try:
        with _SEGMENTER_LOCK:
            segments = _segmenter().segment(text)
        return [str(getattr(segment, "sent", segment)) for segment in segments]
    except Exception:  # pysbd is a heuristic; its failure must not stop indexing
        return [text]


def _map_segments(text: str, segments: Sequence[str]) -> list[Span]:
    """Locate each segment in ``text`` from a running cursor.

    pysbd's own char spans come from searching for each sentence anywhere in the text, so
    repeated sentences can map to the wrong occurrence, and a sentence it cannot find is dropped
    silently. Text that pysbd skipped becomes a sentence of its own; a segment that cannot be
    found ends the mapping, and the rest of the text becomes one sentence.
    """
    spans: list[Span] = []
    cursor = 0
    for segment in segments:
        needle = segment.strip()
        if not needle:
            continue
        found = text.find(needle, cursor)
        if found < 0:
            break
        spans.extend(_trim(text, cursor, found))
        spans.append((found, found + len(needle)))
        cursor = found + len(needle)
    spans.extend(_trim(text, cursor, len(text)))
    return spans


def _split_inside_quotes(text: str, spans: list[Span]) -> list[Span]:
    """Split the sentences of a quotation that pysbd keeps whole.

    pysbd never splits between matching quote marks, so ``“We will fix it. It will take time,”
    he said.`` comes back as one sentence. News quotes run to several sentences, and each should
    be citable (and attributable) on its own, so the inside of each closed quotation is segmented
    again and the outer sentence is cut at the boundaries found there.
    """
    out: list[Span] = []
    for start, end in spans:
        cuts: list[int] = []
        for match in _QUOTED.finditer(text, start, end):
            inner_start, inner_end = match.start() + 1, match.end() - 1
            if not _INNER_BOUNDARY.search(text, inner_start, inner_end):
                continue
            inner = text[inner_start:inner_end]
            pieces = _map_segments(inner, _pysbd_segments(inner))
            cuts.extend(inner_start + piece_start for piece_start, _ in pieces[1:])
        piece_start = start
        for cut in cuts:
            out.extend(_trim(text, piece_start, cut))
            piece_start = cut
        out.extend(_trim(text, piece_start, end))
    return out


def _reattach_closers(text: str, spans: list[Span]) -> list[Span]:
    """Give a closing quote or bracket back to the sentence it closes.

    pysbd splits ``It was good.” He left.`` (a paragraph that continues an earlier quote) before
    the ``”``. A segment that starts with no whitespace before it and opens with closing marks
    gets those marks moved to the previous sentence.
    """
    out: list[Span] = []
    for start, end in spans:
        if out and out[-1][1] == start:
            moved = start
            while moved < end and text[moved] in _CLOSERS:
                moved += 1
            if moved > start:
                out[-1] = (out[-1][0], moved)
                out.extend(_trim(text, moved, end))
                continue
        out.append((start, end))
    return out


def _split_after_single_quotes(text: str, spans: list[Span]) -> list[Span]:
    """Split ``She said ‘It was good.’ Then...`` after the ``’``, which pysbd misses.

    ``’`` is also the apostrophe, so a split needs sentence punctuation before it, a ``‘`` still
    open earlier in the sentence, and a capital or an opening quote after the space.
    """
    out: list[Span] = []
    for start, end in spans:
        piece_start = start
        open_single = False
        for i in range(start, end):
            char = text[i]
            if char == "‘":
                open_single = True
            elif char == "’" and not _is_letter(text, i + 1):
                if (
                    open_single
                    and i > start
                    and text[i - 1] in _TERMINAL
                    and i + 2 < end
                    and text[i + 1] == " "
                    and _starts_sentence(text, i + 1, end)
                ):
                    out.extend(_trim(text, piece_start, i + 1))
                    piece_start = i + 2
                open_single = False
        out.extend(_trim(text, piece_start, end))
    return out


def _starts_sentence(text: str, start: int, end: int) -> bool:
    i = start
    while i < end and text[i] == " ":
        i += 1
    while i < end and text[i] in _OPENERS:
        i += 1
    return i < end and text[i].isupper()


def _merge_false_splits(text: str, spans: list[Span]) -> list[Span]:
    """Undo pysbd boundaries that cannot be real.

    - no whitespace between the pieces: a sentence never ends inside a token;
    - the first piece has no sentence punctuation at its end (``It was approx.`` is fine, but
      pysbd splits ``Item 1. Item 2.`` after ``Item``);
    - ``“Go!” | she shouted.``: a closed quote followed by a lowercase word is one sentence;
    - after a title (``Dr.``, ``Mr.``) or after a known abbreviation followed by a number or a
      lowercase word (``approx. 5 km``).
    """
    out: list[Span] = []
    for start, end in spans:
        if out and _false_boundary(text, out[-1], (start, end)):
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _false_boundary(text: str, before: Span, after: Span) -> bool:
    if before[1] == after[0]:
        return True
    head = text[before[0] : before[1]]
    bare = head.rstrip(_CLOSERS)
    if not bare or bare[-1] not in _TERMINAL:
        return True
    first = text[after[0]]
    if bare != head and first.islower():
        return True
    word = _LAST_WORD.search(head)
    if word is None:
        return False
    abbreviation = word.group(1).lower()
    if abbreviation in _TITLES:
        return True
    return abbreviation in _ABBREVIATIONS and (first.islower() or first.isdigit())


def _valid(text: str, spans: Sequence[Span]) -> bool:
    """True if the spans are trimmed, ordered, disjoint and leave out only whitespace."""
    cursor = 0
    for start, end in spans:
        if not cursor <= start < end <= len(text):
            return False
        if text[start].isspace() or text[end - 1].isspace() or text[cursor:start].strip():
            return False
        cursor = end
    return not text[cursor:].strip()


def _is_letter(text: str, i: int) -> bool:
    return i < len(text) and text[i].isalpha()


# --- quote continuation -----------------------------------------------------------------------

# Verbs (and "according to") that attribute a quotation to someone, before or after it.
_ATTRIBUTION = re.compile(
    r"\b(?:said|says|say|added|adds|told|tells|according\s+to|explained|explains|stated|states"
    r"|warned|warns|insisted|insists|continued|continues|wrote|writes|asked|asks|argued|argues"
    r"|claimed|claims|noted|notes|replied|replies|admitted|admits|confirmed|confirms)\b",
    re.IGNORECASE,
)
_QUOTE_OPENERS = '“‘"'


@dataclass
class _QuoteState:
    """Which quotation is open while scanning a paragraph: None, '"' (double) or "'" (single)."""

    open: str | None = None


def _scan(body: str, s: Sentence, state: _QuoteState) -> tuple[int | None, int | None]:
    """Advance the quote state over one sentence.

    Returns the offset of the last quote opened in the sentence and of the last quote closed.
    Double quotes (curly or straight) are tracked; a single ``‘`` opens a quote only when none is
    open, and a ``’`` closes it only when no letter follows (otherwise it is an apostrophe).
    Straight single quotes are ignored: they are too often apostrophes.
    """
    last_open: int | None = None
    last_close: int | None = None
    for i in range(s.start, s.end):
        char = body[i]
        if char == "“" or (char == '"' and state.open is None):
            if state.open is None:
                state.open, last_open = '"', i
        elif char in '”"':
            if state.open == '"':
                state.open, last_close = None, i
        elif char == "‘":
            if state.open is None:
                state.open, last_open = "'", i
        elif char == "’" and state.open == "'" and not _is_letter(body, i + 1):
            state.open, last_close = None, i
    return last_open, last_close


def quote_speakers(body: str, sentences: Sequence[Sentence]) -> list[int | None]:
    """For each sentence, the index of the sentence that attributes the quotation it belongs to,
    or None.

    News style attributes a quotation once and lets it run on: ``X said: “A. B.`` then paragraphs
    that open with ``“`` while the quote is still open. A sentence attributes a quotation when it
    has an attribution verb (said, says, added, told, according to, ...) or a colon before a quote
    that runs to its end, or an attribution verb after a quote it closes (``“A,” he said.``).
    Sentences that begin inside a quote, or begin with a quote mark, map to the latest
    attributing sentence of their paragraph, or of the quote carried over from the previous
    paragraph. Quoted sentences before a trailing attribution map to it once it is found. A
    trailing attribution that follows a known speaker's quote (``“C,” he added.``) continues that
    speaker. Attributing sentences, and sentences outside quotes, map to None; so does a quote
    that is never attributed. A narrative sentence ends the current speaker.
    """
    result: list[int | None] = [None] * len(sentences)
    carried_speaker: int | None = None
    carried_pending: list[int] = []
    carried_open = False
    by_paragraph: dict[int, list[Sentence]] = {}
    for s in sentences:
        by_paragraph.setdefault(s.paragraph, []).append(s)
    for paragraph in sorted(by_paragraph):
        members = by_paragraph[paragraph]
        continues = carried_open and body[members[0].start] in _QUOTE_OPENERS
        speaker = carried_speaker if continues else None
        pending = carried_pending if continues else []
        state = _QuoteState()
        for s in members:
            starts_open = state.open is not None
            begins_quoted = starts_open or body[s.start] in _QUOTE_OPENERS
            last_open, last_close = _scan(body, s, state)
            if _leads_quote(body, s, state, last_open, last_close):
                speaker, pending = s.index, []
            elif last_close is not None and _ATTRIBUTION.search(body, last_close + 1, s.end):
                if speaker is None:
                    for i in pending:
                        result[i] = s.index
                    speaker, pending = s.index, []
                else:
                    result[s.index] = speaker
            elif begins_quoted:
                if speaker is None:
                    pending.append(s.index)
                else:
                    result[s.index] = speaker
            else:
                speaker, pending = None, []
        carried_open = state.open is not None
        carried_speaker = speaker if carried_open else None
        carried_pending = pending if carried_open else []
    return result


def _leads_quote(
    body: str, s: Sentence, state: _QuoteState, last_open: int | None, last_close: int | None
) -> bool:
    """True if the sentence introduces a quote that runs to its end: ``X said: “...``."""
    if last_open is None or last_open == s.start:
        return False
    # Closed again: only a quote that ends the sentence counts (not a scare quote mid-way).
    if state.open is None and (
        last_close is None
        or last_close < last_open
        or body[last_close + 1 : s.end].strip(_TERMINAL + _CLOSERS + ",;")
    ):
        return False
    before = body[s.start : last_open]
    return before.rstrip().endswith(":") or _ATTRIBUTION.search(before) is not None
