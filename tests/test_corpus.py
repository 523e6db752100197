"""Reading articles: ids, front matter, hashes, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustbot.corpus import article_id, load_corpus, parse_front_matter, read_article
from trustbot.errors import CorpusError

from .conftest import SEED


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Southern Health.txt", "southern-health"),
        ("southern-health.txt", "southern-health"),
        ("NHS__Trust (2017).md", "nhs-trust-2017-"),
        ("Ünïcode Story.html", "-n-code-story"),
    ],
)
def test_article_id_follows_the_contract(name: str, expected: str) -> None:
    assert article_id(name) == expected


def test_front_matter_is_parsed_and_body_offsets_start_after_it() -> None:
    text = (
        '---\ntitle: A "quoted" title\nurl: https://example.org/x\n'
        "published: 2017-03-14\n---\nBody.\n"
    )
    meta, body = parse_front_matter(text)
    assert meta == {
        "title": 'A "quoted" title',
        "url": "https://example.org/x",
        "published": "2017-03-14",
    }
    assert body == "Body.\n"
    assert text.endswith(body)


def test_no_front_matter_means_whole_text_is_body() -> None:
    assert parse_front_matter("Just text.\n---\nmore") == ({}, "Just text.\n---\nmore")


def test_title_derived_from_file_name(tmp_path: Path) -> None:
    p = tmp_path / "Budget Day.txt"
    p.write_text("The chancellor spoke.", encoding="utf-8")
    art = read_article(p)
    assert (art.id, art.title) == ("budget-day", "Budget day")


def test_bundled_article_body_is_the_seed_text_verbatim() -> None:
    art = read_article(SEED)
    assert art.id == "southern-health"
    assert "Southern Health" in art.title
    raw = SEED.read_text(encoding="utf-8")
    assert raw.endswith(art.body)
    assert art.body.startswith("NHS Improvement has lifted")


def test_crlf_text_keeps_exact_characters(tmp_path: Path) -> None:
    p = tmp_path / "crlf.txt"
    p.write_bytes(b"---\r\ntitle: T\r\n---\r\nOne.\r\n\r\nTwo.\r\n")
    art = read_article(p)
    assert art.title == "T"
    assert art.body == "One.\r\n\r\nTwo.\r\n"


def test_non_utf8_file_is_named_in_the_error(tmp_path: Path) -> None:
    p = tmp_path / "latin.txt"
    p.write_bytes("café".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"latin\.txt: not UTF-8"):
        read_article(p)


def test_empty_article_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "empty.txt"
    p.write_text("---\ntitle: Nothing\n---\n\n  \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no text"):
        read_article(p)


def test_missing_and_empty_corpus(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match="has no articles"):
        load_corpus(tmp_path)


def test_identical_text_under_another_name_is_one_article(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Same words.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Same words.", encoding="utf-8")
    (tmp_path / "c.txt").write_text("Other words.", encoding="utf-8")
    assert [a.id for a in load_corpus(tmp_path)] == ["a", "c"]


def test_two_files_with_one_id_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("One.", encoding="utf-8")
    (tmp_path / "X.md").write_text("Two.", encoding="utf-8")
    with pytest.raises(CorpusError, match="same article id"):
        load_corpus(tmp_path)
