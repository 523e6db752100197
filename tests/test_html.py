"""HTML articles: the story is extracted, the page furniture never is, metadata is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustbot.corpus import read_article
from trustbot.errors import CorpusError
from trustbot.html import article_from_html
from trustbot.text import split_sentences

FIXTURES = Path(__file__).parent / "fixtures"
CLUTTERED = FIXTURES / "cluttered-news.html"
SOUP = FIXTURES / "div-soup.html"

STORY = [
    "Millbrook's public library reopened on Saturday",
    "The repairs cost £3.2 million",
    "said Margaret Ellery, the head librarian",
    "Councillor Tom Baptiste said the library would open until 8pm on weekdays",
]
FURNITURE = [
    "cookies",  # banner
    "Accept all",
    "Crosswords",  # navigation
    "Search the Courier",
    "Home",  # breadcrumbs
    "Share on Facebook",
    "Related stories",
    "Harbour wall funding row",
    "Subscribe to our newsletter",
    "Most read",
    "Seagull steals pasty",
    "Beloved bakery",
    "Wonderful news",  # comments
    "Privacy policy",  # footer
    "All rights reserved",
    "dataLayer",  # scripts
    "trackPageView",
    "tracking pixel",
    "font-family",  # style
    "By Priya Okonkwo",  # byline
]


def test_the_cluttered_page_gives_the_story_and_nothing_else() -> None:
    art = read_article(CLUTTERED)
    for text in STORY:
        assert text in art.body
    for text in FURNITURE:
        assert text not in art.body, text
    # Six paragraphs of story; the headline is the title, not a paragraph.
    assert len(art.body.strip().split("\n\n")) == 6
    assert not art.body.startswith("Harbour town")


def test_metadata_comes_from_the_page() -> None:
    art = read_article(CLUTTERED)
    assert art.id == "cluttered-news"
    assert art.title == "Harbour town reopens its flood-damaged library"
    assert art.published == "2023-05-14"
    assert art.url == "https://courier.example.org/news/2023/05/library-reopens"
    assert art.source == "The Millbrook Courier"


def test_a_page_without_semantic_markup_loses_its_boxes_too() -> None:
    art = read_article(SOUP)
    assert "The bridge was built in 1794" in art.body
    assert "A temporary footbridge will let pedestrians" in art.body
    for text in ("cookies", "Roman coins", "robotics", "bus company", "newsletter", "Copyright"):
        assert text not in art.body, text
    assert art.title == "Bridge to close for repairs"
    # The only year in the page's furniture is a copyright line; no date is made up from it.
    assert art.published is None and art.url is None


def test_every_sentence_is_cut_from_the_stored_body() -> None:
    art = read_article(CLUTTERED)
    sentences = split_sentences(art.body)
    assert len(sentences) >= 6
    for s in sentences:
        assert art.body[s.start : s.end].strip() == art.body[s.start : s.end]
        assert art.body[s.start : s.end]


def story(n: int, rest: str) -> str:
    """``n`` paragraphs "Paragraph i of the story <rest>." as HTML."""
    return "".join(f"<p>Paragraph {i} of the story {rest}.</p>" for i in range(n))


@pytest.mark.parametrize(
    ("page", "aid", "kept", "count", "dropped"),
    [
        pytest.param(
            '<html><body><div id="page" class="layout with-sidebar">'
            '<div class="story">'
            + story(5, "says something long enough to count as text")
            + "</div>"
            '<div class="sidebar"><p>Advertise with us and reach thousands of readers.</p></div>'
            "</div></body></html>",
            "wrapped",
            "of the story says",
            5,
            "Advertise with us",
            id="layout-wrapper-named-like-furniture",
        ),
        pytest.param(
            '<html><body><article class="post comments-open">'
            + story(4, "tells the reader something worth quoting here")
            + "</article>"
            '<section class="comments"><p>First! Great story, thanks for writing it.</p></section>'
            "</body></html>",
            "post",
            "of the story tells",
            4,
            "First!",
            id="story-container-with-a-furniture-word-in-its-class",
        ),
    ],
)
def test_a_container_named_like_furniture_keeps_the_story(
    page: str, aid: str, kept: str, count: int, dropped: str
) -> None:
    art = article_from_html(page, aid)
    assert art.body.count(kept) == count
    assert dropped not in art.body


def test_a_box_headed_most_read_goes_even_without_classes() -> None:
    page = (
        "<html><body><div>"
        "<p>The council approved the new cycle lanes on Tuesday after a long debate.</p>"
        "<p>Work on the first lane along the river will begin in the spring.</p>"
        "<div><h3>Most read</h3><p>Cat rescued from a crane by firefighters after two days.</p>"
        "<p>Local bakery wins national award for the best sourdough loaf.</p></div>"
        "<p>The lanes will cost the council about two million pounds in total.</p>"
        "</div></body></html>"
    )
    art = article_from_html(page, "lanes")
    assert "cycle lanes" in art.body and "two million pounds" in art.body
    assert "Cat rescued" not in art.body and "sourdough" not in art.body


@pytest.mark.parametrize(
    ("page", "message"),
    [
        ("", "the page is empty"),
        ("   \n", "the page is empty"),
        (
            "<html><body><script>var s = 'A long sentence inside a script tag only.';</script>"
            "</body></html>",
            "no article text",
        ),
        (
            '<html><body><nav><a href="/">Home</a> <a href="/news">News</a></nav>'
            '<div class="cookie-banner"><p>We use cookies to make this site work and to show '
            "you relevant adverts on our partners' websites.</p></div></body></html>",
            "no article text",
        ),
    ],
    ids=["empty", "blank", "script-only", "furniture-only"],
)
def test_a_page_without_a_story_is_refused_by_name(page: str, message: str) -> None:
    with pytest.raises(CorpusError, match=message) as err:
        article_from_html(page, "nothing", Path("nothing.html"))
    assert str(err.value).startswith("nothing.html:")


def test_the_hash_is_of_the_page_so_identical_pages_are_one_article() -> None:
    html = CLUTTERED.read_text(encoding="utf-8")
    a = article_from_html(html, "one")
    b = article_from_html(html, "two")
    c = article_from_html(html.replace("27 years", "28 years"), "three")
    assert a.sha256 == b.sha256 != c.sha256
