"""Appending segments: a large index that gains an article keeps its base and adds a segment, and
searches exactly like a full rebuild would (dense) or nearly so (BM25, corpus-wide idf)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trustbot import segments
from trustbot.answer import Answerer
from trustbot.corpus import Article, content_hash
from trustbot.embed import HashEmbedder
from trustbot.retrieve import _terms
from trustbot.store import LoadedIndex, load_index, read_manifest, write_index

ANIMALS = ["owls", "bats", "foxes", "moles", "hares", "crows", "voles", "newts", "stoats", "wrens"]


def body(i: int, version: int = 0) -> str:
    """Article ``i``'s text; another ``version`` changes one number in it."""
    kind = ANIMALS[i % len(ANIMALS)]
    return (
        f"The {kind} of valley {i} were counted in spring.\n\n"
        f"Volunteers found {i * 7 + version} {kind} near the river {i}. "
        "Numbers rose after the floods."
    )


def article(i: int, version: int = 0) -> Article:
    text = body(i, version)
    return Article(id=f"a{i:03d}", title=f"Count {i}", body=text, sha256=content_hash(text))


@pytest.fixture(autouse=True)
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments, "MIN_ROWS", 50)
    monkeypatch.setattr(segments, "MAX_SEGMENTS", 3)


BASE = [article(i) for i in range(30)]  # 3 sentences each: 90 rows


def by_key(index: LoadedIndex) -> dict[tuple[str, int], int]:
    return {(index.articles[a].id, s): row for row, (a, s) in enumerate(index.rows)}


def test_adding_an_article_appends_a_segment_and_links_the_base(tmp_path: Path) -> None:
    write_index(tmp_path, BASE, HashEmbedder())
    first = read_manifest(tmp_path)
    assert first["segments"] == [] and first["base_articles"] == 30

    report = write_index(tmp_path, [*BASE, article(30)], HashEmbedder())
    assert report.added == ["a030"] and report.sentences_embedded == 3
    assert (report.articles, report.sentences) == (31, 93)
    manifest = read_manifest(tmp_path)
    assert manifest["base_articles"] == 30 and manifest["counts"]["sentences"] == 93
    assert [(s["articles"], s["rows"]) for s in manifest["segments"]] == [(1, 3)]
    assert manifest["faiss"] == first["faiss"]
    # The base files are the previous generation's, hard-linked, not rewritten.
    old, new = tmp_path / first["generation"], tmp_path / manifest["generation"]
    assert (new / "vectors.faiss").stat().st_ino == (old / "vectors.faiss").stat().st_ino
    assert {p.name for p in tmp_path.glob("gen-*")} == {old.name, new.name}
    assert not list(tmp_path.rglob("*.tmp"))

    # Nothing changed: nothing is written, whatever order the corpus lists articles in.
    again = write_index(tmp_path, [article(30), *BASE], HashEmbedder())
    assert again.sentences_embedded == 0
    assert read_manifest(tmp_path)["generation"] == manifest["generation"]


def test_segmented_search_matches_a_full_rebuild(tmp_path: Path) -> None:
    everything = [*BASE, *(article(i) for i in range(30, 33))]
    write_index(tmp_path / "seg", BASE, HashEmbedder())
    for n in range(31, 34):
        write_index(tmp_path / "seg", everything[:n], HashEmbedder())
    write_index(tmp_path / "full", everything, HashEmbedder())
    seg, full = load_index(tmp_path / "seg"), load_index(tmp_path / "full")
    assert len(read_manifest(tmp_path / "seg")["segments"]) == 3
    seg_rows, full_rows = by_key(seg), by_key(full)
    assert seg_rows.keys() == full_rows.keys()
    assert seg.faiss_index.ntotal == full.faiss_index.ntotal == 99

    emb = HashEmbedder()
    for question in ("How many newts were found near the river 32?", "owls counted in spring"):
        q = emb.encode([question])
        s_scores, s_found = seg.faiss_index.search(q, 5)
        f_scores, f_found = full.faiss_index.search(q, 5)
        np.testing.assert_allclose(s_scores, f_scores, rtol=1e-5)
        full_key = {row: key for key, row in full_rows.items()}
        seg_key = {row: key for key, row in seg_rows.items()}
        assert [seg_key[int(r)] for r in s_found[0]] == [full_key[int(r)] for r in f_found[0]]

        s_lex, f_lex = seg.lexical.scores(question), full.lexical.scores(question)
        keys = sorted(seg_rows)
        a = np.array([s_lex[seg_rows[k]] for k in keys])
        b = np.array([f_lex[full_rows[k]] for k in keys])
        assert np.array_equal(a > 0, b > 0)  # the same sentences match
        assert float(np.corrcoef(a, b)[0, 1]) > 0.95  # with nearly the same weights
        assert keys[int(np.argmax(a))] == keys[int(np.argmax(b))]


