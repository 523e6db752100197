"""The index's crash safety and incremental writes, fast: a deterministic embedder, real kill -9.

The kill tests run ``write_index`` in a child process that SIGKILLs itself at each named point of
a write (``TRUSTBOT_TEST_HOOK``), so they test what a crash really leaves on disk. The same with
the real model through the real CLI is in ``test_lifecycle_crash.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from trustbot.answer import Answer, Answerer
from trustbot.corpus import Article, parse_article
from trustbot.embed import HashEmbedder
from trustbot.errors import IndexLocked
from trustbot.store import (
    MANIFEST,
    load_index,
    read_manifest,
    stale_reason,
    write_index,
    write_lock,
)

TEXTS = {
    "harbour": "The harbour wall was rebuilt in 2019.\n\nIt cost four million pounds.",
    "library": "The library opens at nine.\n\nMargaret Ellery is the head librarian.",
    "bridge": "The old bridge closes for six weeks.\n\nA footbridge will carry walkers.",
}
QUESTIONS = ["When was the harbour wall rebuilt?", "Who is the head librarian?", "bridge closes"]
POINTS = ["article-embedded", "generation-written", "manifest-written"]

CHILD = """
import json, sys
from pathlib import Path
from trustbot.corpus import parse_article
from trustbot.embed import HashEmbedder
from trustbot.store import write_index
texts = json.loads(sys.argv[2])
write_index(Path(sys.argv[1]), [parse_article(t, i) for i, t in texts.items()], HashEmbedder(),
            reuse=sys.argv[3] == "reuse")
