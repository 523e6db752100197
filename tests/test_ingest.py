"""Ingest and remove, in process with the deterministic embedder (the CLI with the real model is in
``test_lifecycle_cli.py``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trustbot.answer import Answerer
from trustbot.config import Settings
from trustbot.corpus import load_corpus, normalise_id
from trustbot.embed import HashEmbedder
from trustbot.ingest import ingest, reindex, remove, scan_corpus
from trustbot.store import MANIFEST, load_index, read_manifest

from .conftest import SEED

FIXTURES = Path(__file__).parent / "fixtures"
OWLS = "---\ntitle: Owls of the valley\n---\nBarn owls hunt voles at dusk.\n\nThey nest in barns.\n"


@pytest.fixture
def ws(tmp_path: Path) -> Settings:
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", lock_timeout=5)


def write(folder: Path, name: str, data: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def indexed_texts(s: Settings) -> list[str]:
    index = load_index(s.index_dir)
    return [a.text(i) for a in index.articles for i in range(len(a.sentences))]


def test_new_txt_and_html_are_answerable_and_the_old_article_stays(
    ws: Settings, tmp_path: Path
) -> None:
    emb = HashEmbedder()
    first = ingest(ws, [SEED], emb)
    assert first.index.added == ["southern-health"] and not first.failed
    owls = write(tmp_path / "in", "owls.txt", OWLS)
    report = ingest(ws, [owls, FIXTURES / "cluttered-news.html"], emb)
    assert report.index.added == ["cluttered-news", "owls"]
    assert report.index.unchanged == ["southern-health"]
    # Only the new articles were embedded.
    assert report.index.sentences_embedded == report.index.sentences - first.index.sentences
    assert sorted(p.name for p in ws.corpus_dir.iterdir()) == [
        "cluttered-news.html",
        "owls.txt",
        "southern-health.txt",
    ]
    answerer = Answerer.open(ws, emb)  # the strict open: the index matches the corpus
    for question, article in [
        ("barn owls hunt voles", "owls"),
        ("library reopened on Saturday", "cluttered-news"),
        ("annual turnover of around £320m", "southern-health"),
    ]:
        answer = answerer.ask(question)
        assert answer.citations[0].article_id == article, question
        c = answer.citations[0]
        stored = next(a for a in answerer.articles if a.id == article)
        assert stored.body[c.start : c.end] == c.text


def test_reingesting_unchanged_files_changes_nothing(ws: Settings) -> None:
    emb = HashEmbedder()
    ingest(ws, [SEED, FIXTURES / "cluttered-news.html"], emb)
    manifest = (ws.index_dir / MANIFEST).read_bytes()
    report = ingest(ws, [SEED, FIXTURES / "cluttered-news.html"], emb)
    assert report.index.unchanged == ["cluttered-news", "southern-health"]
    assert report.index.sentences_embedded == 0 and not report.failed
    assert (ws.index_dir / MANIFEST).read_bytes() == manifest


def test_a_changed_file_replaces_its_sentences(ws: Settings, tmp_path: Path) -> None:
    emb = HashEmbedder()
    ingest(ws, [write(tmp_path / "v1", "owls.txt", OWLS)], emb)
    # Same id from another file name and extension: the article is updated in place.
    v2 = write(tmp_path / "v2", "Owls.md", OWLS.replace("voles", "mice"))
    report = ingest(ws, [v2], emb)
    assert report.index.updated == ["owls"] and report.index.sentences_embedded == 2
    assert [p.name for p in ws.corpus_dir.iterdir()] == ["Owls.md"]
    texts = indexed_texts(ws)
    assert "Barn owls hunt mice at dusk." in texts
    assert "Barn owls hunt voles at dusk." not in texts


def test_identical_text_under_another_name_is_skipped(ws: Settings, tmp_path: Path) -> None:
    emb = HashEmbedder()
    ingest(ws, [SEED], emb)
    copy = write(tmp_path / "in", "Copy of SH.txt", SEED.read_bytes())
    report = ingest(ws, [copy], emb)
    assert [(d.name, d.same_as) for d in report.duplicates] == [(str(copy), "southern-health")]
    assert not report.failed
    assert [p.name for p in ws.corpus_dir.iterdir()] == ["southern-health.txt"]
    assert read_manifest(ws.index_dir)["counts"]["articles"] == 1


def test_bad_inputs_are_reported_by_name_and_the_rest_is_ingested(
    ws: Settings, tmp_path: Path
) -> None:
    inp = tmp_path / "in"
    bad = [
        write(inp, "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00"),
        write(inp, "latin1.txt", "Caf\xe9 society.".encode("latin-1")),
        write(inp, "empty.md", "---\ntitle: Nothing\n---\n\n"),
        write(inp, "nav-only.html", "<html><body><nav><a href='/'>Home</a></nav></body></html>"),
        write(inp, "notes.pdf", b"%PDF-1.4"),
        tmp_path / "missing.txt",
    ]
    good = write(inp, "owls.txt", OWLS)
    report = ingest(ws, [*bad, good], HashEmbedder())
    assert report.failed
    assert report.index.added == ["owls"]
    assert len(report.problems) == len(bad)
    by_input = sorted(report.problems, key=lambda p: bad.index(Path(p.name)))
    for path, problem in zip(bad, by_input, strict=True):
        assert path.name in problem.message
    assert [p.name for p in ws.corpus_dir.iterdir()] == ["owls.txt"]
    # A folder stands for the articles in it: the same inputs, the same verdicts.
    again = ingest(ws, [inp], HashEmbedder())
    assert {Path(p.name).name for p in again.problems} == {p.name for p in bad[:4]}
    assert again.index.unchanged == ["owls"]


def test_two_inputs_with_one_id_are_not_both_taken(ws: Settings, tmp_path: Path) -> None:
    a = write(tmp_path / "a", "Owls.txt", OWLS)
    b = write(tmp_path / "b", "owls.md", OWLS.replace("barns", "trees"))
    report = ingest(ws, [a, b], HashEmbedder())
    assert [p.name for p in report.problems] == [str(b)]
    assert "same article id 'owls'" in report.problems[0].message
    assert [p.name for p in ws.corpus_dir.iterdir()] == ["Owls.txt"]


def test_remove_by_id_or_file_name(ws: Settings, tmp_path: Path) -> None:
    emb = HashEmbedder()
    ingest(ws, [SEED, write(tmp_path / "in", "owls.txt", OWLS)], emb)
    report = remove(ws, ["owls.txt", "no-such-article"], emb)
    assert report.index.removed == ["owls"]
    assert [p.message for p in report.problems] == [
        "no-such-article: no article with that id (see `trustbot index status`)"
    ]
    assert [p.name for p in ws.corpus_dir.iterdir()] == ["southern-health.txt"]
    assert not any("owls" in t.lower() for t in indexed_texts(ws))
    assert not remove(ws, ["Southern Health"], emb).failed
    assert read_manifest(ws.index_dir)["counts"] == {"articles": 0, "sentences": 0}


def test_reindex_picks_up_files_dropped_into_the_corpus(ws: Settings) -> None:
    emb = HashEmbedder()
    ingest(ws, [SEED], emb)
    write(ws.corpus_dir, "owls.txt", OWLS)
    write(ws.corpus_dir, "broken.txt", b"\xff\xfe")
    report = reindex(ws, emb)
    assert report.index.added == ["owls"]
    assert [p.name for p in report.problems] == [str(ws.corpus_dir / "broken.txt")]
    # Ingesting the corpus folder itself copies nothing and re-scans it the same way.
    again = ingest(ws, [ws.corpus_dir], emb)
    assert again.index.unchanged == ["owls", "southern-health"]


def test_scan_corpus_sees_what_load_corpus_sees(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURES, corpus)
    write(corpus, "b-owls.txt", OWLS)
    write(corpus, "a-owls-again.txt", OWLS)  # identical text: the first by name keeps it
    scan = scan_corpus(corpus)
    assert [(a.id, a.sha256) for a in scan.articles] == [
        (a.id, a.sha256) for a in load_corpus(corpus)
    ]
    assert [(d.name, d.same_as) for d in scan.duplicates] == [("b-owls.txt", "a-owls-again")]


@pytest.mark.parametrize(
    ("typed", "aid"),
    [
        ("southern-health", "southern-health"),
        ("Southern Health.txt", "southern-health"),
        ("Owls", "owls"),
        ("report 2024.html", "report-2024"),
    ],
)
def test_normalise_id(typed: str, aid: str) -> None:
    assert normalise_id(typed) == aid


def test_a_failed_index_write_leaves_the_corpus_as_it_was(
    ws: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trustbot import ingest as lifecycle

    emb = HashEmbedder()
    ingest(ws, [SEED], emb)
    manifest = (ws.index_dir / MANIFEST).read_bytes()
    owls = write(tmp_path / "in", "owls.txt", OWLS)
    changed_seed = write(tmp_path / "in", "southern-health.txt", "Replaced.\n")

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(lifecycle, "write_index", fail)
    with pytest.raises(OSError):
        ingest(ws, [owls, changed_seed], emb)
    assert sorted(p.name for p in ws.corpus_dir.iterdir()) == ["southern-health.txt"]
    assert (ws.corpus_dir / "southern-health.txt").read_bytes() == SEED.read_bytes()
    assert (ws.index_dir / MANIFEST).read_bytes() == manifest
    with pytest.raises(OSError):
        remove(ws, ["southern-health"], emb)
    assert (ws.corpus_dir / "southern-health.txt").exists()


def test_files_staged_by_a_killed_ingest_are_cleared(ws: Settings, tmp_path: Path) -> None:
    emb = HashEmbedder()
    ingest(ws, [SEED], emb)
    write(ws.corpus_dir / ".trustbot-staging", "owls.txt.x1y2.tmp", OWLS)
    assert [a.id for a in load_corpus(ws.corpus_dir)] == ["southern-health"]
    report = ingest(ws, [write(tmp_path / "in", "bats.txt", "Bats eat moths.")], emb)
    assert report.index.added == ["bats"]
    assert sorted(p.name for p in ws.corpus_dir.iterdir()) == ["bats.txt", "southern-health.txt"]


def test_watch_ingests_files_once_they_stop_changing(ws: Settings, tmp_path: Path) -> None:
    import threading

    from trustbot.ingest import LifecycleReport, watch

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write(inbox, "owls.txt", OWLS)
    reports: list[LifecycleReport] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch,
        args=(ws, inbox, HashEmbedder(), reports.append),
        kwargs={"every": 0.05, "stop": stop},
    )
    thread.start()
    try:
        for _ in range(100):
            if reports:
                break
            stop.wait(0.05)
        assert reports and reports[0].index.added == ["owls"]
        write(inbox, "bats.txt", "Bats eat moths.")
        write(inbox, "owls.txt", OWLS.replace("voles", "mice"))
        for _ in range(100):
            if sum(len(r.index.added) + len(r.index.updated) for r in reports) >= 3:
                break
            stop.wait(0.05)
        stop.wait(0.3)  # a few more looks: nothing changed, so nothing is ingested again
    finally:
        stop.set()
        thread.join(5)
    later = reports[1:]
    assert sorted(a for r in later for a in r.index.added) == ["bats"]
    assert sorted(a for r in later for a in r.index.updated) == ["owls"]
    assert len(later) <= 2  # one batch, or two if a look fell between the two writes
    assert sorted(p.name for p in ws.corpus_dir.iterdir()) == ["bats.txt", "owls.txt"]
