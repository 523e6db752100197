"""The corpus lifecycle: ingest (add or update) and remove articles, then update the index.

Every operation holds the index's writer lock from its first change to the corpus folder until the
new index is swapped in, so two editors ingesting at once are serialised, and the corpus and the
index they leave agree. The corpus changes first: if the process dies before the swap, the files
are in the corpus and the next ``ingest``, ``index update`` or ``/reindex`` indexes them (the
vectors already made are reused); the live index stays the previous one, whole.

One bad input never stops a batch: a missing path, a binary or non-UTF-8 file, an empty article or
a page without a story is reported by name and skipped, and the rest is ingested.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trustbot.config import Settings
from trustbot.corpus import ARTICLE_SUFFIXES, Article, article_files, article_id, read_article
from trustbot.embed import Embedder
from trustbot.errors import CorpusError, TrustbotError
from trustbot.store import Progress, WriteReport, read_manifest, write_index, write_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """An input that was skipped, and why (``message`` names it)."""

    name: str
    message: str


@dataclass(frozen=True)
class Duplicate:
    """An input whose text is already in the corpus under another article id."""

    name: str
    same_as: str


@dataclass
class LifecycleReport:
    """What an ingest, remove or re-scan did to the corpus and the index."""

    index: WriteReport
    problems: list[Problem] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether some input could not be used (the CLI exits 2)."""
        return bool(self.problems)

    def summary(self) -> str:
        """One line for people: counts of what changed, sentences embedded, time."""
        extra = []
        if self.duplicates:
            extra.append(f"{len(self.duplicates)} duplicate(s) skipped")
        if self.problems:
            extra.append(f"{len(self.problems)} input(s) failed")
        line = self.index.summary()
        return f"{line}; {', '.join(extra)}" if extra else line


@dataclass
class CorpusScan:
    """The corpus folder read leniently: good articles, plus what was skipped and why."""

    articles: list[Article]
    problems: list[Problem]
    duplicates: list[Duplicate]


def scan_corpus(folder: Path) -> CorpusScan:
    """Every readable article in ``folder``, as ``corpus.load_corpus`` sees them.

    Same order and the same rule for identical text (the first file by name keeps it), but an
    unreadable file or a clash of ids is reported instead of stopping the scan.
    """
    articles: dict[str, Article] = {}
    by_hash: dict[str, str] = {}
    problems: list[Problem] = []
    duplicates: list[Duplicate] = []
    if not folder.is_dir():
        return CorpusScan([], [], [])
    for path in article_files(folder):
        try:
            art = read_article(path)
        except CorpusError as err:
            problems.append(Problem(str(path), str(err)))
            continue
        if art.sha256 in by_hash:
            duplicates.append(Duplicate(path.name, by_hash[art.sha256]))
            continue
        if art.id in articles:
            other = articles[art.id].path
            problems.append(
                Problem(
                    str(path),
                    f"{path}: has the same article id {art.id!r} as "
                    f"{other.name if other else '?'}; rename one",
                )
            )
            continue
        by_hash[art.sha256] = art.id
        articles[art.id] = art
    return CorpusScan(list(articles.values()), problems, duplicates)


