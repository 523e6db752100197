"""kill -9 and a second writer against the real CLI, on the 48-article xquad-r corpus.

One full `index build` makes the index every test starts from (copied); its time is the full
rebuild the incremental ingest is compared with. Kills come from outside (SIGKILL while sentences
are being embedded) and from inside at the named points around the generation and manifest writes
(``TRUSTBOT_TEST_HOOK``, see ``durable.checkpoint``). After each, the previous index must load and
answer exactly as it did just before the kill (the same JSON, scores included), and the next
write must clean up what the killed one left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trustbot.corpus import article_files

from .conftest import ROOT, Run, Workspace, trustbot, write_barn_owls

pytestmark = pytest.mark.slow

ARTICLES = next(
    (
        p
        for p in (
            ROOT.parent / "shared" / "eval" / "xquad-r" / "articles",
            Path("/work/shared/eval/xquad-r/articles"),
        )
        if p.is_dir()
    ),
    None,
)
DEV = ARTICLES.parent / "dev.jsonl" if ARTICLES else None
NEW_QUESTION = "How many nest boxes hold breeding pairs of barn owls?"


@dataclass
class Baseline:
    ws: Workspace
    build_seconds: float
    manifest: bytes
    questions: str


def env_with(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTBOT_")}
    return {**env, **extra}


def ask_all(ws: Workspace, questions: str) -> str:
    run = trustbot(*ws.args(), "ask", "--json", input=questions)
    assert run.code == 0, run.err
    return run.out


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Baseline]:
    if ARTICLES is None or DEV is None:
        pytest.skip("the xquad-r articles (shared/eval) are not beside this checkout")
    root = tmp_path_factory.mktemp("xq48")
    shutil.copytree(ARTICLES, root / "corpus")
    ws = Workspace(root / "corpus", root / "index")
    started = time.monotonic()
    run = trustbot(*ws.args(), "index", "build", timeout=1800)
    seconds = time.monotonic() - started
    assert run.code == 0, run.err
    dev = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()]
    questions = "".join(q["question"] + "\n" for q in dev[::60])  # 11 questions, 11 articles
    assert ask_all(ws, questions).count('"answered": true') >= 5
    yield Baseline(ws, seconds, (ws.index / "manifest.json").read_bytes(), questions)


@pytest.fixture
def copy(baseline: Baseline, tmp_path: Path) -> Workspace:
    shutil.copytree(baseline.ws.corpus, tmp_path / "corpus")
    shutil.copytree(baseline.ws.index, tmp_path / "index")
    return Workspace(tmp_path / "corpus", tmp_path / "index")


def assert_as_before(ws: Workspace, base: Baseline, answers: str) -> None:
    assert (ws.index / "manifest.json").read_bytes() == base.manifest
    # The same articles (a killed ingest's hidden staged file is no article, and goes next time).
    assert article_files(ws.corpus) == [ws.corpus / p.name for p in article_files(base.ws.corpus)]
    assert ask_all(ws, base.questions) == answers


def leftovers(ws: Workspace) -> list[str]:
    """What no manifest points at: other generations, temporary and staged files."""
    manifest: dict[str, Any] = json.loads((ws.index / "manifest.json").read_text())
    keep = {manifest["generation"], manifest["previous"]}
    found = [p.name for p in ws.index.glob("gen-*") if p.name not in keep]
    found += [str(p) for p in ws.index.rglob("*.tmp")]
    found += [p.name for p in ws.corpus.glob(".trustbot-*")]
    return found


def ingest_and_check_clean(ws: Workspace, tmp_path: Path) -> None:
    run = trustbot(*ws.args(), "ingest", str(write_barn_owls(tmp_path)))
    assert run.code == 0, run.err
    assert leftovers(ws) == []
    answer = json.loads(trustbot(*ws.args(), "ask", "--json", NEW_QUESTION).out)
    assert answer["citations"][0]["article_id"] == "barn-owls"


def ingest_killed_at(ws: Workspace, tmp_path: Path, point: str) -> Run:
    """Ingest the barn owls with the test hook set to kill -9 the process at ``point``."""
    run = trustbot(
        *ws.args(),
        "ingest",
        str(write_barn_owls(tmp_path)),
        env={"TRUSTBOT_TEST_HOOK": f"{point}:kill"},
        timeout=600,
    )
    assert run.code == -signal.SIGKILL, run.err
    return run


def test_adding_one_article_takes_well_under_half_a_full_rebuild(
    baseline: Baseline, copy: Workspace, tmp_path: Path
) -> None:
    started = time.monotonic()
    run = trustbot(*copy.args(), "ingest", str(write_barn_owls(tmp_path)))
    seconds = time.monotonic() - started
    assert run.code == 0, run.err
    assert "1 added, 0 updated, 48 unchanged" in run.err
    print(
        f"\nfull rebuild of 48 articles: {baseline.build_seconds:.1f}s; "
        f"ingest of one more: {seconds:.1f}s ({run.err.strip().splitlines()[-1]})"
    )
    assert seconds < 0.5 * baseline.build_seconds


def written_since(folder: Path, started: float) -> list[Path]:
    """Finished files in ``folder`` written after ``started``; the writer's temporary files
    (".name.tmp", renamed away at any moment) are not counted."""
    out = []
    for p in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if not p.name.startswith(".") and p.stat().st_mtime > started:
                out.append(p)
    return out


def test_kill_9_while_embedding_leaves_the_previous_index(
    baseline: Baseline, copy: Workspace, tmp_path: Path
) -> None:
    before = ask_all(copy, baseline.questions)
    started = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "trustbot", *copy.args(), "index", "build"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env_with(),
    )
    try:
        # A full build rewrites every article's vectors: kill it once a few are new.
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            if len(written_since(copy.index / "vectors", started)) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the build ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert_as_before(copy, baseline, before)
    assert leftovers(copy), "the killed build should have left its generation folder"
    ingest_and_check_clean(copy, tmp_path)


@pytest.mark.parametrize("point", ["article-embedded", "generation-written", "manifest-written"])
def test_kill_9_around_the_swap_during_an_ingest(
    baseline: Baseline, copy: Workspace, tmp_path: Path, point: str
) -> None:
    before = ask_all(copy, baseline.questions)
    run = ingest_killed_at(copy, tmp_path, point)
    assert f"test hook: kill -9 at {point}" in run.err
    assert_as_before(copy, baseline, before)
    ingest_and_check_clean(copy, tmp_path)


def test_kill_9_just_after_the_swap_leaves_the_new_index(copy: Workspace, tmp_path: Path) -> None:
    ingest_killed_at(copy, tmp_path, "manifest-replaced")
    # The new index is live; the article's file had not been moved into the corpus yet.
    status = json.loads(trustbot(*copy.args(), "index", "status", "--json").out)
    assert (status["articles"], status["fresh"]) == (49, False)
    assert "removed: barn-owls" in status["stale_reason"]
    # Running the same ingest again puts it right (nothing to embed) and cleans up.
    ingest_and_check_clean(copy, tmp_path)
    status = json.loads(trustbot(*copy.args(), "index", "status", "--json").out)
    assert (status["articles"], status["fresh"]) == (49, True)


def test_a_second_writer_fails_clearly_while_readers_answer_and_a_kill_loses_nothing(
    baseline: Baseline, copy: Workspace, tmp_path: Path
) -> None:
    before = ask_all(copy, baseline.questions)
    log = tmp_path / "build.log"
    with log.open("wb") as err:
        build = subprocess.Popen(
            [sys.executable, "-m", "trustbot", *copy.args(), "index", "build"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env_with(TRUSTBOT_TEST_HOOK="manifest-written:sleep:900"),
        )
    try:
        # Wait until the build has written everything but the manifest, and holds the lock.
        deadline = time.monotonic() + 1500
        while "sleeping at manifest-written" not in log.read_text() and build.poll() is None:
            assert time.monotonic() < deadline, "the build never reached the manifest"
            time.sleep(0.2)
        assert build.poll() is None, log.read_text()

        # Readers keep answering from the live index, exactly as before.
        assert ask_all(copy, baseline.questions) == before
        # A second writer waits, then gives up with a clear message and exit 1.
        started = time.monotonic()
        second = trustbot(
            *copy.args(),
            "ingest",
            str(write_barn_owls(tmp_path)),
            env={"TRUSTBOT_LOCK_TIMEOUT": "2"},
        )
        assert second.code == 1, second.err
        assert time.monotonic() - started >= 2
        assert "another trustbot process has been writing the index" in second.err
        assert "wait for it to finish and try again" in second.err
        assert "Traceback" not in second.err
        assert not (copy.corpus / "barn-owls.txt").exists()

        # kill -9 at the last moment before the swap: nothing is lost.
        build.send_signal(signal.SIGKILL)
        build.wait(30)
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
    assert_as_before(copy, baseline, before)
    # The lock died with its holder: the next writer goes ahead and cleans up.
    ingest_and_check_clean(copy, tmp_path)
