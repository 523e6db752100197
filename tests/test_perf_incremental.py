"""Changing a large (segmented) index in the order of the change: removals and edits leave
tombstones instead of a rebuild, ingest reads only its inputs, and a loaded index reads article
bodies only when a question needs them. Searches must match a full rebuild; crashes must leave
the previous generation; an article edited on disk must still make the index stale."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trustbot import ingest as lifecycle
from trustbot.answer import ANSWER_THRESHOLD, Answerer
from trustbot.config import Settings
from trustbot.corpus import Article, load_corpus, read_article
from trustbot.embed import HashEmbedder
from trustbot.errors import IndexCorrupt
from trustbot.store import (
    MANIFEST,
    LoadedIndex,
    load_index,
    loaded,
    read_manifest,
    stale_reason,
    write_index,
)
from trustbot.text import Sentence

# BASE: 30 articles of 3 sentences (90 rows); the autouse thresholds make 50 rows "large".
from .test_perf_segments import BASE, article, body, small_thresholds  # noqa: F401

QUESTIONS = [
    "How many foxes were found near the river 12?",
    "When were the hares of valley 31 counted?",
    "owls counted in spring",
    "Numbers rose after the floods",  # in every article: ties
]


def keyed(index: LoadedIndex, rows: np.ndarray) -> list[tuple[str, int]]:
    return [(index.articles[index.rows[r][0]].id, index.rows[r][1]) for r in rows.tolist()]


def assert_searches_match(seg: LoadedIndex, full: LoadedIndex) -> None:
    """Dense search identical (ids and scores); BM25 the same matches; answers the same."""
    emb = HashEmbedder()
    assert sorted(a.id for a in seg.articles) == sorted(a.id for a in full.articles)
    live = sum(a >= 0 for a, _ in seg.rows)
    assert live == len(full.rows)
    answered = 0
    for question in QUESTIONS:
        q = emb.encode([question])
        # Every live row, so that rows tied on score cannot make the two orders differ.
        s_scores, s_rows = seg.faiss_index.search(q, live)
        f_scores, f_rows = full.faiss_index.search(q, live)
        s_found = dict(zip(keyed(seg, s_rows[0]), s_scores[0].tolist(), strict=True))
        f_found = dict(zip(keyed(full, f_rows[0]), f_scores[0].tolist(), strict=True))
        assert s_found.keys() == f_found.keys()
        np.testing.assert_allclose([s_found[k] for k in f_found], list(f_found.values()), rtol=1e-6)
        s_lex, f_lex = seg.lexical.scores(question), full.lexical.scores(question)
        s_hit = {(seg.articles[a].id, s) for r, (a, s) in enumerate(seg.rows) if s_lex[r] > 0}
        f_hit = {(full.articles[a].id, s) for r, (a, s) in enumerate(full.rows) if f_lex[r] > 0}
        assert s_hit == f_hit
        if question in QUESTIONS[2:]:
            continue  # tied answers: either order is right
        # BM25's statistics differ a little between segments and one rebuilt index, and so does
        # the confidence: the decision must agree except on the threshold itself.
        s_conf = Answerer(seg, emb).consider(question).confidence
        f_conf = Answerer(full, emb).consider(question).confidence
        assert s_conf == pytest.approx(f_conf, abs=0.01)
        if abs(f_conf - ANSWER_THRESHOLD) < 0.01:
            continue
        s_ans, f_ans = Answerer(seg, emb).ask(question), Answerer(full, emb).ask(question)
        assert s_ans.answered == f_ans.answered
        answered += s_ans.answered
        assert [(c.article_id, c.sentence_index, c.text) for c in s_ans.citations] == [
            (c.article_id, c.sentence_index, c.text) for c in f_ans.citations
        ]
        np.testing.assert_allclose(
            [c.score for c in s_ans.citations], [c.score for c in f_ans.citations], atol=0.02
        )
    assert answered  # the comparison covered real answers


def test_removing_and_changing_leave_tombstones_and_search_like_a_rebuild(tmp_path: Path) -> None:
    emb = HashEmbedder()
    seg_dir = tmp_path / "seg"
    write_index(seg_dir, BASE, emb)
    first = read_manifest(seg_dir)
    for i in (30, 31):
        write_index(seg_dir, [article(i)], emb, changes_only=True)
    # One article of the base and one of a segment go; one of the base changes.
    gone = write_index(seg_dir, [], emb, changes_only=True, remove=["a005", "a030"])
    assert gone.removed == ["a005", "a030"] and gone.sentences_embedded == 0
    changed = write_index(seg_dir, [article(12, version=1)], emb, changes_only=True)
    assert changed.updated == ["a012"] and changed.sentences_embedded == 3

    manifest = read_manifest(seg_dir)
    assert manifest["base_deleted"] == [5, 12] and manifest["base_dead_rows"] == 6
    assert manifest["counts"] == {"articles": 30, "sentences": 90}
    assert [s["deleted"] for s in manifest["segments"]] == [[0], [], []]
    # The base files were never rewritten.
    old, new = seg_dir / first["generation"], seg_dir / manifest["generation"]
    assert (
        not old.exists()
        or (new / "vectors.faiss").stat().st_ino == (old / "vectors.faiss").stat().st_ino
    )
    assert first["faiss"] == manifest["faiss"]

    remaining = [a for a in BASE if a.id not in ("a005", "a012")]
    remaining += [article(12, version=1), article(31)]
    write_index(tmp_path / "full", remaining, emb)
    seg, full = load_index(seg_dir), load_index(tmp_path / "full")
    assert len(seg.rows) == 99 and sum(a >= 0 for a, _ in seg.rows) == 90
    assert_searches_match(seg, full)
    texts = {seg.articles[a].text(s) for a, s in seg.rows if a >= 0}
    assert "Volunteers found 85 foxes near the river 12." in texts
    assert "Volunteers found 84 foxes near the river 12." not in texts

    # A full-list write of the same articles finds nothing to do.
    assert write_index(seg_dir, remaining, emb).sentences_embedded == 0
    assert read_manifest(seg_dir)["generation"] == manifest["generation"]


def test_merging_segments_drops_their_tombstones(tmp_path: Path) -> None:
    emb = HashEmbedder()
    write_index(tmp_path, BASE, emb)
    for i in (30, 31):
        write_index(tmp_path, [article(i)], emb, changes_only=True)
    write_index(tmp_path, [], emb, changes_only=True, remove=["a030"])
    for i in (32, 33):  # the fourth segment merges the three before it
        write_index(tmp_path, [article(i)], emb, changes_only=True)
    manifest = read_manifest(tmp_path)
    assert [(s["articles"], s["rows"], s["deleted"]) for s in manifest["segments"]] == [(3, 9, [])]
    index = load_index(tmp_path)
    assert len(index.rows) == index.faiss_index.ntotal == 99
    assert sorted(a.id for a in index.articles) == sorted(
        [a.id for a in BASE] + ["a031", "a032", "a033"]
    )


def test_many_removals_rebuild_one_base_without_embedding(tmp_path: Path) -> None:
    emb = HashEmbedder()
    write_index(tmp_path, BASE, emb)
    write_index(tmp_path, [], emb, changes_only=True, remove=[f"a{i:03d}" for i in range(5)])
    assert read_manifest(tmp_path)["base_deleted"] == [0, 1, 2, 3, 4]
    # More dead rows than MAX_DEAD_SHARE of the live ones: one clean base, nothing re-embedded.
    report = write_index(tmp_path, [], emb, changes_only=True, remove=["a005", "a006"])
    manifest = read_manifest(tmp_path)
    assert report.sentences_embedded == 0
    assert manifest["base_deleted"] == [] and manifest["base_rows"] == 69
    assert load_index(tmp_path).faiss_index.ntotal == 69


CHILD = """
import sys
from pathlib import Path
from trustbot import segments
from trustbot.embed import HashEmbedder
from trustbot.store import write_index
segments.MIN_ROWS = 50
write_index(Path(sys.argv[1]), [], HashEmbedder(), changes_only=True, remove=sys.argv[2:])
"""


@pytest.mark.parametrize("point", ["generation-written", "manifest-written", "manifest-replaced"])
def test_a_crash_during_a_removal_leaves_a_readable_index(tmp_path: Path, point: str) -> None:
    emb = HashEmbedder()
    write_index(tmp_path, BASE, emb)
    write_index(tmp_path, [article(30)], emb, changes_only=True)
    manifest_bytes = (tmp_path / MANIFEST).read_bytes()
    before = [Answerer(load_index(tmp_path), emb).ask(q) for q in QUESTIONS]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), "a007", "a030"],
        env={**os.environ, "TRUSTBOT_TEST_HOOK": f"{point}:kill"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if point == "manifest-replaced":  # swapped in: the removal happened
        assert "a007" not in {a.id for a in load_index(tmp_path).articles}
    else:
        assert (tmp_path / MANIFEST).read_bytes() == manifest_bytes
        after = [Answerer(load_index(tmp_path), emb).ask(q) for q in QUESTIONS]
        assert [a.citations for a in after] == [a.citations for a in before]
    # The next write finishes the job and clears what the killed one left.
    write_index(tmp_path, [], emb, changes_only=True, remove=["a007", "a030"])
    live = read_manifest(tmp_path)
    assert {p.name for p in tmp_path.glob("gen-*")} <= {live["generation"], live["previous"]}
    assert not list(tmp_path.rglob("*.tmp"))
    assert {"a007", "a030"}.isdisjoint(a.id for a in load_index(tmp_path).articles)


def write_corpus(folder: Path, articles: list[Article]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for a in articles:
        (folder / f"{a.id}.txt").write_text(a.body, encoding="utf-8")


def test_ingest_reads_only_its_inputs_and_an_edit_on_disk_is_still_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", lock_timeout=5)
    write_corpus(ws.corpus_dir, BASE)
    emb = HashEmbedder()
    lifecycle.reindex(ws, emb)
    reads: list[str] = []

    def counted_read(path: Path) -> Article:
        reads.append(path.name)
        return read_article(path)

    monkeypatch.setattr(lifecycle, "read_article", counted_read)
    inbox = tmp_path / "in"
    write_corpus(inbox, [article(40)])
    report = lifecycle.ingest(ws, [inbox / "a040.txt"], emb)
    assert reads == ["a040.txt"]  # not the 30 articles already in the corpus
    assert report.index.added == ["a040"] and len(report.index.unchanged) == 30
    assert read_manifest(ws.index_dir)["segments"]

    # Removing reads no article either, and deletes the file.
    reads.clear()
    assert lifecycle.remove(ws, ["a003"], emb).index.removed == ["a003"]
    assert reads == [] and not (ws.corpus_dir / "a003.txt").exists()

    # Edited by hand: ingest of something else leaves it, the staleness check names it.
    (ws.corpus_dir / "a010.txt").write_text(body(10, version=5), encoding="utf-8")
    lifecycle.ingest(ws, [inbox / "a040.txt"], emb)
    assert "changed: a010" in str(
        stale_reason(read_manifest(ws.index_dir), load_corpus(ws.corpus_dir))
    )
    lifecycle.reindex(ws, emb)
    assert stale_reason(read_manifest(ws.index_dir), load_corpus(ws.corpus_dir)) is None


def test_a_loaded_index_reads_article_bodies_only_when_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = [article(i) for i in range(300)]
    write_index(tmp_path, many, HashEmbedder())
    opened: list[Path] = []
    real = loaded.read_article_file

    def counted_read(path: Path) -> tuple[str, tuple[Sentence, ...], tuple[int | None, ...]]:
        opened.append(path)
        return real(path)

    monkeypatch.setattr(loaded, "read_article_file", counted_read)
    index = load_index(tmp_path)
    assert opened == [] and len(index.articles) == 300
    answer = Answerer(index, HashEmbedder()).ask("How many newts were found near the river 17?")
    assert answer.citations and 0 < len(opened) < 300
    cited = answer.citations[0]
    art = next(a for a in index.articles if a.id == cited.article_id)
    assert art.body[cited.start : cited.end] == cited.text  # cut from the stored article


def test_the_manifest_does_not_grow_with_the_corpus(tmp_path: Path) -> None:
    write_index(tmp_path / "small", BASE[:2], HashEmbedder())
    write_index(tmp_path / "large", BASE, HashEmbedder())
    small = json.loads((tmp_path / "small" / MANIFEST).read_text())
    large = json.loads((tmp_path / "large" / MANIFEST).read_text())
    assert "articles" not in large and small.keys() == large.keys()
    assert abs(len(json.dumps(large)) - len(json.dumps(small))) < 64


def test_a_change_to_an_unreadable_index_is_refused_not_applied_to_nothing(tmp_path: Path) -> None:
    emb = HashEmbedder()
    write_index(tmp_path, BASE, emb)
    (tmp_path / MANIFEST).write_text("{not json")
    gens = sorted(p.name for p in tmp_path.glob("gen-*"))
    with pytest.raises(IndexCorrupt):
        write_index(tmp_path, [article(40)], emb, changes_only=True)
    assert sorted(p.name for p in tmp_path.glob("gen-*")) == gens
    # A full rebuild reports what it added, whatever the model or reuse.
    report = write_index(tmp_path, [*BASE, article(40)], emb, reuse=False)
    assert report.added == [a.id for a in [*BASE, article(40)]] and report.sentences == 93
    again = write_index(tmp_path, [*BASE[1:], article(41)], emb, reuse=False)
    assert (again.added, again.removed, len(again.unchanged)) == (["a041"], ["a000", "a040"], 29)