def collect_inputs(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """The article files named by ``paths`` (a folder stands for the articles directly in it)."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = article_files(path)
            if not found:
                problems.append(
                    Problem(str(path), f"{path}: the folder has no .txt, .md or .html articles")
                )
            files.extend(found)
        elif not path.exists():
            problems.append(Problem(str(path), f"{path}: no such file or folder"))
        elif path.suffix.lower() not in ARTICLE_SUFFIXES:
            problems.append(Problem(str(path), f"{path}: not an article file (.txt, .md or .html)"))
        else:
            files.append(path)
    return files, problems


def _copy_into(corpus: Path, source: Path) -> Path:
    """Copy ``source`` into the corpus atomically, so a reader never sees half a file."""
    target = corpus / source.name
    fd, tmp = tempfile.mkstemp(dir=corpus, prefix=f".{source.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def _files_of(corpus: Path, aid: str) -> list[Path]:
    return [p for p in article_files(corpus) if article_id(p) == aid] if corpus.is_dir() else []


def _index_corpus(
    settings: Settings,
    embedder: Embedder,
    progress: Progress | None,
    problems: list[Problem],
    duplicates: list[Duplicate],
) -> LifecycleReport:
    scan = scan_corpus(settings.corpus_dir)
    report = write_index(
        settings.index_dir,
        scan.articles,
        embedder,
        reuse=True,
        progress=progress,
        lock_timeout=settings.lock_timeout,
    )
    return LifecycleReport(report, problems + scan.problems, duplicates + scan.duplicates)


def ingest(
    settings: Settings,
    paths: Sequence[Path],
    embedder: Embedder,
    progress: Progress | None = None,
) -> LifecycleReport:
    """Copy new or changed articles into the corpus and update the index incrementally.

    An unchanged file changes nothing; a changed one replaces its article (whatever the old
    file's extension); text identical to another article is reported and skipped.
    """
    corpus = settings.corpus_dir
    files, problems = collect_inputs(paths)
    duplicates: list[Duplicate] = []
    with write_lock(settings.index_dir, settings.lock_timeout):
        corpus.mkdir(parents=True, exist_ok=True)
        current = {a.id: a for a in scan_corpus(corpus).articles}
        owner = {a.sha256: a.id for a in current.values()}
        batch: dict[str, Path] = {}
        for path in files:
            try:
                art = read_article(path)
            except CorpusError as err:
                problems.append(Problem(str(path), str(err)))
                continue
            if art.id in batch:
                problems.append(
                    Problem(
                        str(path),
                        f"{path}: has the same article id {art.id!r} as {batch[art.id]}; "
                        "rename one",
                    )
                )
                continue
            batch[art.id] = path
            if owner.get(art.sha256, art.id) != art.id:
                duplicates.append(Duplicate(str(path), owner[art.sha256]))
                continue
            old = current.get(art.id)
            if (
                old is not None
                and old.path is not None
                and (
                    old.path.samefile(path)  # already in the corpus (`trustbot ingest corpus/`)
                    or (old.sha256 == art.sha256 and old.path.name == path.name)
                )
            ):
                continue
            stale = _files_of(corpus, art.id)
            target = _copy_into(corpus, path)
            for other in stale:
                if other.name != target.name:
                    other.unlink(missing_ok=True)
            owner[art.sha256] = art.id
            log.debug("%s -> %s", path, target)
        return _index_corpus(settings, embedder, progress, problems, duplicates)


def normalise_id(name: str) -> str:
    """An article id from what a user typed: the id itself or the article's file name."""
    if Path(name).suffix.lower() in ARTICLE_SUFFIXES:
        return article_id(name)
    return re.sub(r"[^a-z0-9]+", "-", name.strip().lower())


def remove(
    settings: Settings,
    ids: Sequence[str],
    embedder: Embedder,
    progress: Progress | None = None,
) -> LifecycleReport:
    """Delete articles' files from the corpus and drop them from the index."""
    problems: list[Problem] = []
    with write_lock(settings.index_dir, settings.lock_timeout):
        try:
            indexed = {a["id"] for a in read_manifest(settings.index_dir)["articles"]}
        except TrustbotError:  # no or unreadable index: the corpus alone says what exists
            indexed = set()
        for name in ids:
            aid = normalise_id(name)
            files = _files_of(settings.corpus_dir, aid)
            if not files and aid not in indexed:
                problems.append(
                    Problem(name, f"{name}: no article with that id (see `trustbot index status`)")
                )
            for f in files:
                f.unlink(missing_ok=True)
        return _index_corpus(settings, embedder, progress, problems, [])


def reindex(
    settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> LifecycleReport:
    """Re-scan the corpus folder and bring the index up to date with it (``/reindex``)."""
    with write_lock(settings.index_dir, settings.lock_timeout):
        return _index_corpus(settings, embedder, progress, [], [])
