"""HTML articles: the body extracted with trafilatura, with its title, date and URL."""

from __future__ import annotations

from pathlib import Path

from trustbot.corpus import Article, content_hash, title_from_id
from trustbot.errors import CorpusError


def article_from_html(html: str, aid: str, path: Path | None = None) -> Article:
    """Extract the article body (no navigation, scripts or boilerplate) from a page."""
    import trafilatura

    name = path.name if path else aid
    doc = trafilatura.bare_extraction(
        html, include_comments=False, include_tables=False, favor_precision=True, with_metadata=True
    )
    body = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if not body:
        raise CorpusError(f"{name}: no article text could be extracted from the page")
    # Paragraphs from the extractor are separated by single newlines; the corpus convention
    # (and the sentence splitter) separates them by blank lines.
    body = "\n\n".join(line.strip() for line in body.splitlines() if line.strip()) + "\n"
    return Article(
        id=aid,
        title=getattr(doc, "title", None) or title_from_id(aid),
        body=body,
        sha256=content_hash(html),
        url=getattr(doc, "url", None),
        published=getattr(doc, "date", None),
        source=getattr(doc, "sitename", None),
        path=path,
    )
