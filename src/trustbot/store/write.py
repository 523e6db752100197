"""Writing the index: a new generation built beside the live one and swapped in atomically,
embedding only new or changed articles (see the package's docstring)."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trustbot import segments, token_match
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
from trustbot.errors import IndexCorrupt, IndexMissing, IndexStale
from trustbot.store.loaded import StoredArticle, open_article, read_article_file
from trustbot.store.manifest import (
    EMBED_RECIPE,
    FORMAT_VERSION,
    MANIFEST,
    PART_ARTICLES,
    PART_KEYS,
    REBUILD_HINT,
    TEXT_VERSION,
    Held,
    generation_parts,
    live_articles,
    part_entries,
    read_manifest,
    without_token_vectors,
)
from trustbot.text import Sentence, quote_speakers, split_sentences

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

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


def _article_file(a: Article) -> str:
    return f"articles/{a.sha256}.t{TEXT_VERSION}.json"


def _vectors_file(a: Article, embedder: Embedder) -> str:
    return f"vectors/{a.sha256}.t{TEXT_VERSION}.{EMBED_RECIPE}.{embedder.weights_sha256[:16]}.npy"


def _tokens_file(a: Article, embedder: Embedder) -> str:
    return f"{_vectors_file(a, embedder).removesuffix('.npy')}.tokens.npy"


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


# What a base generation holds; a segment holds the same under segments/<name>/.
BASE_FILES = ("vectors.faiss", "table.json", "lexical", PART_ARTICLES, PART_KEYS)
# A segmented index whose deleted rows exceed this share of its live rows is rebuilt (from the
# stored sentences and vectors, nothing is embedded again) instead of gaining more tombstones.
MAX_DEAD_SHARE = 0.25


def _find(
    index_dir: Path, manifest: dict[str, Any], ids: set[str], shas: set[str]
) -> tuple[dict[str, Held], dict[str, str]]:
    """The live articles with these ids, and the ids of live articles with these hashes.

    Compares against each part's key arrays (vectorised), not its article table: at 40,000
    articles this is milliseconds where parsing the tables took a tenth of a second.
    """
    gen_dir = index_dir / str(manifest["generation"])
    by_id: dict[str, Held] = {}
    by_sha: dict[str, str] = {}
    if not ids and not shas:
        return by_id, by_sha
    want_ids = np.array(sorted(i.encode() for i in ids) or [b""])
    want_shas = np.array(sorted(h.encode() for h in shas) or [b""])
    for part, (folder, info) in enumerate(generation_parts(manifest)):
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
                by_id[aid] = Held(part, pos, sha, paths[pos].decode(), int(counts[pos]))
            if sha in shas:
                by_sha[sha] = aid
    return by_id, by_sha


def _live_ids(index_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """The ids of every live article, from the key arrays."""
    gen_dir = index_dir / str(manifest["generation"])
    out: list[str] = []
    for folder, info in generation_parts(manifest):
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
    body = read_article_file(index_dir / entry["file"])[0] if with_body else ""
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
        "tokens": _tokens_file(a, embedder),
        "path": a.path.name if a.path else None,
        # The corpus file's (size, mtime_ns) when read: see corpus_staleness.
        "stat": list(a.stat) if a.stat else None,
    }


def _changed(held: Held | None, a: Article) -> bool:
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
        matrix, tokens = embedder.encode_with_tokens(texts) if texts else (None, [])
        start = 0
        for slot, a, sa, inputs in pending:
            vectors = no_vectors
            if matrix is not None and inputs:
                vectors = matrix[start : start + len(inputs)]
            mine = [t.vectors for t in tokens[start : start + len(inputs)]]
            start += len(inputs)
            packed = token_match.pack(mine, embedder.dim)
            atomic_write(index_dir / _tokens_file(a, embedder), packed)
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
            sa = open_article(index_dir, {**a.meta(), "file": _article_file(a)}, lazy=False)
            try:
                vectors = np.load(vec_path)
            except (OSError, ValueError):
                vectors = None
            if vectors is None or vectors.shape != (len(sa.sentences), embedder.dim):
                cached = False
            # Indexes written before round twenty have no token vectors: embedded again when
            # the article is at hand (the search falls back to encoding them until then).
            if a.body and not (index_dir / _tokens_file(a, embedder)).is_file():
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
        held: dict[str, Held]
        everything: list[tuple[Held, dict[str, Any]]] | None = None
        if old is None:
            held, items = {}, list(articles)
        elif changes_only:
            held, _ = _find(index_dir, old, {a.id for a in articles} | set(remove), set())
            items = [a for a in articles if _changed(held.get(a.id), a)]
        else:
            everything = live_articles(index_dir, old)
            held = {e["id"]: h for h, e in everything}
            items = [a for a in articles if _changed(held.get(a.id), a)]
        gone = set(remove) & held.keys() if changes_only else held.keys() - {a.id for a in articles}
        dead = {aid: held[aid] for aid in gone | {a.id for a in items} if aid in held}
        entries = [e for _, e in everything or []]
        # Articles without stored token vectors (an index written before round twenty, or files
        # lost) make a full write a rebuild that embeds them: not "nothing changed", and not a
        # segment that would leave them without.
        untokened = without_token_vectors(index_dir, entries) > 0
        if (
            old is not None
            and same
            and not items
            and not dead
            and (changes_only or (not untokened and _files_present(index_dir, old, entries)))
        ):
            return _report(old, [], held, set(), 0, started, index_dir, changes_only)

        if old is not None and same and not untokened and _can_segment(old, dead, items):
            result = _update_segments(index_dir, old, items, dead, embedder, progress)
        else:
            if changes_only and old is not None:
                # Small index, or another model or recipe: rebuild it from what it holds.
                everything = everything or live_articles(index_dir, old)
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
    held: dict[str, Held],
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


def _can_segment(old: dict[str, Any], dead: dict[str, Held], items: Sequence[Article]) -> bool:
    """Whether this write may keep the live parts (tombstoning ``dead``) and append a segment."""
    if "base_rows" not in old:
        return False
    live = int(old["counts"]["sentences"])
    dead_rows = sum(int(i.get("dead_rows", 0)) for _, i in generation_parts(old))
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
    old_entries: list[tuple[Held, dict[str, Any]]] | None,
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
        old_entries = live_articles(index_dir, old)
    refs = {str(manifest["generation"]), str(manifest["previous"])}
    for e in [*made.entries, *(e for _, e in old_entries or [])]:
        refs.update((e["file"], e["vectors"], e.get("tokens", "")))
    _gc(index_dir, refs, content=True)
    return manifest, made.embedded


def _update_segments(
    index_dir: Path,
    old: dict[str, Any],
    items: Sequence[Article],
    dead: dict[str, Held],
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
        (folder, {**info, "deleted": list(info.get("deleted", []))})
        for folder, info in generation_parts(old)
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
            entries = part_entries(old_gen, folder)
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
