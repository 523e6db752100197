"""Answers and bot replies as Telegram HTML, and the splitter for Telegram's 4,096-char limit.

Core-side: pure functions on strings and answer values; this module never imports telegram.
Every dynamic string (questions, article titles, quoted sentences, URLs) goes through
``html.escape`` before it meets a tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Protocol

from trustbot.answer import Answer

# Telegram's limit is 4,096 characters of the parsed text; we measure the raw HTML (tags and
# entities included) in UTF-16 code units, which is never less, so a part that fits here fits there.
MAX_MESSAGE = 4096
# Longer URLs are shown as text rather than linked: a link's href is repeated when a split reopens
# the tag, and Telegram rejects some odd URLs outright.
MAX_URL = 512


class ArticleInfo(Protocol):
    """What the bot shows about an article (``StoredArticle`` has these)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def published(self) -> str | None: ...


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _e(text: str) -> str:
    return escape(text, quote=False)


def _link(title: str, url: str | None) -> str:
    if url and len(url) <= MAX_URL and re.match(r"https?://[^\s<>\"]+$", url):
        return f'<a href="{escape(url, quote=True)}">{_e(title)}</a>'
    return _e(title)


def render_answer(answer: Answer) -> str:
    """The answer with [n] markers, then the numbered sources with titles, links and dates;
    for a follow-up, first how it was read."""
    note = f"<i>{_e(answer.note)}</i>\n" if answer.note else ""
    if not answer.answered:
        q = answer.question if len(answer.question) <= 200 else answer.question[:199] + "…"
        head = f"{note}🤷 {_e(answer.text)} Nothing in them answers “{_e(q)}”.\n\n"
        if not answer.stories:
            return head + "Try other words, or see /sources for what I know about."
        closest = [
            f"• {_e(s.title)}: <code>/story {_e(s.article_id)}</code>" for s in answer.stories
        ]
        return head + "\n".join(
            ["These stories come closest; to ask about one of them only:", *closest]
        )
    body = " ".join(f"{_e(c.text)} <b>[{c.n}]</b>" for c in answer.citations)
    lines = [note + body, "", "<b>Sources</b>"]
    for c in answer.citations:
        where = f"<b>[{c.n}]</b> {_link(c.title, c.url)}, sentence {c.sentence_index + 1}"
        if c.published:
            where += f" · {_e(c.published)}"
        lines.append(where)
    return "\n".join(lines)


def render_sources(articles: Sequence[ArticleInfo], chosen: str | None = None) -> str:
    """The articles in the index with their titles and dates; the one with the id ``chosen``
    (the user's /story) marked."""
    if not articles:
        return "I have no articles yet."
    lines = [f"<b>I know {count_articles(len(articles))}:</b>"]
    for i, a in enumerate(articles, start=1):
        line = f"{i}. {_link(a.title, a.url)}"
        if a.published:
            line += f" · {_e(a.published)}"
        if a.id == chosen:
            line += " ← your /story"
        lines.append(line)
    return "\n".join(lines)


def render_start(articles: Sequence[ArticleInfo], bot_username: str | None = None) -> str:
    """The greeting: what the bot knows and how to ask."""
    shown = ", ".join(f"<i>{_e(a.title)}</i>" for a in articles[:3])
    more = len(articles) - 3
    knows = (
        f"I know {count_articles(len(articles))}: {shown}"
        + (f" and {more} more" if more > 0 else "")
        + "."
        if articles
        else "I have no articles yet."
    )
    return (
        "👋 I answer questions about news articles by quoting the exact sentences that answer "
        f"them, with numbered citations.\n\n{knows}\n\n" + _how_to_ask(bot_username)
    )


def _how_to_ask(bot_username: str | None) -> str:
    mention = f"@{_e(bot_username)}" if bot_username else "me"
    return (
        "Just send me a question here, or use <code>/ask your question</code>. "
        f"In a group, use /ask, mention {mention}, or reply to one of my messages.\n"
        "/sources lists the articles; /story picks one to ask about; /help shows this again."
    )


def render_help(bot_username: str | None = None) -> str:
    """How to use the bot; mentions /ask."""
    return (
        "<b>How to ask</b>\n"
        "<code>/ask Who is the chief executive?</code>\n\n"
        + _how_to_ask(bot_username)
        + '\n\nYou can follow up ("When did he start?", "When was that?"): I read it with your '
        "last question and say how I read it."
        "\n\n<code>/story 2</code> (its number in /sources) or <code>/story article-id</code> "
        "answers your questions from that article only; <code>/story all</code> goes back to "
        "every article."
        "\n\nEvery answer quotes the articles word for word; [n] points to the source. "
        "If the articles don't say, I tell you so rather than guess."
    )


def count_articles(n: int) -> str:
    """ "1 article", "2 articles"."""
    return f"{n} article{'s' if n != 1 else ''}"


def render_story(count: int, title: str | None) -> str:
    """/story alone: what the user's questions are answered from, and how to choose."""
    if title is None:
        now = f"Your questions are answered from every article I know ({count_articles(count)})."
    else:
        now = f"Your questions are answered from one story only: <i>{_e(title)}</i>."
    return (
        f"{now}\n\n"
        "To ask about one story, send <code>/story 2</code> (its number in /sources) or "
        "<code>/story article-id</code>; <code>/story all</code> goes back to every article."
    )


def render_story_chosen(title: str) -> str:
    """The reply to /story N: the article the user's questions now go to."""
    return (
        f"From now on I answer your questions from <i>{_e(title)}</i> only. "
        "/story all goes back to every article."
    )


