"""Telegram HTML rendering and the 4,096-character splitter (pure functions, no telegram)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustbot.answer import Answer, Citation, Story
from trustbot.telegram_render import (
    MAX_MESSAGE,
    render_answer,
    render_help,
    render_sources,
    render_start,
    render_story,
    render_story_all,
    render_story_chosen,
    render_story_gone,
    render_story_unanswered,
    split_html,
    utf16_len,
)

from .conftest import Art
from .fake_bot_api import HTMLRejected, parse_telegram_html

HOSTILE = '<script>alert("x")</script> & <b>bold</b> <a href="javascript:x">y</a> &amp; </i>'


def cite(n: int, text: str, **kw: object) -> Citation:
    values: dict[str, object] = {
        "n": n,
        "article_id": "a",
        "title": "Title",
        "sentence_index": n - 1,
        "text": text,
        "start": 0,
        "end": len(text),
        "score": 0.9,
    }
    values.update(kw)
    return Citation(**values)  # type: ignore[arg-type]


def shown(html: str) -> str:
    """What Telegram would display; fails the test on HTML Telegram would reject."""
    return parse_telegram_html(html)


def test_answer_has_markers_sources_titles_links_and_dates() -> None:
    answer = Answer(
        "Who?",
        True,
        (
            cite(1, "Nick Broughton said so.", url="https://ex.org/a?x=1&y=2", published="2017"),
            cite(2, "He was appointed.", title="Other story"),
        ),
    )
    html = render_answer(answer)
    text = shown(html)
    assert "Nick Broughton said so. [1] He was appointed. [2]" in text
    assert "Sources" in text
    assert "[1] Title, sentence 1 · 2017" in text
    assert "[2] Other story, sentence 2" in text
    assert '<a href="https://ex.org/a?x=1&amp;y=2">Title</a>' in html


def test_hostile_text_everywhere_is_escaped() -> None:
    answer = Answer(
        HOSTILE,
        True,
        (cite(1, HOSTILE, title=HOSTILE, url='https://ex.org/"><b>', published=HOSTILE),),
    )
    html = render_answer(answer)
    text = shown(html)  # parses: no injected tags
    assert text.count(HOSTILE) == 3  # the sentence, the title and the date, verbatim
    assert "<script>" not in html


def test_non_http_urls_are_not_links() -> None:
    html = render_answer(Answer("q", True, (cite(1, "s", url="javascript:alert(1)"),)))
    assert "<a " not in html
    shown(html)


def test_unanswered_is_short_friendly_and_escapes_the_question() -> None:
    html = render_answer(Answer(HOSTILE, False))
    text = shown(html)
    assert "The articles don't say." in text
    assert HOSTILE in text
    assert "/sources" in text
    assert "[1]" not in text


def test_unanswered_names_the_stories_that_come_closest_escaped() -> None:
    stories = (Story("southern-health", "Trust <b>lifts</b> rules"), Story("lee-206", HOSTILE))
    text = shown(render_answer(Answer("Who wrote the report?", False, stories=stories)))
    assert text.endswith(
        "These stories come closest; to ask about one of them only:\n"
        "• Trust <b>lifts</b> rules: /story southern-health\n"
        f"• {HOSTILE}: /story lee-206"
    )
    assert "Try other words" not in text


def test_a_follow_up_says_how_it_was_read_escaped() -> None:
    for answered, cites in ((True, (cite(1, "She said so."),)), (False, ())):
        html = render_answer(Answer("What did she say?", answered, cites, note=HOSTILE))
        assert html.startswith("<i>&lt;script&gt;")
        assert shown(html).startswith(f"{HOSTILE}\n")
    assert not shown(render_answer(Answer("q", True, (cite(1, "s"),)))).startswith("(Taking")


def test_start_help_sources_render_valid_html() -> None:
    arts = [
        Art(f"a{i}", f"<Title {i}> & co", "https://ex.org/" + str(i), "2017-03-14")
        for i in range(5)
    ]
    start = shown(render_start(arts, "my_bot"))
    assert "I know 5 articles" in start and "<Title 0> & co" in start and "and 2 more" in start
    assert "/ask" in shown(render_help("my_bot"))
    sources = shown(render_sources(arts))
    assert "1. <Title 0> & co · 2017-03-14" in sources and "5. <Title 4> & co" in sources
    assert "←" not in sources
    marked = shown(render_sources(arts, chosen="a0")).splitlines()
    assert marked[1] == "1. <Title 0> & co · 2017-03-14 ← your /story"
    assert all("←" not in line for line in marked[2:])
    assert shown(render_sources([])) == "I have no articles yet."
    assert "no articles" in shown(render_start([], None))


def test_story_replies_render_valid_html_with_titles_escaped() -> None:
    every = shown(render_story(3, None))
    assert every.startswith("Your questions are answered from every article I know (3 articles).")
    assert "/story 2" in every and "/story article-id" in every and "/story all" in every
    assert "(1 article)" in shown(render_story(1, None))
    one = shown(render_story(3, HOSTILE))
    assert one.startswith(f"Your questions are answered from one story only: {HOSTILE}.")
    assert "/story all" in one
    assert shown(render_story_chosen(HOSTILE)) == (
        f"From now on I answer your questions from {HOSTILE} only. "
        "/story all goes back to every article."
    )
    assert "(2 articles)" in shown(render_story_all(2))
    assert shown(render_story_gone(HOSTILE)).startswith(f"{HOSTILE} is no longer among")
    assert HOSTILE in shown(render_story_unanswered(HOSTILE))
    for html in (render_story_chosen(HOSTILE), render_story_gone(HOSTILE)):
        assert "<script>" not in html


def test_help_and_start_mention_story() -> None:
    help_text = shown(render_help("my_bot"))
    assert "/story 2" in help_text and "/story all" in help_text
    assert "/story" in shown(render_start([], "my_bot"))


def check_parts(html: str, parts: list[str], limit: int) -> None:
    assert parts
    for part in parts:
        assert utf16_len(part) <= limit, (utf16_len(part), part[-80:])
        shown(part)
        assert part == part.strip()
        # Never cut inside a tag or an entity.
        assert re.search(r"<[^>]*$", part) is None
        assert re.search(r"&[#A-Za-z0-9]*$", part) is None
    # No text is lost or changed, apart from whitespace at the splits.
    squash = lambda s: re.sub(r"\s+", "", s)  # noqa: E731
    assert squash("".join(shown(p) for p in parts)) == squash(shown(html))


def test_short_message_is_one_part() -> None:
    assert split_html("<b>hi</b> there") == ["<b>hi</b> there"]
    assert split_html("   ") == []


def test_long_answer_splits_at_sentence_ends_and_keeps_tags_balanced() -> None:
    sentences = [f"Sentence number {i} says <{i}> & “more”." for i in range(400)]
    answer = Answer("q", True, tuple(cite(i + 1, s) for i, s in enumerate(sentences[:4])))
    long_answer = Answer(
        "q",
        True,
        (
            cite(1, " ".join(sentences), url="https://ex.org/x", title="T" * 50),
            *(cite(i, f"Short {i}.") for i in range(2, 6)),
        ),
    )
    for a in (answer, long_answer):
        html = render_answer(a)
        parts = split_html(html)
        check_parts(html, parts, MAX_MESSAGE)
    parts = split_html(render_answer(long_answer))
    assert len(parts) >= 3
    for part in parts[:-1]:
        # Each cut falls after a sentence end (or a paragraph/line break, or a [n] marker).
        assert re.search(r"([.!?…][”\"’)]*|\[\d+\](</b>)?|\n)$", shown(part).rstrip()), part[-60:]


def test_paragraph_breaks_are_preferred() -> None:
    para = "Word " * 300
    html = f"{para}.\n\n<b>{para}.</b>\n\n{para}."
    parts = split_html(html, 2000)
    check_parts(html, parts, 2000)
    assert len(parts) == 3
    assert parts[1].startswith("<b>") and parts[1].endswith("</b>")


def test_tags_open_across_a_split_are_closed_and_reopened() -> None:
    html = (
        '<b>Bold start. <a href="https://ex.org/?a=1&amp;b=2">' + "Linked words. " * 50 + "</a></b>"
    )
    parts = split_html(html, 200)
    check_parts(html, parts, 200)
    for part in parts[1:]:
        assert part.startswith('<b><a href="https://ex.org/?a=1&amp;b=2">')


def test_a_word_longer_than_a_part_is_still_split() -> None:
    html = "x" * 10_000 + " &amp; " + "y" * 5000
    parts = split_html(html)
    check_parts(html, parts, MAX_MESSAGE)


def test_empty_elements_do_not_use_up_a_part() -> None:
    # Found by test_split_property: the empty tags alone pushed the only text past the limit.
    html = "<b></b><blockquote></blockquote><blockquote>&lt;</blockquote>"
    assert split_html(html, 60) == ["<blockquote>&lt;</blockquote>"]
    assert split_html("<b> </b>x " * 20, 60) == [(" x " * 20).strip()]


def test_astral_characters_count_twice() -> None:
    html = "😀 " * 3000  # 9000 UTF-16 units
    parts = split_html(html)
    check_parts(html, parts, MAX_MESSAGE)
    assert len(parts) == 3


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "b", "i", "code", "blockquote"]),
            st.text(alphabet=st.sampled_from(list("ab .\n<>&\"'😀é")), max_size=120),
        ),
        max_size=40,
    ),
    st.integers(min_value=60, max_value=400),
)
def test_split_property(chunks: list[tuple[str, str]], limit: int) -> None:
    from html import escape

    html = "".join(f"<{t}>{escape(s)}</{t}>" if t else escape(s) for t, s in chunks)
    if not parse_telegram_html(html).strip():
        return
    check_parts(html, split_html(html, limit), limit)


def test_the_validator_rejects_what_telegram_rejects() -> None:
    for bad in ("<b>open", "<script>x</script>", "<b><i>x</b></i>", "a < b", "&nbsp;", "<br/>"):
        with pytest.raises(HTMLRejected):
            parse_telegram_html(bad)


def test_core_never_imports_telegram() -> None:
    code = (
        "import sys, trustbot.answer, trustbot.render, trustbot.telegram_render, trustbot.store;"
        "bad = sorted(m for m in sys.modules if m == 'telegram' or m.startswith('telegram.'));"
        "assert not bad, bad"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
