"""Reading article files (txt/md/html with front matter) into ``Article`` values."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from trustbot.errors import CorpusError

ARTICLE_SUFFIXES = (".txt", ".md", ".html", ".htm")
log = logging.getLogger(__name__)
_ID_RUN = re.compile(r"[^a-z0-9]+")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)
_KEY_VALUE = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:[ \t]*(.*?)[ \t]*\r?$")
# A file modified this recently when read may be modified again within the same timestamp tick
# (1-2 s on FAT, HFS+ or ext3) keeping its size, so its (size, mtime) would not tell the two
# versions apart: such a stat is not recorded, and the staleness check reads the file instead.
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class Article:
    """One article. Quote offsets refer to ``body`` (the text after any front matter)."""

    id: str
    title: str
    body: str
    sha256: str
    url: str | None = None
    published: str | None = None
    source: str | None = None
    path: Path | None = field(default=None, compare=False)
    # (size, mtime_ns) of ``path`` taken just before it was read, or None when unknown or too
    # recent to trust (see RACY_NS): the index records it so that a staleness check can skip
    # reading files whose stat has not changed.
    stat: tuple[int, int] | None = field(default=None, compare=False)

    def meta(self) -> dict[str, str | None]:
        """The article's metadata (everything but the body) as plain values."""
        return {
            "id": self.id,
            "title": self.title,
            "sha256": self.sha256,
            "url": self.url,
            "published": self.published,
            "source": self.source,
        }


def article_id(path: str | Path) -> str:
    """``Southern Health.txt`` -> ``southern-health`` (CONTRACT.md's rule)."""
    # Path(path) of a Path would parse it again: a quarter of a staleness check at 40,000 files.
    return _ID_RUN.sub("-", (path if isinstance(path, Path) else Path(path)).stem.lower())


def normalise_id(name: str) -> str:
    """An article id from what a user typed: the id itself or the article's file name."""
    if Path(name).suffix.lower() in ARTICLE_SUFFIXES:
        return article_id(name)
    return _ID_RUN.sub("-", name.strip().lower())


def title_from_id(aid: str) -> str:
    """A readable title for an article without one: ``southern-health`` -> ``Southern health``."""
    words = aid.replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else "Untitled"


def content_hash(text: str) -> str:
    """The sha256 of an article's text; identical text means the same article."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split ``---`` front matter from the body. Returns (metadata, body)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta: dict[str, str] = {}
    for line in match.group(1).splitlines():
        kv = _KEY_VALUE.match(line)
        if kv and kv.group(2):
            meta[kv.group(1).lower()] = _unquote(kv.group(2))
    return meta, text[match.end() :]


def decode(data: bytes, name: str) -> str:
    """UTF-8 text of a file, or a ``CorpusError`` naming it."""
    if b"\x00" in data:
        raise CorpusError(f"{name}: looks like a binary file, not an article")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"{name}: not UTF-8 text (bad byte at position {err.start}); save it as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def parse_article(text: str, aid: str, path: Path | None = None) -> Article:
    """Build an ``Article`` from a ``.txt``/``.md`` file's text."""
    meta, body = parse_front_matter(text)
    if not body.strip():
        name = path.name if path else aid
        raise CorpusError(f"{name}: the article has no text")
    return Article(
        id=aid,
        title=meta.get("title") or title_from_id(aid),
        body=body,
        sha256=content_hash(text),
        url=meta.get("url"),
        published=meta.get("published") or meta.get("date"),
        source=meta.get("source"),
        path=path,
    )


def file_stat(st: os.stat_result) -> tuple[int, int]:
    """The (size, mtime_ns) pair the index records for a corpus file."""
    return st.st_size, st.st_mtime_ns


def trusted_stat(st: os.stat_result) -> tuple[int, int] | None:
    """``file_stat(st)`` of a file just read, or None when it is too recent to vouch for what was
    read (see ``RACY_NS``)."""
    return None if time.time_ns() - st.st_mtime_ns < RACY_NS else file_stat(st)


def read_article(path: Path) -> Article:
    """Read one article file. Raises ``CorpusError`` with the file's name on bad input."""
    try:
        with path.open("rb") as fh:
            # Stat before reading: a write after it changes the stat (unless within one tick,
            # which RACY_NS guards), so a recorded stat never vouches for content not read.
            st = os.fstat(fh.fileno())
            data = fh.read()
    except OSError as err:
        raise CorpusError(f"{path}: cannot read it ({err.strerror or err})") from None
    text = decode(data, path.name)
    aid = article_id(path)
    if path.suffix.lower() in (".html", ".htm"):
        from trustbot.html import article_from_html

        art = article_from_html(text, aid, path)
    else:
        art = parse_article(text, aid, path)
    return dataclasses.replace(art, stat=trusted_stat(st))


def article_files(folder: Path) -> list[Path]:
    """The article files directly inside ``folder``, sorted by name (hidden files skipped)."""
    # scandir knows most entries' types without a stat, and names sort faster than Paths (the
    # same order within one folder): at 40,000 files this was most of a staleness check.
    with os.scandir(folder) as entries:
        names = sorted(
            e.name
            for e in entries
            if not e.name.startswith(".")
            and os.path.splitext(e.name)[1].lower() in ARTICLE_SUFFIXES
            and e.is_file()
        )
    return [folder / name for name in names]


def load_corpus(
    folder: Path, known: Callable[[Path], Article | None] | None = None
) -> list[Article]:
    """Every article in the corpus folder. Raises ``CorpusError`` if there are none.

    A file for which ``known`` returns an article is not read (the staleness check passes one
    that knows unchanged files' ids and hashes from the index; their bodies are then empty).
    """
    if not folder.is_dir():
        raise CorpusError(f"corpus folder {folder} does not exist; create it or pass --corpus DIR")
    articles: dict[str, Article] = {}
    by_hash: dict[str, str] = {}
    for path in article_files(folder):
        art = (known(path) if known else None) or read_article(path)
        if art.sha256 in by_hash:
            # Identical text under another name is one article, not two.
            log.warning(
                "%s: same text as article %r; not indexed twice", path.name, by_hash[art.sha256]
            )
            continue
        by_hash[art.sha256] = art.id
        if art.id in articles:
            other = articles[art.id].path
            raise CorpusError(
                f"{path.name} and {other.name if other else '?'} have the same article id "
                f"{art.id!r}; rename one"
            )
        articles[art.id] = art
    if not articles:
        raise CorpusError(
            f"corpus folder {folder} has no articles (.txt, .md or .html); "
            "add one with `trustbot ingest FILE`"
        )
    return list(articles.values())
