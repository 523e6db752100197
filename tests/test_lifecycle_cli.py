"""The corpus lifecycle through the real CLI with the real model: ingest, update, remove, bad
input, and a running `trustbot chat` that picks up a new article without a restart."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import SEED, Workspace, make_workspace, trustbot

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures"
OWLS = """---
title: Barn owls return to the valley
published: 2024-04-02
---
Barn owls have returned to the Wend valley after an absence of thirty years.

The birds hunt voles along the field margins at dusk, said Helen Marsh of the wildlife trust.

Volunteers put up forty nest boxes on farm buildings last winter, and eleven of them now hold
breeding pairs.
"""
OWLS_UPDATED = OWLS.replace(
    "hunt voles along the field margins at dusk", "hunt shrews by the river"
)
STALE = "The birds hunt voles along the field margins at dusk"
FRESH = "The birds hunt shrews by the river"
QUESTIONS = {
    "owls": "What does Helen Marsh say the birds hunt?",
    "nest": "How many nest boxes hold breeding pairs?",
    "html": "How much did the library repairs cost?",
    "seed": "Who is the chief executive of the trust?",
    "clutter": "Which seagull stole a pasty from the mayor?",
}


def ask_all(ws: Workspace) -> dict[str, dict[str, object]]:
    run = trustbot(*ws.args(), "ask", "--json", input="\n".join(QUESTIONS.values()) + "\n")
    assert run.code == 0, run.err
    answers = [json.loads(line) for line in run.out.splitlines()]
    return dict(zip(QUESTIONS, answers, strict=True))


def cited(answer: dict[str, object]) -> list[tuple[str, str]]:
    citations = answer["citations"]
    assert isinstance(citations, list)
    return [(c["article_id"], c["text"]) for c in citations]


def status(ws: Workspace) -> dict[str, object]:
    run = trustbot(*ws.args(), "index", "status", "--json")
    assert run.code == 0, run.err
    result: dict[str, object] = json.loads(run.out)
    return result


def test_ingest_update_remove_through_the_cli(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, SEED)
    assert trustbot(*ws.args(), "index", "build").code == 0
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "Barn Owls.txt").write_text(OWLS, encoding="utf-8")
    shutil_copy(FIXTURES / "cluttered-news.html", inbox)

    # New .txt and cluttered .html: answerable at once, the old article still is.
    run = trustbot(*ws.args(), "ingest", str(inbox))
    assert run.code == 0, run.err
    assert "2 added" in run.err and "1 unchanged" in run.err
    answers = ask_all(ws)
    assert any(aid == "barn-owls" and STALE in text for aid, text in cited(answers["owls"]))
    assert cited(answers["nest"])[0][0] == "barn-owls"
    assert cited(answers["html"])[0][0] == "cluttered-news"
    assert "£3.2 million" in cited(answers["html"])[0][1]
    assert cited(answers["seed"])[0][0] == "southern-health"
    assert not any("pasty" in text for _, text in cited(answers["clutter"]))
    before = status(ws)
    assert (before["articles"], before["fresh"]) == (3, True)
    items = before["items"]
    assert isinstance(items, list)
    html_item = next(i for i in items if i["id"] == "cluttered-news")
    assert html_item["title"] == "Harbour town reopens its flood-damaged library"
    assert html_item["published"] == "2023-05-14"

    # Re-ingest: idempotent.
    run = trustbot(*ws.args(), "ingest", str(inbox), str(SEED))
    assert run.code == 0, run.err
    assert "0 added, 0 updated, 3 unchanged, 0 removed; 0 sentences embedded" in run.err
    assert status(ws) == before

    # Update: the new sentence is cited, the stale one never.
    (inbox / "Barn Owls.txt").write_text(OWLS_UPDATED, encoding="utf-8")
    run = trustbot(*ws.args(), "ingest", str(inbox / "Barn Owls.txt"))
    assert run.code == 0, run.err
    assert "1 updated" in run.err
    answers = ask_all(ws)
    assert any(aid == "barn-owls" and FRESH in text for aid, text in cited(answers["owls"]))
    stale_question = trustbot(*ws.args(), "ask", "--json", "Do the owls hunt voles at dusk?")
    every = [c for a in [*answers.values(), json.loads(stale_question.out)] for c in cited(a)]
    assert every and not any(STALE in text for _, text in every)
    assert status(ws)["articles"] == 3

    # Remove: never cited again.
    run = trustbot(*ws.args(), "remove", "barn-owls")
    assert run.code == 0, run.err
    assert "1 removed" in run.err
    assert not (ws.corpus / "Barn Owls.txt").exists()
    answers = ask_all(ws)
    assert not any(aid == "barn-owls" for a in answers.values() for aid, _ in cited(a))
    assert cited(answers["seed"])[0][0] == "southern-health"
    after = status(ws)
    assert (after["articles"], after["fresh"]) == (2, True)


def shutil_copy(src: Path, folder: Path) -> None:
    (folder / src.name).write_bytes(src.read_bytes())


def test_bad_inputs_are_named_the_rest_ingested_and_the_exit_code_is_2(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, SEED)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "owls.txt").write_text(OWLS, encoding="utf-8")
    (inbox / "photo.txt").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    (inbox / "latin1.md").write_bytes("Caf\xe9 owners protest.".encode("latin-1"))
    (inbox / "empty.txt").write_text("\n\n", encoding="utf-8")
    (inbox / "menu.html").write_text(
        "<html><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav></body></html>",
        encoding="utf-8",
    )
    (inbox / "copy.txt").write_bytes(SEED.read_bytes())
    run = trustbot(*ws.args(), "ingest", str(inbox), str(tmp_path / "missing.txt"))
    assert run.code == 2, run.err
    assert "Traceback" not in run.err
    for name in ("photo.txt", "latin1.md", "empty.txt", "menu.html", "missing.txt"):
        assert name in run.err, name
    assert "copy.txt: same text as article 'southern-health'" in run.err
    assert "2 added" in run.err and "5 input(s) failed" in run.err
    assert sorted(p.name for p in ws.corpus.iterdir()) == ["owls.txt", "southern-health.txt"]
    answer = json.loads(trustbot(*ws.args(), "ask", "--json", QUESTIONS["nest"]).out)
    assert answer["citations"][0]["article_id"] == "owls"
    # Nothing to remove is bad input too.
    run = trustbot(*ws.args(), "remove", "no-such-article")
    assert run.code == 2 and "no-such-article: no article with that id" in run.err


class Chat:
    """``trustbot chat`` with piped stdin (non-interactive): one answer per line."""

    def __init__(self, ws: Workspace) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTBOT_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trustbot", *ws.args(), "chat"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def ask(self, question: str, timeout: float = 120) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(question + "\n")
        self.proc.stdin.flush()
        out: list[str] = []
        while True:
            line = self.lines.get(timeout=timeout)
            # An answer ends at the blank line after its sources (or after "don't say").
            text = "".join(out)
            if not line.strip() and ("Sources:" in text or "don't say" in text):
                return " ".join(text.split())
            out.append(line)

    def close(self) -> tuple[int, str]:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        code = self.proc.wait(30)
        return code, self.proc.stderr.read()


def test_a_running_chat_answers_from_a_newly_ingested_article(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, SEED)
    assert trustbot(*ws.args(), "index", "build").code == 0
    chat = Chat(ws)
    try:
        assert "don't say" in chat.ask(QUESTIONS["nest"])
        owls = tmp_path / "owls.txt"
        owls.write_text(OWLS, encoding="utf-8")
        assert trustbot(*ws.args(), "ingest", str(owls)).code == 0
        answer = chat.ask(QUESTIONS["nest"])
        assert "eleven of them now hold breeding pairs" in answer
        assert "Nick Broughton" in chat.ask(QUESTIONS["seed"])
    finally:
        code, err = chat.close()
    assert code == 0, err


def test_watch_ingests_dropped_files_until_ctrl_c(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, SEED)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTBOT_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trustbot", *ws.args(), "watch", str(inbox), "--every", "0.3"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # Ctrl-C at a terminal: the suite may run where SIGINT is ignored (a shell's background
        # job), and a process inherits that, so the watcher is given the default back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        (inbox / "owls.txt").write_text(OWLS, encoding="utf-8")
        deadline = time.monotonic() + 120
        while not (ws.corpus / "owls.txt").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        answer = json.loads(trustbot(*ws.args(), "ask", "--json", QUESTIONS["nest"]).out)
        assert answer["citations"][0]["article_id"] == "owls"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Indexed 2 article(s)" in err and "Stopped watching." in err


def test_progress_shows_on_a_terminal_only(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, SEED)
    piped = trustbot(*ws.args(), "ingest", str(FIXTURES / "cluttered-news.html"))
    assert piped.code == 0, piped.err
    assert "\x1b[" not in piped.err and "Embedding" not in piped.err
    assert piped.err.count("\n") == 1  # the one-line summary
    # On a terminal: a progress bar while embedding, then the same one-line summary.
    (ws.corpus / "southern-health.txt").write_text(OWLS, encoding="utf-8")
    main, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTBOT_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trustbot", *ws.args(), "index", "build"],
        stdout=subprocess.DEVNULL,
        stderr=child,
        env={**env, "COLUMNS": "100"},
    )
    os.close(child)
    shown = b""
    with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
        while chunk := os.read(main, 4096):
            shown += chunk
    os.close(main)
    assert proc.wait(120) == 0, shown
    assert b"Embedding sentences" in shown
    assert b"Indexed 2 article(s)" in shown


def test_update_stores_the_token_vectors_an_older_index_lacks(tmp_path: Path) -> None:
    # An index written before round twenty: its tables name no token vectors, and none are
    # stored. It still answers; `index status` says so; `index update` stores them.
    ws = make_workspace(tmp_path, SEED)
    assert trustbot(*ws.args(), "index", "build").code == 0
    question = "Who is the chief executive of the trust?"
    before = trustbot(*ws.args(), "ask", "--json", question)
    for table in ws.index.glob("gen-*/articles.json"):
        entries = json.loads(table.read_text())
        for e in entries:
            del e["tokens"]
        table.write_text(json.dumps(entries))
    for f in ws.index.glob("vectors/*.tokens.npy"):
        f.unlink()
    assert status(ws)["token_vectors_missing"] == 1
    old = trustbot(*ws.args(), "ask", "--json", question)
    assert old.code == 0 and json.loads(old.out) == json.loads(before.out)
    assert "without stored token vectors" in trustbot(*ws.args(), "index", "status").out
    run = trustbot(*ws.args(), "index", "update")
    assert run.code == 0 and "12 sentences embedded" in run.err, run.err
    assert status(ws)["token_vectors_missing"] == 0
    assert "up to date" in trustbot(*ws.args(), "index", "update").err
