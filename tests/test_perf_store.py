"""Index writes embed new articles in large batches, with the same vectors as one by one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trustbot import store
from trustbot.corpus import Article, content_hash
from trustbot.embed import HashEmbedder, Tokens
from trustbot.store import load_index, read_manifest, write_index


class CountingEmbedder(HashEmbedder):
    """The hash embedder, remembering how many texts each model pass got (an index write embeds
    with ``encode_with_tokens``: vectors and token vectors from one pass)."""

    def __init__(self) -> None:
        super().__init__(dim=32)
        self.calls: list[int] = []

    def encode_with_tokens(  # type: ignore[override]
        self, texts: Sequence[str], **kwargs: object
    ) -> tuple[np.ndarray, list[Tokens]]:
        self.calls.append(len(texts))
        return super().encode_with_tokens(texts)


def article(i: int) -> Article:
    body = f"Story {i} begins here. The council met on day {i}.\n\nIt voted {i} to {i + 1}."
    return Article(id=f"a{i}", title=f"A{i}", body=body, sha256=content_hash(body))


def test_new_articles_are_embedded_in_batches(tmp_path: Path, monkeypatch: object) -> None:
    articles = [article(i) for i in range(40)]  # 3 sentences each
    monkeypatch.setattr(store.write, "EMBED_BATCH", 50)  # type: ignore[attr-defined]
    emb = CountingEmbedder()
    report = write_index(tmp_path, articles, emb)
    assert report.sentences_embedded == 120
    # Batches of >= 50 sentences: 3 calls for 120, not one call per article.
    assert emb.calls == [51, 51, 18]

    # The manifest records the FAISS structure chosen for this size.
    faiss_entry = read_manifest(tmp_path)["faiss"]
    assert faiss_entry["kind"] == "flat" and faiss_entry["type"] == "IndexFlatIP"
    assert faiss_entry["storage"] == "float32"

    index = load_index(tmp_path)
    plain = HashEmbedder(dim=32)
    for row, (ai, si) in enumerate(index.rows):
        a = articles[ai]
        expected = plain.encode(store.passage_inputs(a, index.articles[ai].sentences))[si]
        np.testing.assert_allclose(index.faiss_index.reconstruct(row), expected, atol=1e-6)

    # Adding one article embeds only it, in one call.
    emb.calls.clear()
    report = write_index(tmp_path, [*articles, article(99)], emb)
    assert report.sentences_embedded == 3 and emb.calls == [3]
