"""HTML articles: the story's text, without the page furniture around it, and its metadata.

News pages carry far more than the story: scripts, navigation, cookie banners, "most read" and
"related" boxes, share buttons, newsletter sign-ups, comments and footers. None of it may be
indexed, because anything indexed can be quoted as if the article said it. Two passes keep it out:

1. ``strip_furniture`` removes what is furniture by markup, the way readability.js and trafilatura
   themselves do: non-content tags, landmark roles, hidden elements, class/id names from a
   boilerplate vocabulary, and boxes whose heading is "Most read", "Related stories" and the like.
   A wrapper holding most of the page's paragraphs is never removed, whatever its class says.
2. trafilatura (in precision mode) picks the main text out of what is left.

The extracted body is what the index stores and what quote offsets refer to, so every quote can be
checked against it. Title, date, URL and site name come from the page's metadata; a date is only
taken from the page's markup, never guessed from text such as a copyright line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustbot.corpus import Article, content_hash, title_from_id
from trustbot.errors import CorpusError

if TYPE_CHECKING:
    from lxml.html import HtmlElement

_DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "canvas",
    "iframe",
    "object",
    "embed",
    "form",
    "button",
    "select",
    "textarea",
    "input",
    "nav",
    "aside",
    "footer",
    "dialog",
    "figure",
    "figcaption",
)
_DROP_ROLES = frozenset(
    {
        "navigation",
        "banner",
        "contentinfo",
        "complementary",
        "dialog",
        "alertdialog",
        "search",
        "menu",
        "menubar",
    }
)
# Matched against an element's class and id, split into lower-case words. These go even when they
# are all the text a page has (a page that is only a cookie banner), unless they hold the story.
_FURNITURE_NAME = re.compile(
    r"\b(?:cookies?|consent|gdpr|newsletters?|subscribe|subscription|sign ?up|paywall|outbrain|"
    r"taboola|breadcrumbs?|comments?|disqus|most ?(?:read|popular|viewed|shared|commented))\b"
)
# These may also name a layout wrapper (`class="with-sidebar"`): it stays if it holds the story.
_LAYOUT_NAME = re.compile(
    r"\b(?:promos?|promotion|advert\w*|ads?|sponsor\w*|share|sharing|social|related|"
    r"recommend\w*|trending|popular|footer|masthead|navbar|nav|menu|sidebar|byline|modal|popup|"
    r"overlay|banner|widget|tags)\b"
)
# Headings that introduce a box of other stories or calls to action rather than the story.
_BOX_HEADING = re.compile(
    r"^(?:most (?:read|popular|viewed|shared|commented)|trending(?: now)?|popular(?: now)?|"
    r"related(?: stories| articles| content| links| topics)?|recommended(?: for you)?|"
    r"more (?:stories|news|from|on this)|read (?:more|next)|you (?:may|might) also like|"
    r"top stories|latest (?:news|stories)|editor'?s picks|"
    r"(?:sign up|subscribe)(?: to| for)?|newsletter|advertisement|share (?:this|on))\b",
    re.IGNORECASE,
)
# Short lines that survive extraction on some sites and are never part of a story.
_FURNITURE_LINE = re.compile(
    r"^(?:advertisement|sponsored(?: content)?|share(?: this)?(?: article| story)?|"
    r"read more|image (?:source|caption)|(?:©|\(c\)|copyright ).{0,150}|"
    r".{0,150}all rights reserved\.?)$",
    re.IGNORECASE,
)
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# A wrapper holding at least this share of the page's paragraph text is the story's container.
_WRAPPER_SHARE = 0.5


def _words(el: HtmlElement) -> str:
    raw = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
    return " ".join(re.split(r"[^a-z0-9]+", raw)).strip()


def _text_len(el: HtmlElement) -> int:
    return sum(len(p.text_content()) for p in el.iter("p"))


def _is_hidden(el: HtmlElement) -> bool:
    style = (el.get("style") or "").replace(" ", "").lower()
    return (
        el.get("hidden") is not None
        or el.get("aria-hidden") == "true"
        or "display:none" in style
        or "visibility:hidden" in style
    )


def _drop(el: HtmlElement) -> None:
    # drop_tree keeps the element's tail text (the text after it belongs to the parent).
    if el.getparent() is not None:
        el.drop_tree()


def strip_furniture(root: HtmlElement) -> None:
    """Remove everything that is page furniture by its markup (see the module docstring)."""
    body = root.find("body")
    if body is None:
        body = root
    total = _text_len(body) or 1

    def is_wrapper(el: HtmlElement) -> bool:
        return (
            el.tag in ("html", "body", "article", "main")
            or el.find(".//article") is not None
            or el.find(".//main") is not None
            or _text_len(el) / total >= _WRAPPER_SHARE
        )

    def holds_story(el: HtmlElement) -> bool:
        # Stricter, for names that are furniture whatever they wrap: the page itself, or most of
        # its text in several paragraphs (`<article class="post comments-open">`). A cookie
        # banner that is all the text a page has is still a banner.
        return (
            el.tag in ("html", "body", "main")
            or el.find(".//main") is not None
            or (_text_len(el) / total >= _WRAPPER_SHARE and len(el.findall(".//p")) >= 3)
        )

    for el in list(root.iter(*_DROP_TAGS)):
        if el.tag == "script" and el.get("type") == "application/ld+json":
            continue  # structured metadata (headline, date), never shown as text
        if el.tag in ("nav", "aside", "footer") and is_wrapper(el):
            continue
        _drop(el)
    for el in list(body.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None:
            continue
        if (
            el.tag == "header"
            and not any(a.tag in ("article", "main") for a in el.iterancestors())
            and not is_wrapper(el)
        ):
            _drop(el)
            continue
        names = f"{_words(el)} {(el.get('aria-label') or '').lower()}"
        if (_FURNITURE_NAME.search(names) and not holds_story(el)) or (
            (
                _is_hidden(el)
                or (el.get("role") or "").lower() in _DROP_ROLES
                or _LAYOUT_NAME.search(names)
            )
            and not is_wrapper(el)
        ):
            _drop(el)
    for el in list(body.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None:
            continue
        is_heading = el.tag in _HEADING_TAGS or re.search(r"\b(?:title|heading)\b", _words(el))
        text = " ".join(el.text_content().split())
        if not is_heading or len(text) > 60 or not _BOX_HEADING.match(text):
            continue
        box = el.getparent()
        if box is not None and box is not body and not is_wrapper(box):
            _drop(box)
            continue
        # The heading sits directly in the story's container: drop it and the list it heads.
        nxt = el.getnext()
        _drop(el)
        if nxt is not None and nxt.tag in ("ul", "ol"):
            _drop(nxt)


def _paragraphs(text: str, title: str | None) -> list[str]:
    lines = [" ".join(line.split()) for line in text.splitlines()]
    out = [line for line in lines if line and not _FURNITURE_LINE.match(line)]
    # The headline is the article's title; it is shown with every citation already.
    if out and title and " ".join(title.split()).casefold() == out[0].casefold():
        out = out[1:]
    return out


def article_from_html(html: str, aid: str, path: Path | None = None) -> Article:
    """Extract the article body and metadata from a page; ``CorpusError`` if it has no story."""
    import lxml.html
    import trafilatura
    from lxml.etree import ParserError

    name = path.name if path else aid
    if not html.strip():
        raise CorpusError(f"{name}: the page is empty")
    try:
        root = lxml.html.document_fromstring(html)
    except (ParserError, ValueError) as err:
        raise CorpusError(f"{name}: not a readable HTML page ({err})") from None
    strip_furniture(root)
    doc: Any = trafilatura.bare_extraction(
        root,
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        with_metadata=True,
        # Dates only from the page's markup (meta tags, <time>, JSON-LD, URL): the extensive
        # search guesses from any year in the text, such as a footer's copyright line.
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    title = getattr(doc, "title", None) if doc is not None else None
    text = (getattr(doc, "text", None) or "") if doc is not None else ""
    paragraphs = _paragraphs(text, title)
    if not paragraphs:
        raise CorpusError(f"{name}: no article text could be extracted from the page")
    # The corpus convention (and the sentence splitter) separates paragraphs by blank lines.
    body = "\n\n".join(paragraphs) + "\n"
    return Article(
        id=aid,
        title=title or title_from_id(aid),
        body=body,
        sha256=content_hash(html),
        url=getattr(doc, "url", None),
        published=getattr(doc, "date", None),
        source=getattr(doc, "sitename", None),
        path=path,
    )