def render_story_all(count: int) -> str:
    """The reply to /story all."""
    return (
        f"From now on I answer your questions from every article I know ({count_articles(count)})."
    )


def render_story_gone(title: str) -> str:
    """The story the user chose has left the index; their questions go to every article now."""
    return (
        f"<i>{_e(title)}</i> is no longer among the articles, so your questions go to every "
        "article now."
    )


def render_story_unanswered(title: str) -> str:
    """Under a refusal while a story is chosen: only that story was read."""
    return f"(I read only <i>{_e(title)}</i>; /story all asks every article.)"


def render_notice(text: str) -> str:
    """A plain one-line message (an error or a hint), escaped."""
    return _e(text)


# --- splitting ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"<[^<>]*>|&#?[A-Za-z0-9]+;|[^<&]", re.DOTALL)
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9-]*)")
_SENTENCE_END = frozenset(".!?…")
_CLOSE_QUOTE = frozenset("\"'”’»)]")


@dataclass(frozen=True)
class _Tok:
    text: str
    kind: str  # "open", "close", "text"
    name: str = ""


def _tokens(html: str) -> list[_Tok]:
    out: list[_Tok] = []
    for m in _TOKEN.finditer(html):
        t = m.group()
        if t.startswith("<") and len(t) > 1:
            nm = _TAG_NAME.match(t)
            name = nm.group(1).lower() if nm else ""
            out.append(_Tok(t, "close" if t.startswith("</") else "open", name))
        else:
            out.append(_Tok(t, "text"))
    return out


def _break_rank(toks: Sequence[_Tok], k: int) -> int:
    """How good a place to split is just before token ``k``.

    3 after a paragraph break, 2 after a line break, 1 after a sentence end, 0 after a space,
    -1 inside a word (the last resort). Tags are skipped when looking back.
    """
    chars: list[str] = []
    j = k - 1
    while j >= 0 and len(chars) < 6:
        if toks[j].kind == "text":
            chars.append(toks[j].text)
        j -= 1
    tail = "".join(reversed(chars))
    if not tail:
        return 0
    if tail.endswith("\n\n"):
        return 3
    if tail.endswith("\n"):
        return 2
    if not tail[-1].isspace():
        return -1
    # A space after a citation marker ("… [2] Next") ends a cited sentence too.
    if tail.rstrip().endswith("]"):
        return 1
    core = tail.rstrip().rstrip("".join(_CLOSE_QUOTE))
    return 1 if core and core[-1] in _SENTENCE_END else 0


# An element with nothing but whitespace inside: it shows nothing, and its tags alone could take
# the room a part needs for the text after them.
_EMPTY_ELEMENT = re.compile(r"<([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?>(\s*)</\1\s*>")


def _drop_empty_elements(html: str) -> str:
    while True:
        dropped = _EMPTY_ELEMENT.sub(r"\2", html)
        if dropped == html:
            return html
        html = dropped


def split_html(html: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split Telegram HTML into well-formed parts of at most ``limit`` UTF-16 units each.

    Splits prefer paragraph breaks, then line breaks, then sentence ends, then spaces, and never
    fall inside a tag or an entity; tags open at a split are closed at the end of one part and
    reopened at the start of the next. Leading and trailing whitespace of each part, and elements
    with nothing inside, are dropped.
    """
    html = _drop_empty_elements(html)
    if utf16_len(html) <= limit:
        return [html.strip()] if html.strip() else []
    toks = _tokens(html)
    sizes = [utf16_len(t.text) for t in toks]
    parts: list[str] = []
    stack: list[_Tok] = []  # tags open at the start of the current part
    i = 0
    n = len(toks)
    while i < n:
        # Skip whitespace at the start of a part.
        while i < n and toks[i].kind == "text" and toks[i].text.isspace():
            i += 1
        if i >= n:
            break
        prefix = "".join(t.text for t in stack)
        length = utf16_len(prefix)
        open_now = list(stack)
        closers = sum(len(t.name) + 3 for t in open_now)
        best: tuple[int, int] | None = None  # (rank, k)
        k = i
        has_text = False
        while k < n:
            tok = toks[k]
            length += sizes[k]
            if tok.kind == "open":
                open_now.append(tok)
                closers += len(tok.name) + 3
            elif tok.kind == "close":
                for j in range(len(open_now) - 1, -1, -1):
                    if open_now[j].name == tok.name:
                        closers -= sum(len(t.name) + 3 for t in open_now[j:])
                        del open_now[j:]
                        break
            else:
                has_text = has_text or not tok.text.isspace()
            k += 1
            if length + closers > limit:
                break
            # Never end a part just inside a tag (an empty element) or just before a closing tag.
            if has_text and k < n and tok.kind != "open" and toks[k].kind != "close":
                rank = _break_rank(toks, k)
                if best is None or rank >= best[0]:
                    best = (rank, k)
        else:
            # The rest fits.
            best = (99, n)
        if best is None:
            raise ValueError(f"cannot split HTML into parts of {limit} characters")
        end = best[1]
        part_open = list(stack)
        for tok in toks[i:end]:
            if tok.kind == "open":
                part_open.append(tok)
            elif tok.kind == "close":
                for j in range(len(part_open) - 1, -1, -1):
                    if part_open[j].name == tok.name:
                        del part_open[j:]
                        break
        body = "".join(t.text for t in toks[i:end])
        closing = "".join(f"</{t.name}>" for t in reversed(part_open))
        part = (prefix + body).rstrip() + closing
        parts.append(part.strip())
        stack = part_open
        i = end
    return [p for p in parts if p]


def split_many(pieces: Iterable[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Split each piece and return all parts in order."""
    return [part for piece in pieces for part in split_html(piece, limit)]
