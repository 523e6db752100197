"""Live reload: a new generation is picked up within the check interval, loaded in full before it
is served, and a generation that fails to load leaves the old one answering."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from trustbot import live as live_module
from trustbot.answer import Answerer
from trustbot.config import Settings
from trustbot.corpus import Article, parse_article
from trustbot.embed import HashEmbedder
from trustbot.live import LiveAnswerer
from trustbot.store import LoadedIndex, load_index, read_manifest, write_index

OWLS = parse_article("Barn owls hunt voles at dusk.", "owls")
BATS = parse_article("Bats eat moths at night.", "bats")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    """An index folder, the LiveAnswerer watching it, and the clock it checks by."""

    index_dir: Path
    live: LiveAnswerer
    clock: Clock

    def publish(self, *articles: Article) -> None:
        """Write a new generation of the index holding ``articles``."""
        write_index(self.index_dir, list(articles), HashEmbedder())


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    emb = HashEmbedder()
    write_index(tmp_path, [OWLS], emb)
    clock = Clock()
    live = LiveAnswerer(
        Settings(index_dir=tmp_path),
        Answerer(load_index(tmp_path, emb), emb),
        check_every=1.0,
        clock=clock,
    )
    return Rig(tmp_path, live, clock)


def ids(answerer: Answerer) -> list[str]:
    return [a.id for a in answerer.articles]


def test_a_new_generation_is_served_after_the_next_check(rig: Rig) -> None:
    live, clock = rig.live, rig.clock
    first = live()
    rig.publish(OWLS, BATS)
    clock.now = 0.5
    assert live() is first  # checks at most once a second
    clock.now = 1.0
    assert ids(live()) == ["owls", "bats"]
    assert live().ask("What do bats eat?").citations[0].article_id == "bats"
    assert live().index.generation == read_manifest(rig.index_dir)["generation"]
    clock.now = 5.0
    again = live()
    assert live() is again  # nothing changed: no reload


def test_refresh_looks_now(rig: Rig) -> None:
    live = rig.live
    assert live.refresh() is False
    rig.publish(BATS)
    assert live.refresh() is True
    assert ids(live.current) == ["bats"]


def test_a_generation_that_fails_to_load_leaves_the_old_one_serving(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    live, clock = rig.live, rig.clock
    old = live()
    rig.publish(OWLS, BATS)
    gen = read_manifest(rig.index_dir)["generation"]
    (rig.index_dir / gen / "table.json").write_text(json.dumps([[0, 0]]))  # inconsistent
    clock.now = 1.0
    with caplog.at_level(logging.ERROR, logger="trustbot.live"):
        assert live() is old
        clock.now = 2.0
        assert live() is old
    assert len([r for r in caplog.records if "still answering from" in r.message]) == 1
    assert old.ask("owls hunt voles").answered
    # The next good generation is picked up.
    rig.publish(BATS)
    clock.now = 3.0
    assert ids(live()) == ["bats"]


def test_callers_keep_the_old_answerer_while_the_new_one_loads(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    live, clock = rig.live, rig.clock
    old = live()
    rig.publish(OWLS, BATS)
    loading = threading.Event()
    finish = threading.Event()
    real_load = live_module.load_index

    def slow_load(index_dir: Path, embedder: object = None) -> LoadedIndex:
        loading.set()
        assert finish.wait(10)
        return real_load(index_dir, embedder)  # type: ignore[arg-type]

    monkeypatch.setattr(live_module, "load_index", slow_load)
    clock.now = 1.0
    got: list[Answerer] = []
    loader = threading.Thread(target=lambda: got.append(live()))
    loader.start()
    assert loading.wait(10)
    clock.now = 2.0
    # Another question meanwhile: answered at once, from the complete old generation.
    assert live() is old
    assert old.ask("owls hunt voles").answered
    finish.set()
    loader.join(10)
    assert ids(got[0]) == ["owls", "bats"]
    assert live() is got[0]
