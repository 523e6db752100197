"""The on-disk index with a deterministic fake embedder: atomic writes, reuse, manifest checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trustbot.answer import Answerer
from trustbot.corpus import Article, load_corpus, parse_article
from trustbot.embed import HashEmbedder
from trustbot.errors import IndexCorrupt, IndexMissing, IndexStale
from trustbot.store import load_index, read_manifest, stale_reason, write_index

from .conftest import SEED


def art(aid: str, text: str) -> Article:
    return parse_article(text, aid)


CATS = art("cats", "Cats sleep sixteen hours a day.\n\nThe cat named Tom chased Jerry.")
DOGS = art("dogs", "Dogs bark at the postman.\n\nA dog called Rex won the show in 2019.")


def test_write_then_load_round_trip(tmp_path: Path) -> None:
    emb = HashEmbedder()
    report = write_index(tmp_path, [CATS, DOGS], emb)
    assert (report.articles, report.sentences, report.sentences_embedded) == (2, 4, 4)
    index = load_index(tmp_path, emb)
    assert index.manifest["counts"] == {"articles": 2, "sentences": 4}
    assert index.faiss_index.ntotal == 4
    for row in range(4):
        a, si = index.sentence(row)
        assert a.text(si) in (CATS.body + DOGS.body)
        assert index.row_of(a.id, si) == row


def test_unchanged_articles_are_not_embedded_again(tmp_path: Path) -> None:
    emb = HashEmbedder()
    write_index(tmp_path, [CATS], emb)
    report = write_index(tmp_path, [CATS, DOGS], emb)
    assert report.added == ["dogs"] and report.unchanged == ["cats"]
    assert report.sentences_embedded == 2
    changed = art("dogs", "Dogs bark.")
    report = write_index(tmp_path, [CATS, changed], emb)
    assert report.updated == ["dogs"] and report.sentences_embedded == 1
    index = load_index(tmp_path, emb)
    texts = [index.text(r) for r in range(index.faiss_index.ntotal)]
    assert "Dogs bark." in texts and "Dogs bark at the postman." not in texts
    report = write_index(tmp_path, [CATS], emb)
    assert report.removed == ["dogs"]


def test_full_rebuild_embeds_everything(tmp_path: Path) -> None:
    emb = HashEmbedder()
    write_index(tmp_path, [CATS, DOGS], emb)
    assert write_index(tmp_path, [CATS, DOGS], emb, reuse=False).sentences_embedded == 4


def test_old_generations_are_cleaned_up(tmp_path: Path) -> None:
    emb = HashEmbedder()
    for _ in range(4):
        write_index(tmp_path, [CATS, DOGS], emb)
    gens = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("gen-"))
    assert len(gens) <= 2
    assert read_manifest(tmp_path)["generation"] in gens


def test_missing_corrupt_and_foreign_indexes(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="trustbot index build"):
        load_index(tmp_path)
    (tmp_path / "manifest.json").write_text("[]")
    with pytest.raises(IndexCorrupt):
        load_index(tmp_path)
    write_index(tmp_path, [CATS], HashEmbedder())
    with pytest.raises(IndexStale, match="built with model"):
        load_index(tmp_path, HashEmbedder(dim=32))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["format_version"] = 999
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexStale, match="format version"):
        load_index(tmp_path)


def test_truncated_table_is_corrupt(tmp_path: Path) -> None:
    write_index(tmp_path, [CATS, DOGS], HashEmbedder())
    gen = read_manifest(tmp_path)["generation"]
    (tmp_path / gen / "table.json").write_text("[[0, 0]]")
    with pytest.raises(IndexCorrupt, match="inconsistent"):
        load_index(tmp_path)


def test_stale_reason_names_what_changed(tmp_path: Path) -> None:
    write_index(tmp_path, [CATS, DOGS], HashEmbedder())
    manifest = read_manifest(tmp_path)
    assert stale_reason(manifest, [CATS, DOGS]) is None
    reason = stale_reason(manifest, [CATS, art("dogs", "Changed."), art("owls", "Hoot.")])
    assert reason == "new: owls; changed: dogs"


def test_answerer_cites_by_offsets_with_fake_embedder(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "southern-health.txt").write_bytes(SEED.read_bytes())
    emb = HashEmbedder()
    write_index(tmp_path / "index", load_corpus(corpus), emb)
    from trustbot.config import Settings

    answerer = Answerer.open(Settings(corpus_dir=corpus, index_dir=tmp_path / "index"), emb)
    answer = answerer.ask("annual turnover of around £320m")
    assert answer.answered
    body = answerer.articles[0].body
    for c in answer.citations:
        assert body[c.start : c.end] == c.text
    assert "£320m" in answer.citations[0].text