def test_too_many_segments_are_merged_without_re_embedding(tmp_path: Path) -> None:
    write_index(tmp_path, BASE, HashEmbedder())
    articles = list(BASE)
    for i in range(30, 34):
        articles.append(article(i))
        report = write_index(tmp_path, articles, HashEmbedder())
        assert report.sentences_embedded == 3
    manifest = read_manifest(tmp_path)
    # Three segments, then the fourth write merges them with the new article into one.
    assert manifest["base_articles"] == 30
    assert [(s["articles"], s["rows"]) for s in manifest["segments"]] == [(4, 12)]
    index = load_index(tmp_path)
    assert sorted(a.id for a in index.articles) == sorted(a.id for a in articles)
    assert len(index.rows) == index.faiss_index.ntotal == 102


def test_small_indexes_stay_one_base(tmp_path: Path) -> None:
    write_index(tmp_path, BASE[:10], HashEmbedder())  # 30 rows < MIN_ROWS
    write_index(tmp_path, BASE[:11], HashEmbedder())
    assert read_manifest(tmp_path)["segments"] == []


def test_answers_cite_an_article_in_a_segment(tmp_path: Path) -> None:
    write_index(tmp_path, BASE, HashEmbedder())
    new = Article(
        id="kestrels",
        title="Kestrels return",
        body="Kestrels returned to the old mill tower this week, wardens said.",
        sha256=content_hash("Kestrels returned to the old mill tower this week, wardens said."),
    )
    write_index(tmp_path, [*BASE, new], HashEmbedder())
    assert read_manifest(tmp_path)["segments"]
    answer = Answerer(load_index(tmp_path), HashEmbedder()).ask("Where did the kestrels return to?")
    assert answer.answered and answer.citations[0].article_id == "kestrels"
    assert answer.citations[0].text == new.body


def test_a_story_scope_over_segments_and_tombstones(tmp_path: Path) -> None:
    # a000 is deleted from the base (a tombstone), a030 lives in a segment: a scope of a030 and
    # a010 searches only their rows, and weighs words as an index of those two alone would.
    write_index(tmp_path, BASE, HashEmbedder())
    write_index(tmp_path, [*BASE[1:], article(30)], HashEmbedder())
    manifest = read_manifest(tmp_path)
    assert manifest["segments"] and manifest["base_deleted"]
    answerer = Answerer(load_index(tmp_path), HashEmbedder())
    scoped = answerer.within(["a030", "a010"])
    question = "How many owls did volunteers find near the river?"
    rows = scoped.index.faiss_index.search(HashEmbedder().encode([question]), 20)[1][0]
    assert {scoped.index.sentence(int(r))[0].id for r in rows if r >= 0} == {"a030", "a010"}
    assert (rows[6:] == -1).all()
    write_index(tmp_path / "alone", [article(10), article(30)], HashEmbedder())
    alone = load_index(tmp_path / "alone")
    got = {t.token: (t.weight, t.rows.size) for t in _terms(scoped.index, question, [])[0]}
    want = {t.token: (t.weight, t.rows.size) for t in _terms(alone, question, [])[0]}
    assert got.keys() == want.keys()
    for token, (weight, size) in want.items():
        assert got[token][1] == size and got[token][0] == pytest.approx(weight), token
    answer = scoped.ask("How many owls were found near the river 30?")
    assert answer.answered and {c.article_id for c in answer.citations} <= {"a030", "a010"}
    assert answer.citations[0].article_id == "a030"
