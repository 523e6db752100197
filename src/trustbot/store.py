"""The on-disk index: FAISS vectors, sentence table, lexical index and manifest.

Layout of ``index/``::

    manifest.json            the commit point: written last, atomically (tmp + os.replace)
    articles/<sha>.<v>.json  each article's body, metadata and sentence offsets (content-addressed)
    vectors/<sha>.<key>.npy  each article's sentence vectors (content- and model-addressed)
    gen-<stamp>/             one generation: vectors.faiss, table.json, lexical/ (bm25s)
    .lock                    serialises writers

A write builds a new generation folder next to the live one, fsyncs it, and then replaces
``manifest.json``, so a reader (the running bot) sees either the old index or the new one, never
half of one, and a crash at any point (``kill -9`` or power loss) leaves the previous manifest and
everything it points at intact. Per-article files are addressed by content, so an incremental
update embeds only new or changed articles, and the vectors a crashed write had already made are
reused by the next one.

Clean-up: a write starts by deleting generation folders and temporary files that the live
manifest does not point at (what a crashed writer left), and ends by deleting what neither the new
nor the previous manifest points at. The previous generation thus outlives the swap by one write,
so a reader that read the old manifest just before the swap can still load it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trustbot import segments
from trustbot.config import crash_hook
from trustbot.corpus import Article
from trustbot.embed import Embedder
from trustbot.errors import IndexCorrupt, IndexLocked, IndexMissing, IndexStale, TrustbotError
from trustbot.text import Sentence, quote_speakers, split_sentences

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# Bump when split_sentences/quote_speakers change what they return: cached spans are re-made.
TEXT_VERSION = 1
# Bump when passage_inputs changes what is embedded: cached vectors are re-made.
EMBED_RECIPE = "speaker-sentence-v1"
MANIFEST = "manifest.json"
REBUILD_HINT = "run `trustbot index build`"

Progress = Callable[[int, int], None]
# Sentences embedded per encode call in a write (see write_index). The encoder sorts each call's
# texts by length before batching, so a wider window pads less: on the 48 xquad-r articles a
# write ran at 131 sentences/s with 512 and 172/s with 4096 (the bare encoder: 196/s).
EMBED_BATCH = 4096
DEFAULT_LOCK_TIMEOUT = 60.0


def passage_inputs(article: Article, sentences: Sequence[Sentence]) -> list[str]:
    """The text embedded for each sentence (the citation itself is always the bare sentence)."""
    from trustbot.passages import passage_texts

    speakers = quote_speakers(article.body, sentences)
    return passage_texts(article.body, sentences, speakers)


@dataclass(frozen=True)
class StoredArticle:
    """An indexed article: its metadata, body and sentence offsets."""

    id: str
    title: str
    sha256: str
    body: str
    sentences: tuple[Sentence, ...]
    speakers: tuple[int | None, ...]
    url: str | None = None
    published: str | None = None
    source: str | None = None

    def text(self, i: int) -> str:
        """Sentence ``i``, cut from the body by its offsets."""
        s = self.sentences[i]
        return self.body[s.start : s.end]


@dataclass
class WriteReport:
    """What one index write did."""

    added: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]
    sentences_embedded: int
    seconds: float
    articles: int
    sentences: int

    def summary(self) -> str:
        """One line for people: what the index holds now and what this write changed."""
        return (
            f"Indexed {self.articles} article(s), {self.sentences} sentences "
            f"({len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed; "
            f"{self.sentences_embedded} sentences embedded) in {self.seconds:.1f}s"
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _atomic_write(
    path: Path, data: bytes, before_replace: Callable[[], None] | None = None
) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (new or renamed files) durable."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_tree(folder: Path) -> None:
    # The manifest may only point at files whose contents are on disk: after a power cut a
    # renamed-but-unsynced file can come back empty.
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
        else:
            fsync_dir(path)
    fsync_dir(folder)


_hook_hits: dict[str, int] = {}


def checkpoint(point: str) -> None:
    """A named moment of a write where the crash-safety tests pause or kill the process.

    Points, in order: ``article-embedded`` (after each article's vectors are saved),
    ``generation-written`` (new generation complete, manifest not yet touched),
    ``manifest-written`` (new manifest in a temporary file, not yet swapped in) and
    ``manifest-replaced`` (swapped in, old files not yet cleaned up). Does nothing unless
    ``TRUSTBOT_TEST_HOOK`` names the point (see ``config.crash_hook``).
    """
    hook = crash_hook()
    if not hook or hook.split(":")[0] != point:
        return
    _, action, *arg = [*hook.split(":"), ""]
    _hook_hits[point] = _hook_hits.get(point, 0) + 1
    if action == "kill" and _hook_hits[point] >= int(arg[0] or 1):
        log.warning("test hook: kill -9 at %s", point)
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "sleep" and _hook_hits[point] == 1:
        log.warning("test hook: sleeping at %s", point)
        time.sleep(float(arg[0] or 3600))


# Which index folders this thread holds the writer lock of: ``ingest`` holds it across its corpus
# changes and the index write, and ``write_index`` inside it must not wait for itself.
_held = threading.local()


@contextlib.contextmanager
def write_lock(index_dir: Path, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the index's writer lock; wait up to ``timeout`` seconds for another writer.

    Re-entrant within a thread. The lock is an ``flock`` on ``index/.lock``, so the kernel
    releases it when its holder dies, even by ``kill -9``.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    key = str(index_dir.resolve())
    held: set[str] = _held.__dict__.setdefault("paths", set())
    if key in held:
        yield
        return
    with (index_dir / ".lock").open("a") as fh:
        deadline = time.monotonic() + timeout
        waiting = False
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexLocked(
                        f"another trustbot process has been writing the index in {index_dir} "
                        f"for over {timeout:g}s; wait for it to finish and try again"
                    ) from None
                if not waiting:
                    log.warning("waiting for another trustbot process to finish writing the index")
                    waiting = True
                time.sleep(0.1)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """The live manifest. Raises ``IndexMissing``/``IndexCorrupt`` with the fix."""
    path = index_dir / MANIFEST
    if not path.is_file():
        raise IndexMissing(f"there is no index in {index_dir}; {REBUILD_HINT} to build it")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise IndexCorrupt(
            f"the index manifest {path} is unreadable ({err}); {REBUILD_HINT}"
        ) from None
    if not isinstance(manifest, dict) or "format_version" not in manifest:
        raise IndexCorrupt(f"the index manifest {path} is not a trustbot manifest; {REBUILD_HINT}")
    if manifest["format_version"] != FORMAT_VERSION:
        raise IndexStale(
            f"the index in {index_dir} has format version {manifest['format_version']}, "
            f"this trustbot reads version {FORMAT_VERSION}; {REBUILD_HINT}"
        )
    return manifest


def stale_reason(manifest: dict[str, Any], articles: Sequence[Article]) -> str | None:
    """Why the index no longer matches the corpus, or None when it does."""
    indexed = {a["id"]: a["sha256"] for a in manifest.get("articles", [])}
    current = {a.id: a.sha256 for a in articles}
    added = sorted(current.keys() - indexed.keys())
    removed = sorted(indexed.keys() - current.keys())
    changed = sorted(k for k in current.keys() & indexed.keys() if current[k] != indexed[k])
    parts = []
    if (manifest.get("text_version"), manifest.get("embed_recipe")) != (TEXT_VERSION, EMBED_RECIPE):
        parts.append("built by an older trustbot that split or embedded sentences differently")
    for label, ids in (("new", added), ("changed", changed), ("removed", removed)):
        if ids:
            shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
            parts.append(f"{label}: {shown}")
    return "; ".join(parts) if parts else None


def check_model(manifest: dict[str, Any], embedder: Embedder, index_dir: Path) -> None:
    """Refuse an index built with another model than ``embedder``."""
    model = manifest.get("model", {})
    if (
        model.get("id") != embedder.model_id
        or model.get("weights_sha256") != embedder.weights_sha256
    ):
        raise IndexStale(
            f"the index in {index_dir} was built with model {model.get('id')!r} "
            f"(weights {str(model.get('weights_sha256'))[:12]}…), not {embedder.model_id!r} "
            f"(weights {embedder.weights_sha256[:12]}…); {REBUILD_HINT}"
        )


def _article_file(a: Article) -> str:
    return f"articles/{a.sha256}.t{TEXT_VERSION}.json"


def _vectors_file(a: Article, embedder: Embedder) -> str:
    return f"vectors/{a.sha256}.t{TEXT_VERSION}.{EMBED_RECIPE}.{embedder.weights_sha256[:16]}.npy"


def _save_article(index_dir: Path, a: Article) -> StoredArticle:
    sentences = split_sentences(a.body)
    speakers = quote_speakers(a.body, sentences)
    stored = StoredArticle(
        id=a.id,
        title=a.title,
        sha256=a.sha256,
        body=a.body,
        sentences=tuple(sentences),
        speakers=tuple(speakers),
        url=a.url,
        published=a.published,
        source=a.source,
    )
    payload = {
        **a.meta(),
        "body": a.body,
        "sentences": [[s.start, s.end, s.paragraph] for s in sentences],
        "speakers": speakers,
    }
    path = index_dir / _article_file(a)
    path.parent.mkdir(exist_ok=True)
    _atomic_write(path, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    return stored


def _load_article(index_dir: Path, entry: dict[str, Any]) -> StoredArticle:
    path = index_dir / entry["file"]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        sentences = tuple(
            Sentence(index=i, start=s, end=e, paragraph=p)
            for i, (s, e, p) in enumerate(data["sentences"])
        )
        return StoredArticle(
            id=entry["id"],
            title=entry["title"],
            sha256=entry["sha256"],
            body=data["body"],
            sentences=sentences,
            speakers=tuple(data["speakers"]),
            url=entry.get("url"),
            published=entry.get("published"),
            source=entry.get("source"),
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise IndexCorrupt(f"index file {path} is unreadable ({err}); {REBUILD_HINT}") from None


def _gc(index_dir: Path, keep: set[str], *, content: bool, scan_files: bool = True) -> None:
    """Delete generations and temporary files no kept manifest refers to; with ``content``, also
    per-article files (without it they stay, for the write about to run to reuse); without
    ``scan_files``, the per-article folders are not looked at at all."""
    # Per-article files first: a dead writer's generation folder, removed below, is what tells
    # the next write to look here (see write_index).
    for sub in ("articles", "vectors") if scan_files else ():
        folder = index_dir / sub
        if folder.is_dir():
            for f in folder.iterdir():
                if f.name.endswith(".tmp") or (content and f"{sub}/{f.name}" not in keep):
                    f.unlink(missing_ok=True)
    for child in index_dir.iterdir():
        if child.name.startswith("gen-") and child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(f".{MANIFEST}.") and child.name.endswith(".tmp"):
            child.unlink(missing_ok=True)


def _manifest_refs(manifest: dict[str, Any] | None) -> set[str]:
    if not manifest:
        return set()
    refs = {str(manifest.get("generation"))}
    for a in manifest.get("articles", []):
        refs.update((a["file"], a["vectors"]))
    return refs


def _is_current(
    index_dir: Path, old: dict[str, Any], articles: Sequence[Article], embedder: Embedder
) -> bool:
    """Whether the live index already holds exactly ``articles`` (in any order), with this model."""
    if len(old.get("articles", [])) != len(articles):
        return False  # the usual case when adding: no need to build both lists
    model = old.get("model", {})
    expected = [(a.id, a.sha256, _article_file(a), _vectors_file(a, embedder)) for a in articles]
    held = [
        (e.get("id"), e.get("sha256"), e.get("file"), e.get("vectors")) for e in old["articles"]
    ]
    return (
        (model.get("id"), model.get("weights_sha256"))
        == (embedder.model_id, embedder.weights_sha256)
        and (old.get("text_version"), old.get("embed_recipe")) == (TEXT_VERSION, EMBED_RECIPE)
        and sorted(held) == sorted(expected)  # an appended segment lists new articles last
        and (index_dir / str(old.get("generation"))).is_dir()
        and all((index_dir / f).is_file() for _, _, *files in expected for f in files)
    )


def write_index(
    index_dir: Path,
    articles: Sequence[Article],
    embedder: Embedder,
    *,
    reuse: bool = True,
    progress: Progress | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> WriteReport:
    """Make the index hold exactly ``articles``, atomically.

    With ``reuse`` (incremental), articles whose content and model are unchanged keep their
    stored sentences and vectors and only new or changed ones are embedded, and when nothing
    changed at all nothing is written; without it (``index build``) every article is split and
    embedded again.
    """
    started = time.monotonic()
    with write_lock(index_dir, lock_timeout):
        old: dict[str, Any] | None
        try:
            old = read_manifest(index_dir)
        except (IndexMissing, IndexCorrupt, IndexStale):
            old = None
        old_shas = {a["id"]: a["sha256"] for a in old["articles"]} if old else {}
        # What a crashed writer left: its generation folder and temporary files. Its finished
        # per-article files stay for this write to reuse. Temporary files beside the per-article
        # files come only from a writer that died after making its generation folder, so
        # without such a folder the (at 40k articles, 80k-file) listing is skipped.
        known = {str(old.get("generation")), str(old.get("previous"))} if old else set()
        crashed = old is None or any(
            c.name.startswith("gen-") and c.name not in known for c in index_dir.iterdir()
        )
        _gc(index_dir, _manifest_refs(old), content=False, scan_files=crashed)
        if reuse and old is not None and _is_current(index_dir, old, articles, embedder):
            return WriteReport(
                added=[],
                updated=[],
                unchanged=sorted(old_shas),
                removed=[],
                sentences_embedded=0,
                seconds=time.monotonic() - started,
                articles=int(old["counts"]["articles"]),
                sentences=int(old["counts"]["sentences"]),
            )

        gen = f"gen-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
        gen_dir = index_dir / gen
        gen_dir.mkdir(parents=True)
        # A large index that only gains articles keeps its base and segments and appends one.
        current = {a.id: a.sha256 for a in articles}
        keep = segments.plan(old, current, reuse and _same_recipe(old, embedder), index_dir)
        todo = [a for a in articles if a.id not in keep.kept_ids]
        (index_dir / "vectors").mkdir(exist_ok=True)

        stored: list[StoredArticle] = []
        blocks: list[NDArray[np.float32]] = []
        entries: list[dict[str, Any]] = []
        embedded = 0
        total = sum(len(a.body) for a in todo) or 1
        done = 0
        # New articles are embedded together, EMBED_BATCH sentences at a time: one encode call
        # per article pads and batches short articles badly (0.7x the bare model's throughput).
        pending: list[tuple[int, Article, StoredArticle, list[str]]] = []
        no_vectors = np.zeros((0, embedder.dim), dtype=np.float32)

        def embed_pending() -> None:
            nonlocal embedded, done
            texts = [t for *_, inputs in pending for t in inputs]
            matrix = embedder.encode(texts) if texts else None
            start = 0
            for slot, a, sa, inputs in pending:
                vectors = no_vectors
                if matrix is not None and inputs:
                    vectors = matrix[start : start + len(inputs)]
                start += len(inputs)
                _atomic_write(index_dir / _vectors_file(a, embedder), _npy_bytes(vectors))
                blocks[slot] = vectors
                embedded += len(sa.sentences)
                checkpoint("article-embedded")
                done += len(a.body)
                if progress:
                    progress(done, total)
            pending.clear()

        for a in todo:
            art_path = index_dir / _article_file(a)
            vec_path = index_dir / _vectors_file(a, embedder)
            cached = reuse and art_path.is_file() and vec_path.is_file()
            vectors: NDArray[np.float32] | None = None
            if cached:
                sa = _load_article(index_dir, {**a.meta(), "file": _article_file(a)})
                try:
                    vectors = np.load(vec_path)
                except (OSError, ValueError):
                    vectors = None
                if vectors is None or vectors.shape != (len(sa.sentences), embedder.dim):
                    cached = False
            if not cached:
                sa = _save_article(index_dir, a)
                pending.append((len(blocks), a, sa, passage_inputs(a, sa.sentences)))
            stored.append(sa)
            # A new article's vectors take this slot once its batch is embedded.
            blocks.append(vectors if cached and vectors is not None else no_vectors)
            entries.append(
                {
                    **a.meta(),
                    "sentences": len(sa.sentences),
                    "file": _article_file(a),
                    "vectors": _vectors_file(a, embedder),
                }
            )
            if not cached:
                if sum(len(p[3]) for p in pending) >= EMBED_BATCH:
                    embed_pending()
            else:
                done += len(a.body)
                if progress:
                    progress(done, total)
        embed_pending()

        matrix = np.concatenate(blocks) if blocks else np.zeros((0, embedder.dim), dtype=np.float32)
        segment_list: list[dict[str, Any]] = []
        if keep.appends:
            assert old is not None
            segments.link_kept(keep, gen_dir, BASE_FILES)
            name = f"s-{gen[4:]}"
            seg_dir = gen_dir / segments.FOLDER / name
            seg_dir.mkdir(parents=True)
            info = _write_generation(seg_dir, stored, matrix, first=len(keep.entries))
            segment_list = [*keep.segments, {"name": name, "articles": len(stored)}]
            segment_list[-1].update(rows=int(matrix.shape[0]), faiss=info)
            faiss_info, entries = old["faiss"], [*keep.entries, *entries]
        else:
            faiss_info = _write_generation(gen_dir, stored, matrix)
        sentences = keep.rows + int(matrix.shape[0])
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": {
                "id": embedder.model_id,
                "dim": embedder.dim,
                "weights_sha256": embedder.weights_sha256,
            },
            "embed_recipe": EMBED_RECIPE,
            "text_version": TEXT_VERSION,
            "built_at": _now(),
            "generation": gen,
            "previous": old.get("generation") if old else None,
            "faiss": faiss_info,
            "counts": {"articles": len(entries), "sentences": sentences},
            "base_articles": keep.base_articles if keep.appends else len(entries),
            "segments": segment_list,
            "articles": entries,
        }
        # Everything the new manifest points at reaches the disk before the manifest does.
        _fsync_tree(gen_dir)
        for sub in ("articles", "vectors"):
            fsync_dir(index_dir / sub)
        fsync_dir(index_dir)
        checkpoint("generation-written")
        _atomic_write(
            index_dir / MANIFEST,
            # Indented for people while small; past that, json's C encoder (no indent): at 4,000
            # articles the indented dump took 0.12 s of a 0.5 s one-article write.
            json.dumps(
                manifest, indent=2 if len(entries) <= 1000 else None, ensure_ascii=False
            ).encode(),
            before_replace=lambda: checkpoint("manifest-written"),
        )
        fsync_dir(index_dir)
        checkpoint("manifest-replaced")
        # An append leaves no per-article file unreferenced (and the start of this write removed
        # any temporary ones): not listing every article's files keeps adding one O(new).
        _gc(
            index_dir,
            _manifest_refs(manifest) | _manifest_refs(old),
            content=not keep.appends,
            scan_files=not keep.appends,
        )

    new_ids = {a.id: a.sha256 for a in articles}
    return WriteReport(
        added=sorted(k for k in new_ids if k not in old_shas),
        updated=sorted(k for k in new_ids if k in old_shas and old_shas[k] != new_ids[k]),
        unchanged=sorted(k for k in new_ids if old_shas.get(k) == new_ids[k]),
        removed=sorted(k for k in old_shas if k not in new_ids),
        sentences_embedded=embedded,
        seconds=time.monotonic() - started,
        articles=len(entries),
        sentences=sentences,
    )


def _npy_bytes(array: NDArray[np.float32]) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _same_recipe(old: dict[str, Any] | None, embedder: Embedder) -> bool:
    model = (old or {}).get("model", {})
    return (
        old is not None
        and (model.get("id"), model.get("weights_sha256"))
        == (embedder.model_id, embedder.weights_sha256)
        and (old.get("text_version"), old.get("embed_recipe")) == (TEXT_VERSION, EMBED_RECIPE)
    )


# What a base generation holds; a segment holds the same under segments/<name>/.
BASE_FILES = ("vectors.faiss", "table.json", "lexical")


def _write_generation(
    gen_dir: Path, stored: Sequence[StoredArticle], matrix: NDArray[np.float32], first: int = 0
) -> dict[str, Any]:
    from trustbot import vectors
    from trustbot.lexical import LexicalIndex

    index, info = vectors.build(matrix)
    vectors.save(index, gen_dir)
    table = [[first + ai, si] for ai, a in enumerate(stored) for si in range(len(a.sentences))]
    (gen_dir / "table.json").write_text(json.dumps(table))
    texts = [a.text(i) for a in stored for i in range(len(a.sentences))]
    LexicalIndex.build(texts).save(gen_dir / "lexical")
    return info


@dataclass
class LoadedIndex:
    """A generation of the index, loaded and ready to search."""

    index_dir: Path
    manifest: dict[str, Any]
    articles: list[StoredArticle]
    # rows[i] = (position in ``articles``, sentence index) for FAISS/lexical row i
    rows: list[tuple[int, int]]
    faiss_index: Any
    lexical: Any
    _first_row: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        # Rows are laid out article by article, so a sentence's row is its article's first row
        # plus its index.
        self._first_row = {}
        for row, (ai, si) in enumerate(self.rows):
            if si == 0:
                self._first_row[self.articles[ai].id] = row

    def row_of(self, article_id: str, sentence_index: int) -> int | None:
        """The search row of an article's sentence."""
        first = self._first_row.get(article_id)
        return None if first is None else first + sentence_index

    @property
    def generation(self) -> str:
        return str(self.manifest["generation"])

    def sentence(self, row: int) -> tuple[StoredArticle, int]:
        """The article and sentence index behind a search row."""
        ai, si = self.rows[row]
        return self.articles[ai], si


def load_index(index_dir: Path, embedder: Embedder | None = None) -> LoadedIndex:
    """Load the live generation. With ``embedder``, refuse an index built with another model.

    A writer may swap in a new manifest while we read the generation the old one named, and a
    later write may then delete that generation's files; we start over from the new manifest.
    """
    for attempt in range(3):
        manifest = read_manifest(index_dir)
        if embedder is not None:
            check_model(manifest, embedder, index_dir)
        try:
            return _load_generation(index_dir, manifest)
        except IndexCorrupt:
            try:
                swapped = read_manifest(index_dir).get("generation") != manifest.get("generation")
            except TrustbotError:
                swapped = False
            if attempt == 2 or not swapped:
                raise
    raise AssertionError("unreachable")


def _add_segments(
    gen_dir: Path, manifest: dict[str, Any], rows: list[tuple[int, int]], base: Any, lexical: Any
) -> tuple[Any, Any]:
    """Load the generation's segments after its base: their rows extend ``rows``."""
    from trustbot import vectors
    from trustbot.lexical import LexicalIndex

    indexes, lexicals = [base], [lexical]
    for seg in manifest["segments"]:
        folder = gen_dir / segments.FOLDER / seg["name"]
        rows.extend((int(a), int(s)) for a, s in json.loads((folder / "table.json").read_text()))
        indexes.append(vectors.load(folder, seg.get("faiss", {})))
        lexicals.append(LexicalIndex.load(folder / "lexical"))
    return vectors.Segments(indexes), segments.SegmentedLexical(lexicals)


def _load_generation(index_dir: Path, manifest: dict[str, Any]) -> LoadedIndex:
    from trustbot import vectors
    from trustbot.lexical import LexicalIndex

    gen_dir = index_dir / str(manifest.get("generation"))
    try:
        articles = [_load_article(index_dir, entry) for entry in manifest["articles"]]
        rows = [(int(a), int(s)) for a, s in json.loads((gen_dir / "table.json").read_text())]
        faiss_index = vectors.load(gen_dir, manifest.get("faiss", {}))
        lexical = LexicalIndex.load(gen_dir / "lexical")
        if manifest.get("segments"):
            faiss_index, lexical = _add_segments(gen_dir, manifest, rows, faiss_index, lexical)
    except IndexCorrupt:
        raise
    except Exception as err:  # faiss raises RuntimeError, json ValueError, files OSError
        raise IndexCorrupt(
            f"the index in {index_dir} is unreadable ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); {REBUILD_HINT}"
        ) from None
    if faiss_index.ntotal != len(rows) or any(
        not (0 <= a < len(articles) and 0 <= s < len(articles[a].sentences)) for a, s in rows
    ):
        raise IndexCorrupt(f"the index in {index_dir} is inconsistent; {REBUILD_HINT}")
    return LoadedIndex(index_dir, manifest, articles, rows, faiss_index, lexical)
