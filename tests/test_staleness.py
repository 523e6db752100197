"""The stat-first staleness check (``store.corpus_staleness``): the same verdict as reading and
hashing every corpus file (``stale_reason(read_manifest(...), load_corpus(...))``), while reading
only the files that are new or whose size or modification time changed since they were indexed."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from trustbot import corpus, segments
from trustbot.answer import Answerer
from trustbot.config import Settings
from trustbot.corpus import Article, load_corpus
from trustbot.embed import HashEmbedder
from trustbot.errors import CorpusError, IndexMissing, TrustbotError
from trustbot.store import (
    PART_KEYS,
    corpus_staleness,
    read_manifest,
    stale_reason,
    write_index,
)

DAY_NS = 86_400 * 10**9


def text(i: int, version: int = 0) -> str:
    return (
        f"Article {i}: the council met on day {i}.\n\n"
        f"It approved {100 + version} new benches for park {i}. Residents welcomed it."
    )


def write(path: Path, content: str) -> None:
    """Write an article and date it a day back, as corpus files usually are when indexed (a
    file written in the last RACY_NS is not trusted by its stat and would always be read)."""
    path.write_text(content, encoding="utf-8")
    old = time.time_ns() - DAY_NS
    os.utime(path, ns=(old, old))


def build(root: Path, n: int) -> Settings:
    ws = Settings(corpus_dir=root / "corpus", index_dir=root / "index", lock_timeout=5)
    ws.corpus_dir.mkdir(parents=True)
    for i in range(n):
        write(ws.corpus_dir / f"a{i:03d}.txt", text(i))
    write_index(ws.index_dir, load_corpus(ws.corpus_dir), HashEmbedder())
    return ws


def full_check(ws: Settings) -> str | None:
    """What the check did before: read and hash every file."""
    articles = load_corpus(ws.corpus_dir)
    return stale_reason(read_manifest(ws.index_dir), articles)


def outcome(check: Callable[[], str | None]) -> tuple[str, str | None]:
    try:
        return "ok", check()
    except TrustbotError as err:
        return type(err).__name__, str(err)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the article files read (load_corpus reads through corpus.read_article)."""
    seen: list[str] = []
    real = corpus.read_article

    def counted(path: Path) -> Article:
        seen.append(path.name)
        return real(path)

    monkeypatch.setattr(corpus, "read_article", counted)
    return seen


def same_size_edit(c: Path) -> None:
    (c / "a001.txt").write_text(text(1, version=1), encoding="utf-8")


def same_size_edit_same_mtime_second(c: Path) -> None:
    # Same size, mtime moved by one nanosecond only.
    path = c / "a001.txt"
    st = path.stat()
    path.write_text(text(1, version=1), encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))


def longer_edit(c: Path) -> None:
    (c / "a002.txt").write_text(text(2) + " More.", encoding="utf-8")


def touch(c: Path) -> None:
    os.utime(c / "a003.txt")


def backdated_touch(c: Path) -> None:
    os.utime(c / "a003.txt", ns=(0, 0))


def add(c: Path) -> None:
    (c / "new.txt").write_text(text(50), encoding="utf-8")


def remove(c: Path) -> None:
    (c / "a004.txt").unlink()


def rename(c: Path) -> None:
    (c / "a005.txt").rename(c / "renamed.txt")


def duplicate_after(c: Path) -> None:
    shutil.copy(c / "a006.txt", c / "z-copy.txt")  # a006 keeps the text; the copy is skipped


def duplicate_before(c: Path) -> None:
    shutil.copy2(c / "a006.txt", c / "0-copy.txt")  # same stat as a006; 0-copy now keeps it


def same_id(c: Path) -> None:
    (c / "a007.md").write_text(text(70), encoding="utf-8")


def same_id_unchanged_copy(c: Path) -> None:
    shutil.copy2(c / "a007.txt", c / "a007.md")  # same text too: a duplicate, not a clash


def swap_contents(c: Path) -> None:
    a, b = c / "a008.txt", c / "a009.txt"
    a_text, b_text = a.read_text(), b.read_text()
    write(a, b_text)
    write(b, a_text)


def emptied(c: Path) -> None:
    for p in c.iterdir():
        p.unlink()


def unreadable_new(c: Path) -> None:
    (c / "bad.txt").write_bytes(b"\x00\x01binary")


def corpus_gone(c: Path) -> None:
    shutil.rmtree(c)


def nothing(c: Path) -> None:
    pass


EDITS = [
    nothing,
    same_size_edit,
    same_size_edit_same_mtime_second,
    longer_edit,
    touch,
    backdated_touch,
    add,
    remove,
    rename,
    duplicate_after,
    duplicate_before,
    same_id,
    same_id_unchanged_copy,
    swap_contents,
    emptied,
    unreadable_new,
    corpus_gone,
]


