"""The on-disk index: FAISS vectors, sentence table, lexical index and manifest.

Layout of ``index/``::

    manifest.json            the commit point: written last, atomically (tmp + os.replace)
    articles/<sha>.<v>.json  each article's body, metadata and sentence offsets (content-addressed)
    vectors/<sha>.<key>.npy  each article's sentence vectors (content- and model-addressed)
    gen-<stamp>/             one generation: its base part (vectors.faiss, table.json,
                             lexical/ (bm25s), articles.json, keys.npz) and segments/<name>/
                             parts laid out the same (see ``trustbot.segments``)
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

Cost: the manifest is small (it lists parts, not articles), and a write with ``changes_only``
(``ingest``, ``remove``) finds the articles it touches in the parts' key arrays, so adding,
changing or removing an article in a large index costs the order of that article. A loaded
index reads each article's body only when a question needs it.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trustbot import segments
from trustbot.corpus import Article
from trustbot.durable import (
    DEFAULT_LOCK_TIMEOUT,
    atomic_write,
    checkpoint,
    fsync_dir,
    fsync_tree,
    write_lock,
)
from trustbot.embed import Embedder
from trustbot.errors import IndexCorrupt, IndexMissing, IndexStale, TrustbotError
from trustbot.text import Sentence, quote_speakers, split_sentences

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

# 2: per-part article tables and tombstones (the manifest no longer lists every article).
FORMAT_VERSION = 2
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


def passage_inputs(article: Article, sentences: Sequence[Sentence]) -> list[str]:
    """The text embedded for each sentence (the citation itself is always the bare sentence)."""
    from trustbot.passages import passage_texts

    speakers = quote_speakers(article.body, sentences)
    return passage_texts(article.body, sentences, speakers)


class StoredArticle:
    """An indexed article: its metadata, and its body and sentence offsets.

    Loaded indexes read the body and offsets lazily, from the article's stored file, the first
    time a question needs them: opening an index of 40,000 articles then reads one table per
    index part instead of 40,000 files.
    """

    def __init__(
        self,
        id: str,
        title: str,
        sha256: str,
        body: str | None = None,
        sentences: tuple[Sentence, ...] | None = None,
        speakers: tuple[int | None, ...] | None = None,
        url: str | None = None,
        published: str | None = None,
        source: str | None = None,
        *,
        file: Path | None = None,
    ) -> None:
        self.id, self.title, self.sha256 = id, title, sha256
        self.url, self.published, self.source = url, published, source
        self._file = file
        if body is not None:
            self.body, self.sentences, self.speakers = body, sentences or (), speakers or ()

    # Set on first use (``__getattr__`` runs only while they are missing), so that once loaded
    # they cost what plain attributes cost: retrieval reads them in its inner loops.
    body: str
    sentences: tuple[Sentence, ...]
    speakers: tuple[int | None, ...]

    def __getattr__(self, name: str) -> object:
        file = self.__dict__.get("_file")
        if name not in ("body", "sentences", "speakers") or file is None:
            raise AttributeError(name)
        self.body, self.sentences, self.speakers = _read_article_file(file)
        return self.__dict__[name]

    def text(self, i: int) -> str:
        """Sentence ``i``, cut from the body by its offsets."""
        s = self.sentences[i]
        return self.body[s.start : s.end]


class _LazyIds(Sequence[str]):
    """A sorted list of ids, made only when looked at: a write that adds one article to 40,000
    should not spend 30 ms listing the 40,000 it left alone, for a report that shows a count."""

    def __init__(self, count: int, make: Callable[[], list[str]]) -> None:
        self._count, self._make = count, make
        self._ids: list[str] | None = None

    def _list(self) -> list[str]:
        if self._ids is None:
            self._ids = sorted(self._make())
        return self._ids

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: Any) -> Any:
        return self._list()[i]

    def __eq__(self, other: object) -> bool:
        return self._list() == (list(other) if isinstance(other, Sequence) else other)

    def __repr__(self) -> str:
        return repr(self._list())


@dataclass
class WriteReport:
    """What one index write did."""

    added: list[str]
    updated: list[str]
    unchanged: Sequence[str]
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


def read_manifest(index_dir: Path, *, entries: bool = True) -> dict[str, Any]:
    """The live manifest. Raises ``IndexMissing``/``IndexCorrupt`` with the fix.

    With ``entries``, ``articles`` lists every live article (id, title, sha256, sentences, ...),
    read from the generation's part tables: for status and staleness checks. Writers and
    loaders read only the manifest itself, whose size does not grow with the corpus.
    """
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
    if entries:
        try:
            manifest["articles"] = [e for _, e in _indexed(index_dir, manifest)]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise IndexCorrupt(
                f"the index in {index_dir} is unreadable ({type(err).__name__}: {err}); "
                f"{REBUILD_HINT}"
            ) from None
    return manifest


def stale_reason(manifest: dict[str, Any], articles: Sequence[Article]) -> str | None:
    """Why the index no longer matches the corpus, or None when it does."""
    indexed = {a["id"]: a["sha256"] for a in manifest.get("articles", [])}
    return _stale(manifest, indexed, {a.id: a.sha256 for a in articles})


def _stale(
    manifest: dict[str, Any], indexed: dict[str, str], current: dict[str, str]
) -> str | None:
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


def corpus_staleness(index_dir: Path, corpus_dir: Path) -> str | None:
    """``stale_reason(read_manifest(index_dir), load_corpus(corpus_dir))``, reading only the
    corpus files that are new or whose size or modification time differ from when they were
    indexed (the parts' key arrays record both); the rest are taken to hold what the index says.

    Raises what that expression raises: ``CorpusError`` for a missing or empty corpus folder, a
    bad file it reads or two files with one id (before any index error, as ``load_corpus`` runs
    first), then ``IndexMissing``/``IndexCorrupt``/``IndexStale``. An index written before sizes
    and times were recorded is checked by reading every file.
    """
    from trustbot.corpus import article_id, file_stat, load_corpus

    try:
        manifest = read_manifest(index_dir, entries=False)
        indexed, seen = _stat_keys(index_dir, manifest)
    except TrustbotError:
        load_corpus(corpus_dir)  # its errors come first, as before
        raise

    def unchanged(path: Path) -> Article | None:
        hit = seen.get(path.name)
        try:
            if hit is None or file_stat(path.stat()) != hit[0]:
                return None
        except OSError:
            return None  # read_article names the problem
        return Article(id=article_id(path), title="", body="", sha256=hit[1], path=path)

    current = load_corpus(corpus_dir, known=unchanged)
    return _stale(manifest, indexed, {a.id: a.sha256 for a in current})


def _stat_keys(
    index_dir: Path, manifest: dict[str, Any]
) -> tuple[dict[str, str], dict[str, tuple[tuple[int, int], str]]]:
    """From the parts' key arrays: every live article's id -> sha256, and corpus file name ->
    ((size, mtime_ns) when indexed, sha256) for the live articles whose stat was recorded."""
    gen_dir = index_dir / str(manifest["generation"])
    indexed: dict[str, str] = {}
    seen: dict[str, tuple[tuple[int, int], str]] = {}
    try:
        for folder, info in _parts(manifest):
            with np.load(gen_dir / folder / PART_KEYS) as keys:
                live = np.ones(len(keys["ids"]), dtype=bool)
                live[np.asarray(info.get("deleted", []), dtype=np.int64)] = False
                ids, shas = keys["ids"][live].tolist(), keys["shas"][live].tolist()
                indexed.update((i.decode(), h.decode()) for i, h in zip(ids, shas, strict=True))
                if "sizes" not in keys.files:
                    continue  # written before stats were recorded: those files are read
                paths = keys["paths"][live].tolist()
                sizes, mtimes = keys["sizes"][live].tolist(), keys["mtimes"][live].tolist()
            for name, size, mtime, sha in zip(paths, sizes, mtimes, shas, strict=True):
                if name and size >= 0:
                    seen[name.decode()] = ((size, mtime), sha.decode())
    except (OSError, ValueError, KeyError, IndexError) as err:
        raise IndexCorrupt(
            f"the index in {index_dir} is unreadable ({type(err).__name__}: {err}); {REBUILD_HINT}"
        ) from None
    return indexed, seen


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
    atomic_write(path, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    return stored


def _read_article_file(
    path: Path,
) -> tuple[str, tuple[Sentence, ...], tuple[int | None, ...]]:
    """An article's stored body, sentence offsets and speakers."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        sentences = tuple(
            Sentence(index=i, start=s, end=e, paragraph=p)
            for i, (s, e, p) in enumerate(data["sentences"])
        )
        return str(data["body"]), sentences, tuple(data["speakers"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise IndexCorrupt(f"index file {path} is unreadable ({err}); {REBUILD_HINT}") from None


def _stored(index_dir: Path, entry: dict[str, Any], *, lazy: bool = True) -> StoredArticle:
    """The article an index entry describes; its body is read now or, ``lazy``, when needed."""
    stored = StoredArticle(
        id=entry["id"],
        title=entry["title"],
        sha256=entry["sha256"],
        url=entry.get("url"),
        published=entry.get("published"),
        source=entry.get("source"),
        file=index_dir / entry["file"],
    )
    if not lazy:
        stored.body  # noqa: B018 - read (and check) the stored file now
    return stored


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


# --------------------------------------------------------------------------- index parts
#
# A generation is a base part (files in the generation folder) and up to MAX_SEGMENTS segment
# parts (segments/<name>/), each with the files in PART_FILES. Each part lists its own articles
# (``articles.json``, in row order) and their ids, hashes, corpus file names, sentence counts and
# corpus file sizes and mtimes as arrays (``keys.npz``), so that a write finds the few articles
# it changes, and a staleness check the few corpus files to read, without reading the whole
# index. The manifest records per part how many articles and rows it holds and which of its
# articles are deleted (tombstones): their rows stay in the FAISS and BM25 files, and
# searches skip them, until a merge or a full rebuild drops them.

PART_ARTICLES = "articles.json"
PART_KEYS = "keys.npz"
# What a base generation holds; a segment holds the same under segments/<name>/.
BASE_FILES = ("vectors.faiss", "table.json", "lexical", PART_ARTICLES, PART_KEYS)
# A segmented index whose deleted rows exceed this share of its live rows is rebuilt (from the
# stored sentences and vectors, nothing is embedded again) instead of gaining more tombstones.
MAX_DEAD_SHARE = 0.25


@dataclass(frozen=True)
class _Held:
    """Where a live indexed article is: its part (0 = base), its position there, and what it is."""

    part: int
    pos: int
    sha256: str
    path: str
    sentences: int


def _parts(manifest: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(folder inside the generation, manifest entry) of the base and of each segment."""
    base = {
        "articles": manifest["base_articles"],
        "rows": manifest["base_rows"],
        "faiss": manifest.get("faiss", {}),
        "deleted": manifest.get("base_deleted", []),
        "dead_rows": manifest.get("base_dead_rows", 0),
    }
    segs = manifest.get("segments", [])
    return [("", base), *((f"{segments.FOLDER}/{s['name']}", s) for s in segs)]


def _part_entries(gen_dir: Path, folder: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((gen_dir / folder / PART_ARTICLES).read_text())
    return entries


def _indexed(index_dir: Path, manifest: dict[str, Any]) -> list[tuple[_Held, dict[str, Any]]]:
    """Every live article of the index with its entry, in row order (reads every part's table)."""
    gen_dir = index_dir / str(manifest["generation"])
    out = []
    for part, (folder, info) in enumerate(_parts(manifest)):
        dead = set(info.get("deleted", []))
        for pos, e in enumerate(_part_entries(gen_dir, folder)):
            if pos not in dead:
                held = _Held(part, pos, e["sha256"], e.get("path") or "", int(e["sentences"]))
                out.append((held, e))
    return out


def _find(
    index_dir: Path, manifest: dict[str, Any], ids: set[str], shas: set[str]
) -> tuple[dict[str, _Held], dict[str, str]]:
    """The live articles with these ids, and the ids of live articles with these hashes.

    Compares against each part's key arrays (vectorised), not its article table: at 40,000
    articles this is milliseconds where parsing the tables took a tenth of a second.
    """
    gen_dir = index_dir / str(manifest["generation"])
    by_id: dict[str, _Held] = {}
    by_sha: dict[str, str] = {}
    if not ids and not shas:
        return by_id, by_sha
    want_ids = np.array(sorted(i.encode() for i in ids) or [b""])
    want_shas = np.array(sorted(h.encode() for h in shas) or [b""])
    for part, (folder, info) in enumerate(_parts(manifest)):
        dead = set(info.get("deleted", []))
        with np.load(gen_dir / folder / PART_KEYS) as keys:
            kid, ksha = keys["ids"], keys["shas"]
            hits = np.flatnonzero(np.isin(kid, want_ids) | np.isin(ksha, want_shas))
            if not hits.size:
                continue
            paths, counts = keys["paths"], keys["sentences"]
        for pos in (int(p) for p in hits if int(p) not in dead):
            aid, sha = kid[pos].decode(), ksha[pos].decode()
            if aid in ids:
                by_id[aid] = _Held(part, pos, sha, paths[pos].decode(), int(counts[pos]))
            if sha in shas:
                by_sha[sha] = aid
    return by_id, by_sha


def _live_ids(index_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """The ids of every live article, from the key arrays."""
    gen_dir = index_dir / str(manifest["generation"])
    out: list[str] = []
    for folder, info in _parts(manifest):
        with np.load(gen_dir / folder / PART_KEYS) as keys:
            ids = np.delete(keys["ids"], np.asarray(info.get("deleted", []), dtype=np.int64))
        out.extend(i.decode() for i in ids.tolist())
    return out


def lookup(
    index_dir: Path, ids: set[str], shas: set[str]
) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """For ``ingest``/``remove``: the indexed articles with these ids, as (sha256, corpus file
    name), and the ids of indexed articles with these hashes, without reading the whole index.
    Raises ``IndexMissing``/``IndexCorrupt``/``IndexStale`` when there is no usable index."""
    manifest = read_manifest(index_dir, entries=False)
    try:
        by_id, by_sha = _find(index_dir, manifest, ids, shas)
    except (OSError, ValueError, KeyError) as err:
        raise IndexCorrupt(
            f"the index in {index_dir} is unreadable ({err}); {REBUILD_HINT}"
        ) from None
    return {k: (h.sha256, h.path) for k, h in by_id.items()}, by_sha


def _ref_article(index_dir: Path, entry: dict[str, Any], *, with_body: bool = False) -> Article:
    """An indexed article as an ``Article``; its body only ``with_body`` (read from the store)."""
    body = _read_article_file(index_dir / entry["file"])[0] if with_body else ""
    return Article(
        id=entry["id"],
        title=entry["title"],
        body=body,
        sha256=entry["sha256"],
        url=entry.get("url"),
        published=entry.get("published"),
        source=entry.get("source"),
        path=Path(entry["path"]) if entry.get("path") else None,
        stat=(int(entry["stat"][0]), int(entry["stat"][1])) if entry.get("stat") else None,
    )


def _entry(a: Article, sentences: int, embedder: Embedder) -> dict[str, Any]:
    return {
        **a.meta(),
        "sentences": sentences,
        "file": _article_file(a),
        "vectors": _vectors_file(a, embedder),
        "path": a.path.name if a.path else None,
        # The corpus file's (size, mtime_ns) when read: see corpus_staleness.
        "stat": list(a.stat) if a.stat else None,
    }


def _changed(held: _Held | None, a: Article) -> bool:
    return held is None or (held.sha256, held.path) != (a.sha256, a.path.name if a.path else "")


def _write_part(
    folder: Path,
    stored: Sequence[StoredArticle],
    entries: Sequence[dict[str, Any]],
    matrix: NDArray[np.float32],
) -> dict[str, Any]:
    """Write one part (the base or a segment): FAISS, row table, BM25, article table and keys."""
    from trustbot import vectors
    from trustbot.lexical import LexicalIndex

    index, info = vectors.build(matrix)
    vectors.save(index, folder)
    table = [[ai, si] for ai, a in enumerate(stored) for si in range(len(a.sentences))]
    (folder / "table.json").write_text(json.dumps(table))
    texts = [a.text(i) for a in stored for i in range(len(a.sentences))]
    LexicalIndex.build(texts).save(folder / "lexical")
    (folder / PART_ARTICLES).write_text(json.dumps(list(entries), ensure_ascii=False))
    with (folder / PART_KEYS).open("wb") as fh:
        np.savez(
            fh,
            ids=np.array([e["id"].encode() for e in entries], dtype=bytes),
            shas=np.array([e["sha256"].encode() for e in entries], dtype=bytes),
            paths=np.array([(e.get("path") or "").encode() for e in entries], dtype=bytes),
            sentences=np.array([e["sentences"] for e in entries], dtype=np.int64),
            # -1: not recorded (the staleness check reads that file).
            sizes=np.array([(e.get("stat") or [-1, -1])[0] for e in entries], dtype=np.int64),
            mtimes=np.array([(e.get("stat") or [-1, -1])[1] for e in entries], dtype=np.int64),
        )
    return info


# --------------------------------------------------------------------------- writing


@dataclass
class _Made:
    """Articles split and embedded (or taken from the store) for one part."""

    stored: list[StoredArticle]
    entries: list[dict[str, Any]]
    matrix: NDArray[np.float32]
    embedded: int


def _materialize(
    index_dir: Path,
    items: Sequence[Article],
    embedder: Embedder,
    *,
    reuse: bool,
    progress: Progress | None,
) -> _Made:
    """Each article's sentences and vectors: from the store when there (``reuse``), else split
    and embedded. Items with an empty body stand for indexed articles and must be stored."""
    (index_dir / "vectors").mkdir(exist_ok=True)
    stored: list[StoredArticle] = []
    blocks: list[NDArray[np.float32]] = []
    entries: list[dict[str, Any]] = []
    embedded = 0
    total = sum(len(a.body) for a in items) or 1
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
            atomic_write(index_dir / _vectors_file(a, embedder), _npy_bytes(vectors))
            blocks[slot] = vectors
            embedded += len(sa.sentences)
            checkpoint("article-embedded")
            done += len(a.body)
            if progress:
                progress(done, total)
        pending.clear()

    for a in items:
        art_path = index_dir / _article_file(a)
        vec_path = index_dir / _vectors_file(a, embedder)
        cached = (reuse or not a.body) and art_path.is_file() and vec_path.is_file()
        vectors: NDArray[np.float32] | None = None
        if cached:
            sa = _stored(index_dir, {**a.meta(), "file": _article_file(a)}, lazy=False)
            try:
                vectors = np.load(vec_path)
            except (OSError, ValueError):
                vectors = None
            if vectors is None or vectors.shape != (len(sa.sentences), embedder.dim):
                cached = False
        if not cached:
            if not a.body:
                raise IndexCorrupt(
                    f"the stored files of article {a.id!r} in {index_dir} are missing; "
                    f"{REBUILD_HINT}"
                )
            sa = _save_article(index_dir, a)
            pending.append((len(blocks), a, sa, passage_inputs(a, sa.sentences)))
        stored.append(sa)
        # A new article's vectors take this slot once its batch is embedded.
        blocks.append(vectors if cached and vectors is not None else no_vectors)
        entries.append(_entry(a, len(sa.sentences), embedder))
        if not cached:
            if sum(len(p[3]) for p in pending) >= EMBED_BATCH:
                embed_pending()
        else:
            done += len(a.body)
            if progress:
                progress(done, total)
    embed_pending()
    matrix = np.concatenate(blocks) if blocks else no_vectors
    return _Made(stored, entries, matrix, embedded)


def _start_write(index_dir: Path, *, strict: bool) -> dict[str, Any] | None:
    """The live manifest (without its article lists), after clearing what a crashed writer left.

    None when there is no usable index; with ``strict``, only when there is none at all (a write
    that changes an index it cannot read would drop everything else the index holds).
    """
    old: dict[str, Any] | None
    try:
        old = read_manifest(index_dir, entries=False)
    except IndexMissing:
        old = None
    except (IndexCorrupt, IndexStale):
        if strict:
            raise
        old = None
    # What a crashed writer left: its generation folder and temporary files. Its finished
    # per-article files stay for this write to reuse. Temporary files beside the per-article
    # files come only from a writer that died after making its generation folder, so
    # without such a folder the (at 40k articles, 80k-file) listing is skipped.
    known = {str(old.get("generation")), str(old.get("previous"))} if old else set()
    crashed = old is None or any(
        c.name.startswith("gen-") and c.name not in known for c in index_dir.iterdir()
    )
    _gc(index_dir, known, content=False, scan_files=crashed)
    return old


def _files_present(index_dir: Path, old: dict[str, Any], entries: Sequence[dict[str, Any]]) -> bool:
    return (index_dir / str(old.get("generation"))).is_dir() and all(
        (index_dir / e[k]).is_file() for e in entries for k in ("file", "vectors")
    )


def write_index(
    index_dir: Path,
    articles: Sequence[Article],
    embedder: Embedder,
    *,
    reuse: bool = True,
    changes_only: bool = False,
    remove: Sequence[str] = (),
    progress: Progress | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> WriteReport:
    """Make the index hold exactly ``articles``, atomically.

    With ``reuse`` (incremental), articles whose content and model are unchanged keep their
    stored sentences and vectors and only new or changed ones are embedded, and when nothing
    changed at all nothing is written; without it (``index build``) every article is split and
    embedded again. With ``changes_only``, ``articles`` are only those to add or replace and
    ``remove`` the ids to drop; every other indexed article stays, and the write costs the
    order of the change, not of the index (what ``ingest`` and ``remove`` use).
    """
    started = time.monotonic()
    with write_lock(index_dir, lock_timeout):
        old = _start_write(index_dir, strict=changes_only)
        same = reuse and _same_recipe(old, embedder)
        held: dict[str, _Held]
        everything: list[tuple[_Held, dict[str, Any]]] | None = None
        if old is None:
            held, items = {}, list(articles)
        elif changes_only:
            held, _ = _find(index_dir, old, {a.id for a in articles} | set(remove), set())
            items = [a for a in articles if _changed(held.get(a.id), a)]
        else:
            everything = _indexed(index_dir, old)
            held = {e["id"]: h for h, e in everything}
            items = [a for a in articles if _changed(held.get(a.id), a)]
        gone = set(remove) & held.keys() if changes_only else held.keys() - {a.id for a in articles}
        dead = {aid: held[aid] for aid in gone | {a.id for a in items} if aid in held}
        if (
            old is not None
            and same
            and not items
            and not dead
            and (changes_only or _files_present(index_dir, old, [e for _, e in everything or []]))
        ):
            return _report(old, [], held, set(), 0, started, index_dir, changes_only)

        if old is not None and same and _can_segment(old, dead, items):
            result = _update_segments(index_dir, old, items, dead, embedder, progress)
        else:
            if changes_only and old is not None:
                # Small index, or another model or recipe: rebuild it from what it holds.
                everything = everything or _indexed(index_dir, old)
                kept = [
                    _ref_article(index_dir, e, with_body=not same)
                    for h, e in everything
                    if e["id"] not in dead
                ]
                full = sorted([*kept, *items], key=lambda a: a.path.name if a.path else a.id)
            else:
                full = list(articles)
            result = _rebuild(index_dir, old, full, embedder, reuse, progress, everything)
        manifest, embedded = result
    return _report(manifest, items, held, set(gone), embedded, started, index_dir, changes_only)


def _report(
    manifest: dict[str, Any],
    items: Sequence[Article],
    held: dict[str, _Held],
    gone: set[str],
    embedded: int,
    started: float,
    index_dir: Path,
    changes_only: bool,
) -> WriteReport:
    touched = {a.id for a in items} | gone
    unchanged: Sequence[str]
    if changes_only:
        unchanged = _LazyIds(
            int(manifest["counts"]["articles"]) - len(items),
            lambda: [i for i in _live_ids(index_dir, manifest) if i not in touched],
        )
    else:
        unchanged = sorted(i for i in held if i not in touched)
    return WriteReport(
        added=sorted(a.id for a in items if a.id not in held),
        updated=sorted(a.id for a in items if a.id in held),
        unchanged=unchanged,
        removed=sorted(gone),
        sentences_embedded=embedded,
        seconds=time.monotonic() - started,
        articles=int(manifest["counts"]["articles"]),
        sentences=int(manifest["counts"]["sentences"]),
    )


def _can_segment(old: dict[str, Any], dead: dict[str, _Held], items: Sequence[Article]) -> bool:
    """Whether this write may keep the live parts (tombstoning ``dead``) and append a segment."""
    if "base_rows" not in old:
        return False
    live = int(old["counts"]["sentences"])
    dead_rows = sum(int(i.get("dead_rows", 0)) for _, i in _parts(old))
    dead_rows += sum(h.sentences for h in dead.values())
    # New articles' rows are not known before they are split; they only lower the share.
    return live >= segments.MIN_ROWS and dead_rows <= MAX_DEAD_SHARE * (live - dead_rows)


def _manifest(
    old: dict[str, Any] | None,
    gen: str,
    embedder: Embedder,
    faiss_info: dict[str, Any],
    counts: tuple[int, int],
    base: dict[str, Any],
    segment_list: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
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
        "counts": {"articles": counts[0], "sentences": counts[1]},
        "base_articles": int(base["articles"]),
        "base_rows": int(base["rows"]),
        "base_deleted": list(base.get("deleted", [])),
        "base_dead_rows": int(base.get("dead_rows", 0)),
        "segments": segment_list,
    }


def _new_generation(index_dir: Path) -> tuple[str, Path]:
    gen = f"gen-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
    (index_dir / gen).mkdir(parents=True)
    return gen, index_dir / gen


def _rebuild(
    index_dir: Path,
    old: dict[str, Any] | None,
    articles: Sequence[Article],
    embedder: Embedder,
    reuse: bool,
    progress: Progress | None,
    old_entries: list[tuple[_Held, dict[str, Any]]] | None,
) -> tuple[dict[str, Any], int]:
    """Write a generation of one base part holding ``articles``, and swap it in."""
    gen, gen_dir = _new_generation(index_dir)
    made = _materialize(index_dir, articles, embedder, reuse=reuse, progress=progress)
    info = _write_part(gen_dir, made.stored, made.entries, made.matrix)
    rows = int(made.matrix.shape[0])
    manifest = _manifest(
        old,
        gen,
        embedder,
        info,
        (len(made.entries), rows),
        {"articles": len(made.entries), "rows": rows},
        [],
    )
    _commit(index_dir, gen_dir, manifest)
    # Per-article files neither this index nor the previous one (which a reader may still be
    # reading articles of) refers to go.
    if old is not None and old_entries is None:
        old_entries = _indexed(index_dir, old)
    refs = {str(manifest["generation"]), str(manifest["previous"])}
    for e in [*made.entries, *(e for _, e in old_entries or [])]:
        refs.update((e["file"], e["vectors"]))
    _gc(index_dir, refs, content=True)
    return manifest, made.embedded


def _update_segments(
    index_dir: Path,
    old: dict[str, Any],
    items: Sequence[Article],
    dead: dict[str, _Held],
    embedder: Embedder,
    progress: Progress | None,
) -> tuple[dict[str, Any], int]:
    """Keep the live parts, tombstone ``dead`` in them and append ``items`` as a new segment.

    Costs the order of the change: the base and the kept segments are hard-linked, not read.
    When a new segment would make more than ``MAX_SEGMENTS``, the segments (not the base) are
    merged into the new one from the stored sentences and vectors, dropping their tombstones.
    """
    gen, gen_dir = _new_generation(index_dir)
    old_gen = index_dir / str(old["generation"])
    parts = [
        (folder, {**info, "deleted": list(info.get("deleted", []))}) for folder, info in _parts(old)
    ]
    for h in dead.values():
        info = parts[h.part][1]
        info["deleted"] = sorted({*info["deleted"], h.pos})
        info["dead_rows"] = int(info.get("dead_rows", 0)) + h.sentences
    base, segs = parts[0][1], [info for _, info in parts[1:]]
    new_items = list(items)
    if items and len(segs) + 1 > segments.MAX_SEGMENTS:
        merged = []
        for folder, info in parts[1:]:
            gone = set(info["deleted"])
            entries = _part_entries(old_gen, folder)
            merged += [_ref_article(index_dir, e) for p, e in enumerate(entries) if p not in gone]
        new_items, segs = [*merged, *items], []
    segments.link_kept(old_gen, gen_dir, BASE_FILES, [s["name"] for s in segs])
    embedded = 0
    if new_items:
        made = _materialize(index_dir, new_items, embedder, reuse=True, progress=progress)
        name = f"s-{gen[4:]}"
        seg_dir = gen_dir / segments.FOLDER / name
        seg_dir.mkdir(parents=True)
        info = _write_part(seg_dir, made.stored, made.entries, made.matrix)
        rows = int(made.matrix.shape[0])
        segs.append(
            {
                "name": name,
                "articles": len(made.entries),
                "rows": rows,
                "faiss": info,
                "deleted": [],
                "dead_rows": 0,
            }
        )
        embedded = made.embedded
    kept = [base, *segs]
    live_articles = sum(int(i["articles"]) - len(i["deleted"]) for i in kept)
    live_rows = sum(int(i["rows"]) - int(i.get("dead_rows", 0)) for i in kept)
    manifest = _manifest(
        old,
        gen,
        embedder,
        old["faiss"],
        (live_articles, live_rows),
        base,
        segs,
    )
    _commit(index_dir, gen_dir, manifest)
    # Only the previous and this generation stay; no per-article file became unreferenced by
    # the live index that a listing of every article's files would find.
    _gc(index_dir, {gen, str(old["generation"])}, content=False, scan_files=False)
    return manifest, embedded


def _commit(index_dir: Path, gen_dir: Path, manifest: dict[str, Any]) -> None:
    """Make the new generation durable, then swap its manifest in (the commit point)."""
    # Everything the new manifest points at reaches the disk before the manifest does.
    fsync_tree(gen_dir)
    for sub in ("articles", "vectors"):
        fsync_dir(index_dir / sub)
    fsync_dir(index_dir)
    checkpoint("generation-written")
    atomic_write(
        index_dir / MANIFEST,
        json.dumps(manifest, indent=2, ensure_ascii=False).encode(),
        before_replace=lambda: checkpoint("manifest-written"),
    )
    fsync_dir(index_dir)
    checkpoint("manifest-replaced")


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


@dataclass
class LoadedIndex:
    """A generation of the index, loaded and ready to search."""

    index_dir: Path
    manifest: dict[str, Any]
    # The live articles (their bodies are read when first needed).
    articles: list[StoredArticle]
    # rows[i] = (position in ``articles``, sentence index) for FAISS/lexical row i; position -1
    # for the rows of deleted articles, which searches never return.
    rows: list[tuple[int, int]]
    faiss_index: Any
    lexical: Any
    _first_row: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        # Rows are laid out article by article, so a sentence's row is its article's first row
        # plus its index.
        self._first_row = {}
        for row, (ai, si) in enumerate(self.rows):
            if si == 0 and ai >= 0:
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

    def text(self, row: int) -> str:
        """The sentence behind a search row, as stored."""
        art, si = self.sentence(row)
        return art.text(si)


def load_index(index_dir: Path, embedder: Embedder | None = None) -> LoadedIndex:
    """Load the live generation. With ``embedder``, refuse an index built with another model.

    A writer may swap in a new manifest while we read the generation the old one named, and a
    later write may then delete that generation's files; we start over from the new manifest.
    """
    for attempt in range(3):
        manifest = read_manifest(index_dir, entries=False)
        if embedder is not None:
            check_model(manifest, embedder, index_dir)
        try:
            return _load_generation(index_dir, manifest)
        except IndexCorrupt:
            try:
                swapped = read_manifest(index_dir, entries=False).get("generation") != manifest.get(
                    "generation"
                )
            except TrustbotError:
                swapped = False
            if attempt == 2 or not swapped:
                raise
    raise AssertionError("unreachable")


def _load_generation(index_dir: Path, manifest: dict[str, Any]) -> LoadedIndex:
    from trustbot import vectors
    from trustbot.lexical import LexicalIndex

    gen_dir = index_dir / str(manifest.get("generation"))
    articles: list[StoredArticle] = []
    counts: list[int] = []
    rows: list[tuple[int, int]] = []
    indexes, lexicals, dead_rows = [], [], []
    try:
        for folder, info in _parts(manifest):
            part_dir = gen_dir / folder
            deleted = set(info.get("deleted", []))
            live: list[int] = []  # part position -> position in ``articles`` (-1: deleted)
            for pos, entry in enumerate(_part_entries(gen_dir, folder)):
                live.append(-1 if pos in deleted else len(articles))
                if pos not in deleted:
                    articles.append(_stored(index_dir, entry))
                    counts.append(int(entry["sentences"]))
            first = len(rows)
            rows.extend(
                (live[int(a)], int(s)) for a, s in json.loads((part_dir / "table.json").read_text())
            )
            dead_rows.append(
                np.array([r - first for r in range(first, len(rows)) if rows[r][0] < 0], np.int64)
                if deleted
                else np.zeros(0, dtype=np.int64)
            )
            indexes.append(vectors.load(part_dir, info.get("faiss", {})))
            lexicals.append(LexicalIndex.load(part_dir / "lexical"))
    except IndexCorrupt:
        raise
    except Exception as err:  # faiss raises RuntimeError, json ValueError, files OSError
        raise IndexCorrupt(
            f"the index in {index_dir} is unreadable ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); {REBUILD_HINT}"
        ) from None
    faiss_index: Any = indexes[0]
    lexical: Any = lexicals[0]
    if len(indexes) > 1 or dead_rows[0].size:
        faiss_index = vectors.Segments(indexes, dead_rows)
        lexical = segments.SegmentedLexical(lexicals, dead_rows)
    if faiss_index.ntotal != len(rows) or any(
        not (-1 <= a < len(articles) and 0 <= s < (counts[a] if a >= 0 else s + 1)) for a, s in rows
    ):
        raise IndexCorrupt(f"the index in {index_dir} is inconsistent; {REBUILD_HINT}")
    return LoadedIndex(index_dir, manifest, articles, rows, faiss_index, lexical)
