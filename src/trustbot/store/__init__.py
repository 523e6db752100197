"""The on-disk index: FAISS vectors, sentence table, lexical index and manifest.

Layout of ``index/``::

    manifest.json            the commit point: written last, atomically (tmp + os.replace)
    articles/<sha>.<v>.json  each article's body, metadata and sentence offsets (content-addressed)
    vectors/<sha>.<key>.npy  each article's sentence vectors (content- and model-addressed)
    vectors/<sha>.<key>.tokens.npy  and their token vectors, int8 (``trustbot.token_match``)
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

The package: ``manifest`` (the manifest, the parts' layout, staleness), ``loaded`` (a generation
loaded for searching) and ``write`` (building and swapping in generations).
"""

from trustbot.durable import write_lock
from trustbot.store.loaded import LoadedIndex, StoredArticle, load_index
from trustbot.store.manifest import (
    MANIFEST,
    PART_KEYS,
    check_model,
    corpus_staleness,
    read_manifest,
    stale_reason,
    without_token_vectors,
)
from trustbot.store.write import (
    Progress,
    WriteReport,
    lookup,
    passage_inputs,
    write_index,
)

__all__ = [
    "MANIFEST",
    "PART_KEYS",
    "LoadedIndex",
    "Progress",
    "StoredArticle",
    "WriteReport",
    "check_model",
    "corpus_staleness",
    "load_index",
    "lookup",
    "passage_inputs",
    "read_manifest",
    "stale_reason",
    "without_token_vectors",
    "write_index",
    "write_lock",
]