"""


def articles(texts: dict[str, str]) -> list[Article]:
    return [parse_article(text, aid) for aid, text in texts.items()]


def answers(index_dir: Path) -> list[Answer]:
    emb = HashEmbedder()
    answerer = Answerer(load_index(index_dir, emb), emb)
    return [answerer.ask(q) for q in QUESTIONS]


def write_in_child(index_dir: Path, texts: dict[str, str], hook: str, reuse: bool = True) -> int:
    env = {**os.environ, "TRUSTBOT_TEST_HOOK": hook}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(index_dir), json.dumps(texts), "reuse" if reuse else ""],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "test hook" in proc.stderr, proc.stderr
    return proc.returncode


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def assert_clean(index_dir: Path, before: dict[str, Any]) -> None:
    """Only the live and the previous generation remain, with the files they point at."""
    live = read_manifest(index_dir)
    gens = {p.name for p in index_dir.glob("gen-*")}
    assert gens <= {live["generation"], before["generation"]}
    assert not [p for p in index_dir.rglob("*") if p.name.endswith(".tmp")]
    refs = {
        f
        for m in (live, before)
        for a in m["articles"]
        for f in (a["file"], a["vectors"], a["tokens"])
    }
    content = {f for f in files_under(index_dir) if f.startswith(("articles/", "vectors/"))}
    assert content <= refs


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("reuse", [True, False], ids=["update", "rebuild"])
def test_kill_9_at_any_point_leaves_the_previous_index(
    tmp_path: Path, point: str, reuse: bool
) -> None:
    write_index(tmp_path, articles(TEXTS), HashEmbedder())
    manifest_bytes = (tmp_path / MANIFEST).read_bytes()
    before_answers = answers(tmp_path)
    before = read_manifest(tmp_path)

    changed = {**TEXTS, "library": "The library now opens at ten.", "owls": "Owls hoot at night."}
    del changed["bridge"]
    assert write_in_child(tmp_path, changed, f"{point}:kill", reuse) == -signal.SIGKILL

    assert (tmp_path / MANIFEST).read_bytes() == manifest_bytes
    assert answers(tmp_path) == before_answers
    leftovers = {p.name for p in tmp_path.glob("gen-*")} - {before["generation"]}
    if point != "article-embedded":
        assert leftovers, "the killed write should have left its generation behind"

    report = write_index(tmp_path, articles(changed), HashEmbedder())
    assert report.added == ["owls"] and report.updated == ["library"]
    assert report.removed == ["bridge"]
    assert_clean(tmp_path, before)
    texts = [a.text(i) for a in load_index(tmp_path).articles for i in range(len(a.sentences))]
    assert "The library now opens at ten." in texts
    assert "The library opens at nine." not in texts


def test_kill_after_the_swap_leaves_the_new_index_and_the_next_write_cleans_up(
    tmp_path: Path,
) -> None:
    write_index(tmp_path, articles(TEXTS), HashEmbedder())
    before = read_manifest(tmp_path)
    more = {**TEXTS, "owls": "Owls hoot at night."}
    assert write_in_child(tmp_path, more, "manifest-replaced:kill") == -signal.SIGKILL
    assert [a.id for a in load_index(tmp_path).articles] == list(more)
    middle = read_manifest(tmp_path)
    write_index(tmp_path, articles(TEXTS), HashEmbedder())
    assert_clean(tmp_path, middle)
    assert before["generation"] not in {p.name for p in tmp_path.glob("gen-*")}


def test_vectors_made_before_a_crash_are_reused(tmp_path: Path) -> None:
    write_index(tmp_path, articles(TEXTS), HashEmbedder())
    more = {**TEXTS, "owls": "Owls hoot at night.", "bats": "Bats fly at dusk. They eat moths."}
    # Dies after the first new article's vectors are saved.
    assert write_in_child(tmp_path, more, "article-embedded:kill:1") == -signal.SIGKILL
    report = write_index(tmp_path, articles(more), HashEmbedder())
    assert report.added == ["bats", "owls"]
    # Only the bats' two sentences: the owls' vectors were saved before the kill.
    assert report.sentences_embedded == 2


def test_an_unchanged_write_writes_nothing(tmp_path: Path) -> None:
    write_index(tmp_path, articles(TEXTS), HashEmbedder())
    manifest_bytes = (tmp_path / MANIFEST).read_bytes()
    report = write_index(tmp_path, articles(TEXTS), HashEmbedder())
    assert report.unchanged == sorted(TEXTS) and report.sentences_embedded == 0
    assert (tmp_path / MANIFEST).read_bytes() == manifest_bytes
    assert len(list(tmp_path.glob("gen-*"))) == 1
    # A full rebuild always writes.
    assert write_index(tmp_path, articles(TEXTS), HashEmbedder(), reuse=False).sentences == 6
    assert (tmp_path / MANIFEST).read_bytes() != manifest_bytes


def test_a_second_writer_waits_then_fails_clearly(tmp_path: Path) -> None:
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with write_lock(tmp_path):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5)
        started = time.monotonic()
        with pytest.raises(IndexLocked, match=r"another trustbot process .* try again"):
            write_index(tmp_path, articles(TEXTS), HashEmbedder(), lock_timeout=0.5)
        assert time.monotonic() - started >= 0.5
        assert not (tmp_path / MANIFEST).exists()
    finally:
        release.set()
        holder.join()
    # Free again; and the lock is re-entrant within a thread (ingest holds it around a write).
    with write_lock(tmp_path, timeout=0.5):
        write_index(tmp_path, articles(TEXTS), HashEmbedder(), lock_timeout=0.5)
    assert read_manifest(tmp_path)["counts"]["articles"] == 3


def test_a_reader_racing_two_writes_loads_the_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trustbot.store import loaded

    write_index(tmp_path, articles(TEXTS), HashEmbedder())
    first = read_manifest(tmp_path)
    write_index(tmp_path, articles({"owls": "Owls hoot at night."}), HashEmbedder())
    write_index(tmp_path, articles({"bats": "Bats fly at dusk."}), HashEmbedder())
    assert not (tmp_path / first["generation"]).exists()
    # The reader read the first manifest just before the two writes swapped theirs in.
    real = loaded.read_manifest
    calls = iter([first])
    monkeypatch.setattr(loaded, "read_manifest", lambda d, **kw: next(calls, None) or real(d, **kw))
    assert [a.id for a in load_index(tmp_path).articles] == ["bats"]


def test_a_new_text_or_embedding_recipe_makes_the_index_stale(tmp_path: Path) -> None:
    write_index(tmp_path, articles(TEXTS), HashEmbedder())
    manifest = read_manifest(tmp_path)
    assert stale_reason(manifest, articles(TEXTS)) is None
    manifest["embed_recipe"] = "sentence-v0"
    assert "older trustbot" in str(stale_reason(manifest, articles(TEXTS)))


@pytest.mark.parametrize("texts", [{}, {"still": "It is.\n\nThe."}], ids=["none", "stopwords"])
def test_an_index_without_any_searchable_word_still_loads_and_abstains(
    tmp_path: Path, texts: dict[str, str]
) -> None:
    # What `trustbot remove` of the last article leaves, or an article of stop words only.
    write_index(tmp_path, articles(texts), HashEmbedder())
    emb = HashEmbedder()
    index = load_index(tmp_path, emb)
    assert index.lexical.scores("what is it").tolist() == [0.0] * len(index.rows)
    if not texts:
        assert not Answerer(index, emb).ask("What is it?").answered
