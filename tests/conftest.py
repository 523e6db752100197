"""Shared fixtures: an isolated environment, and a real index of the bundled article."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .fake_bot_api import FakeBotAPI

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "corpus" / "southern-health.txt"
# A short article that no test index starts with: what the ingest and live-reload tests add.
BARN_OWLS = """---
title: Barn owls return to the valley
---
Barn owls have returned to the Wend valley after an absence of thirty years.

Volunteers put up forty nest boxes on farm buildings last winter, and eleven of them now hold
breeding pairs.
"""


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's TRUSTBOT_* settings or token; nothing goes online."""
    for key in list(os.environ):
        if key.startswith("TRUSTBOT_") or key in ("TELEGRAM_BOT_TOKEN", "NO_COLOR"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@dataclass
class Run:
    code: int
    out: str
    err: str


def trustbot(
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
) -> Run:
    """Run the real ``trustbot`` CLI in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTBOT_")}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "trustbot", *args],
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@dataclass(frozen=True)
class Art:
    """An article as the Telegram renderers see it (``telegram_render.ArticleInfo``)."""

    id: str
    title: str
    url: str | None = None
    published: str | None = None


@dataclass
class Workspace:
    corpus: Path
    index: Path

    def args(self) -> list[str]:
        return ["--corpus", str(self.corpus), "--index", str(self.index)]


def make_workspace(root: Path, *articles: Path) -> Workspace:
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    for a in articles:
        shutil.copy(a, corpus / a.name)
    return Workspace(corpus, root / "index")


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The bundled article indexed with the real model (built once per test session)."""
    ws = make_workspace(tmp_path_factory.mktemp("seed"), SEED)
    run = trustbot(*ws.args(), "index", "build")
    assert run.code == 0, run.err
    yield ws


def write_barn_owls(folder: Path, name: str = "barn-owls.txt") -> Path:
    """Write ``BARN_OWLS`` to ``folder / name`` (the name gives the article id) and return it."""
    path = folder / name
    path.write_text(BARN_OWLS, encoding="utf-8")
    return path


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    """A fresh stand-in Telegram Bot API for one test (a module may override it)."""
    server = FakeBotAPI().start()
    yield server
    server.stop()
