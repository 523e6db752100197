"""The index's manifest and the layout of a generation's parts: what an index holds, which
model and recipe built it, and whether it still matches the corpus, read without loading it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trustbot import segments
from trustbot.corpus import Article
from trustbot.embed import Embedder
from trustbot.errors import IndexCorrupt, IndexMissing, IndexStale, TrustbotError

# 2: per-part article tables and tombstones (the manifest no longer lists every article).
FORMAT_VERSION = 2
# Bump when split_sentences/quote_speakers change what they return: cached spans are re-made.
TEXT_VERSION = 1
# Bump when passage_inputs changes what is embedded: cached vectors are re-made.
EMBED_RECIPE = "speaker-sentence-v1"
MANIFEST = "manifest.json"
REBUILD_HINT = "run `trustbot index build`"


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
            manifest["articles"] = [e for _, e in live_articles(index_dir, manifest)]
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
        for folder, info in generation_parts(manifest):
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


@dataclass(frozen=True)
class Held:
    """Where a live indexed article is: its part (0 = base), its position there, and what it is."""

    part: int
    pos: int
    sha256: str
    path: str
    sentences: int


def generation_parts(manifest: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
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


def part_entries(gen_dir: Path, folder: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((gen_dir / folder / PART_ARTICLES).read_text())
    return entries


def live_articles(index_dir: Path, manifest: dict[str, Any]) -> list[tuple[Held, dict[str, Any]]]:
    """Every live article of the index with its entry, in row order (reads every part's table)."""
    gen_dir = index_dir / str(manifest["generation"])
    out = []
    for part, (folder, info) in enumerate(generation_parts(manifest)):
        dead = set(info.get("deleted", []))
        for pos, e in enumerate(part_entries(gen_dir, folder)):
            if pos not in dead:
                held = Held(part, pos, e["sha256"], e.get("path") or "", int(e["sentences"]))
                out.append((held, e))
    return out


def without_token_vectors(index_dir: Path, entries: Sequence[dict[str, Any]]) -> int:
    """How many of ``entries`` (``read_manifest``'s articles) have no stored token vectors: an
    index written before round twenty, or files lost. Such articles are answered by encoding
    their tokens at question time, until ``trustbot index update`` stores them."""
    return sum(1 for e in entries if not (e.get("tokens") and (index_dir / e["tokens"]).is_file()))