@pytest.mark.parametrize("edit", EDITS, ids=[e.__name__ for e in EDITS])
def test_stat_first_check_equals_the_full_read(
    tmp_path: Path, edit: Callable[[Path], None]
) -> None:
    ws = build(tmp_path, 12)
    assert corpus_staleness(ws.index_dir, ws.corpus_dir) is None
    edit(ws.corpus_dir)
    expected = outcome(lambda: full_check(ws))
    assert outcome(lambda: corpus_staleness(ws.index_dir, ws.corpus_dir)) == expected
    if edit in (nothing, touch, backdated_touch, duplicate_after, same_id_unchanged_copy):
        assert expected == ("ok", None)
    elif edit in (emptied, unreadable_new, corpus_gone, same_id):
        assert expected[0] == "CorpusError"
    else:
        assert expected[0] == "ok" and expected[1]


def test_errors_keep_their_order_and_an_old_index_is_read_in_full(
    tmp_path: Path, reads: list[str]
) -> None:
    ws = build(tmp_path, 5)
    # The corpus's error comes before the index's, as when load_corpus ran first.
    index_gone = tmp_path / "moved-index"
    ws.index_dir.rename(index_gone)
    with pytest.raises(IndexMissing):
        corpus_staleness(ws.index_dir, ws.corpus_dir)
    unreadable_new(ws.corpus_dir)
    with pytest.raises(CorpusError, match=r"bad\.txt"):
        corpus_staleness(ws.index_dir, ws.corpus_dir)
    (ws.corpus_dir / "bad.txt").unlink()
    index_gone.rename(ws.index_dir)

    # An index written before stats were recorded: every file is read, the verdict is right.
    manifest = read_manifest(ws.index_dir, entries=False)
    keys_file = ws.index_dir / str(manifest["generation"]) / PART_KEYS
    with np.load(keys_file) as keys:
        old = {k: keys[k] for k in ("ids", "shas", "paths", "sentences")}
    with keys_file.open("wb") as fh:
        np.savez(fh, **old)
    reads.clear()
    assert corpus_staleness(ws.index_dir, ws.corpus_dir) is None
    assert len(reads) == 5
    same_size_edit(ws.corpus_dir)
    assert "changed: a001" in str(corpus_staleness(ws.index_dir, ws.corpus_dir))


def test_a_just_written_file_is_not_trusted_by_its_stat(tmp_path: Path, reads: list[str]) -> None:
    ws = build(tmp_path, 3)
    (ws.corpus_dir / "fresh.txt").write_text(text(9), encoding="utf-8")  # mtime: now
    write_index(ws.index_dir, load_corpus(ws.corpus_dir), HashEmbedder())
    reads.clear()
    assert corpus_staleness(ws.index_dir, ws.corpus_dir) is None
    assert reads == ["fresh.txt"]


def test_the_ask_path_reads_only_changed_files(
    tmp_path: Path, reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segments, "MIN_ROWS", 50)  # so that the edit below makes a segment
    ws = build(tmp_path, 300)
    emb = HashEmbedder()
    reads.clear()
    assert Answerer.open(ws, emb).articles
    assert reads == []  # nothing changed: no article file is opened

    same_size_edit(ws.corpus_dir)
    with pytest.raises(TrustbotError, match="changed: a001"):
        Answerer.open(ws, emb)
    assert reads == ["a001.txt"]

    # Indexed by a change-only write (a segment, and a tombstone for the old a001): trusted again.
    path = ws.corpus_dir / "a001.txt"
    old = time.time_ns() - DAY_NS
    os.utime(path, ns=(old, old))
    write_index(ws.index_dir, [corpus.read_article(path)], emb, changes_only=True)
    assert read_manifest(ws.index_dir, entries=False)["segments"]
    reads.clear()
    assert Answerer.open(ws, emb).articles
    assert reads == []
    assert corpus_staleness(ws.index_dir, ws.corpus_dir) == full_check(ws) is None


def test_an_ingested_article_is_trusted_by_its_stat(tmp_path: Path, reads: list[str]) -> None:
    from trustbot.ingest import ingest

    ws = build(tmp_path, 3)
    outside = tmp_path / "inbox" / "story.txt"
    outside.parent.mkdir()
    write(outside, text(7))  # dated a day back, as a file waiting to be ingested usually is
    ingest(ws, [outside], HashEmbedder())
    reads.clear()
    assert corpus_staleness(ws.index_dir, ws.corpus_dir) is None
    assert reads == []  # the corpus copy keeps the source's times: its stat vouches for it
    # An edit of the ingested copy is still noticed.
    (ws.corpus_dir / "story.txt").write_text(text(7, version=1), encoding="utf-8")
    assert "changed: story" in str(corpus_staleness(ws.index_dir, ws.corpus_dir))
    assert reads == ["story.txt"]
