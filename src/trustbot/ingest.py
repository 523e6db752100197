"""The corpus lifecycle: ingest (add or update) and remove articles, then update the index.

Every operation holds the index's writer lock from its first look at the corpus folder until its
files are in place, so two editors ingesting at once are serialised. The corpus follows the index:
new files wait in a hidden folder (``.trustbot-staging/``, which no reader takes for articles)
until the index that holds them is live, and removed files go only after the index without them
is. So a crash before the swap leaves the corpus and the index exactly as they were (the next
operation deletes the hidden folder, and reuses the vectors already made). Only a crash in the
instant between the swap and the file moves leaves the corpus behind the index; running the same
command again puts that right.

One bad input never stops a batch: a missing path, a binary or non-UTF-8 file, an empty article or
a page without a story is reported by name and skipped, and the rest is ingested.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trustbot.config import Settings
from trustbot.corpus import (
    ARTICLE_SUFFIXES,
    Article,
    article_files,
    article_id,
    content_hash,
    decode,
    normalise_id,
    read_article,
    trusted_stat,
)
from trustbot.durable import fsync_dir, write_lock
from trustbot.embed import Embedder
from trustbot.errors import CorpusError, TrustbotError
from trustbot.store import Progress, WriteReport, lookup, write_index

log = logging.getLogger(__name__)

# Ingested files wait in this hidden folder inside the corpus folder until their index is live
# (a folder, not hidden files beside the articles: clearing it needs no listing of the corpus).
STAGE_DIR = ".trustbot-staging"


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


def _staged_stat(tmp: Path, art: Article) -> tuple[int, int] | None:
    """The (size, mtime) the index may record for the corpus file ``tmp`` becomes: only if the
    copy holds exactly ``art``'s text and is not too recent to be told apart by its stat (see
    ``corpus.RACY_NS``); otherwise the staleness check will read the file."""
    with tmp.open("rb") as fh:
        st = os.fstat(fh.fileno())
        same = content_hash(decode(fh.read(), tmp.name)) == art.sha256
    return trusted_stat(st) if same else None


def _stage(corpus: Path, source: Path) -> Path:
    """Copy ``source`` into the corpus's hidden staging folder (never read for articles), synced."""
    folder = corpus / STAGE_DIR
    folder.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{source.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            # The copy keeps the source's times (as `cp -p` does), so its stat can vouch for it.
            st = os.fstat(src.fileno())
            os.utime(out.fileno(), ns=(st.st_atime_ns, st.st_mtime_ns))
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def _clear_stage(corpus: Path) -> None:
    """Delete what a killed ingest staged (we hold the writer lock, so no ingest is running)."""
    shutil.rmtree(corpus / STAGE_DIR, ignore_errors=True)


def _files_of(corpus: Path, aid: str) -> list[Path]:
    return [p for p in article_files(corpus) if article_id(p) == aid] if corpus.is_dir() else []


def _holds(target: Path, source: Path) -> bool:
    """Whether the corpus file ``target`` has the bytes of the input ``source``."""
    try:
        return target.resolve() == source.resolve() or target.read_bytes() == source.read_bytes()
    except OSError:
        return False


def _in_folder(path: Path, folder: Path) -> bool:
    return folder.is_dir() and path.resolve().parent == folder.resolve()


def _write(
    settings: Settings,
    articles: Iterable[Article],
    embedder: Embedder,
    progress: Progress | None,
    *,
    changes_only: bool = False,
    remove: Iterable[str] = (),
) -> WriteReport:
    # The order `load_corpus` reads them in, so a small index is laid out as a rebuild would be.
    ordered = sorted(articles, key=lambda a: a.path.name if a.path else a.id)
    return write_index(
        settings.index_dir,
        ordered,
        embedder,
        reuse=True,
        changes_only=changes_only,
        remove=sorted(remove),
        progress=progress,
        lock_timeout=settings.lock_timeout,
    )


def ingest(
    settings: Settings,
    paths: Sequence[Path],
    embedder: Embedder,
    progress: Progress | None = None,
) -> LifecycleReport:
    """Copy new or changed articles into the corpus and update the index incrementally.

    An unchanged file changes nothing; a changed one replaces its article (whatever the old
    file's extension); text identical to another article is reported and skipped. Inputs are
    staged in a hidden folder in the corpus folder and put in place only once the index that holds
    them is live, so until then a crash leaves both the corpus and the index as they were.

    Only the inputs are read: what the index holds is looked up in it, so adding one article
    to a large corpus costs the order of that article. (Articles edited in the corpus folder by
    hand are picked up by ``reindex`` or ``index build``; ``ask`` reports them as stale.) Without
    a usable index the corpus folder is scanned and everything in it is indexed.
    """
    corpus = settings.corpus_dir
    files, problems = collect_inputs(paths)
    duplicates: list[Duplicate] = []
    with write_lock(settings.index_dir, settings.lock_timeout):
        corpus.mkdir(parents=True, exist_ok=True)
        _clear_stage(corpus)
        inputs: list[tuple[Path, Article]] = []
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
            inputs.append((path, art))
        scan: CorpusScan | None = None
        try:
            held, owner = lookup(
                settings.index_dir, {a.id for _, a in inputs}, {a.sha256 for _, a in inputs}
            )
        except TrustbotError:  # no usable index: the corpus folder says what exists
            scan = scan_corpus(corpus)
            held = {a.id: (a.sha256, a.path.name if a.path else "") for a in scan.articles}
            owner = {a.sha256: a.id for a in scan.articles}
        changes: dict[str, Article] = {}
        staged: list[tuple[Path, Path]] = []
        doomed: list[Path] = []
        try:
            for path, art in inputs:
                if owner.get(art.sha256, art.id) != art.id:
                    duplicates.append(Duplicate(str(path), owner[art.sha256]))
                    continue
                target = corpus / path.name
                if held.get(art.id) == (art.sha256, target.name) and _holds(target, path):
                    continue  # unchanged (and in the corpus: a kill may have come before the move)
                if not _in_folder(path, corpus):
                    staged.append((_stage(corpus, path), target))
                    art = dataclasses.replace(art, stat=_staged_stat(staged[-1][0], art))
                old_name = held.get(art.id, ("", ""))[1]
                if old_name and old_name != target.name:
                    doomed.append(corpus / old_name)
                changes[art.id] = dataclasses.replace(art, path=target)
                owner[art.sha256] = art.id
            if scan is not None:
                everything = {a.id: a for a in scan.articles} | changes
                report = _write(settings, everything.values(), embedder, progress)
            else:
                report = _write(settings, changes.values(), embedder, progress, changes_only=True)
            # The index that holds the new articles is live: now put their files in place.
            for stale in doomed:
                stale.unlink(missing_ok=True)
            for tmp, target in staged:
                os.replace(tmp, target)
                log.debug("ingested %s", target)
            fsync_dir(corpus)
        finally:
            _clear_stage(corpus)  # holds only what was not put in place: the write failed
        if scan is not None:
            problems += scan.problems
            duplicates += scan.duplicates
        return LifecycleReport(report, problems, duplicates)


def remove(
    settings: Settings,
    ids: Sequence[str],
    embedder: Embedder,
    progress: Progress | None = None,
) -> LifecycleReport:
    """Drop articles from the index, then delete their files from the corpus.

    The index is told only which articles go (tombstones in a large index), so removing one
    costs the order of that article; without a usable index the corpus folder is re-scanned.
    """
    corpus = settings.corpus_dir
    problems: list[Problem] = []
    with write_lock(settings.index_dir, settings.lock_timeout):
        _clear_stage(corpus)
        aids = {name: normalise_id(name) for name in ids}
        try:
            indexed, _ = lookup(settings.index_dir, set(aids.values()), set())
            usable = True
        except TrustbotError:  # no or unreadable index: the corpus alone says what exists
            indexed, usable = {}, False
        doomed: list[Path] = []
        for name, aid in aids.items():
            known = indexed.get(aid, ("", ""))[1]
            files = [corpus / known] if known else _files_of(corpus, aid)
            if not files and aid not in indexed:
                problems.append(
                    Problem(name, f"{name}: no article with that id (see `trustbot index status`)")
                )
            doomed.extend(files)
        gone = set(aids.values())
        if usable:
            report = _write(settings, [], embedder, progress, changes_only=True, remove=gone)
            scan = CorpusScan([], [], [])
        else:
            scan = scan_corpus(corpus)
            kept = (a for a in scan.articles if a.id not in gone)
            report = _write(settings, kept, embedder, progress)
        for path in doomed:
            path.unlink(missing_ok=True)
        fsync_dir(corpus)
        return LifecycleReport(report, problems + scan.problems, scan.duplicates)


def reindex(
    settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> LifecycleReport:
    """Re-scan the corpus folder and bring the index up to date with it (``/reindex``)."""
    with write_lock(settings.index_dir, settings.lock_timeout):
        _clear_stage(settings.corpus_dir)
        scan = scan_corpus(settings.corpus_dir)
        report = _write(settings, scan.articles, embedder, progress)
        return LifecycleReport(report, scan.problems, scan.duplicates)


def watch(
    settings: Settings,
    folder: Path,
    embedder: Embedder,
    on_report: Callable[[LifecycleReport], None],
    *,
    every: float = 2.0,
    stop: threading.Event | None = None,
    on_error: Callable[[TrustbotError], None] | None = None,
) -> None:
    """Ingest the article files in ``folder`` as they appear or change, until ``stop`` is set.

    A file is taken once it looks the same (size and modification time) on two looks in a row,
    so a copy still being written is not ingested half-way. A failed ingest (another writer held
    the lock too long, say) is tried again on the next look.
    """
    if not folder.is_dir():
        raise CorpusError(f"{folder}: no such folder to watch")
    stop = stop or threading.Event()
    done: dict[Path, tuple[int, int]] = {}
    last: dict[Path, tuple[int, int]] = {}
    while not stop.is_set():
        now: dict[Path, tuple[int, int]] = {}
        for path in article_files(folder):
            with contextlib.suppress(OSError):  # deleted between the listing and the stat
                st = path.stat()
                now[path] = (st.st_size, st.st_mtime_ns)
        ready = [p for p, sig in now.items() if done.get(p) != sig and last.get(p) == sig]
        last = now
        if ready:
            try:
                report = ingest(settings, ready, embedder)
            except TrustbotError as err:
                if on_error is None:
                    raise
                on_error(err)
            else:
                done.update((p, now[p]) for p in ready)
                on_report(report)
        stop.wait(every)
