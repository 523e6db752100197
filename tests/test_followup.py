"""Follow-up questions in a conversation (followup.py), with the deterministic fake embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustbot.answer import Answerer, Decision
from trustbot.config import MAX_QUESTION_CHARS
from trustbot.corpus import parse_article
from trustbot.embed import HashEmbedder
from trustbot.followup import Conversation
from trustbot.retrieve import Hit, Retrieval
from trustbot.store import load_index, write_index

NEWS = parse_article(
    "NHS Improvement has lifted several undertakings at the trust.\n\n"
    "The regulator said the trust is making progress.\n\n"
    "Jane Smith, the chief executive, said: “The findings were very encouraging.\n\n"
    "“We know we still have more to do.”",
    "news",
)


@pytest.fixture
def answerer(tmp_path: Path) -> Answerer:
    emb = HashEmbedder()
    write_index(tmp_path, [NEWS], emb)
    return Answerer(load_index(tmp_path, emb), emb)


def best(answerer: Answerer, sentence: int, answered: bool = True) -> Decision:
    """A decision whose best sentence is ``sentence`` of the article."""
    hit = Hit(sentence, 1.0, 1.0, 0.5, 1.0, 1.0)
    return Decision(Retrieval("?", "other", (hit,)), 0.9, answered)


def test_a_pronoun_is_read_as_the_person_last_quoted(answerer: Answerer) -> None:
    c = Conversation()
    assert c.read("When did he start?") == ("When did he start?", None)  # nobody yet
    c.heard(answerer.index, best(answerer, 3))  # inside Jane Smith's quotation
    assert c.person == "Jane Smith"
    assert c.read("When did she start?") == ("When did she start? (Jane Smith)", "Jane Smith")
    assert c.read("what is her job")[1] == "Jane Smith"


def test_only_a_named_person_and_only_an_answer_is_remembered(answerer: Answerer) -> None:
    c = Conversation()
    c.heard(answerer.index, best(answerer, 2, answered=False))  # refused: nothing learnt
    assert c.person is None
    c.heard(answerer.index, best(answerer, 2))  # "Jane Smith, the chief executive, said: ..."
    c.heard(answerer.index, best(answerer, 1))  # "The regulator said ...": not a person's name
    c.heard(answerer.index, best(answerer, 0))  # no speaker at all
    assert c.person == "Jane Smith"


def test_questions_that_name_someone_or_no_person_are_searched_as_asked() -> None:
    c = Conversation(person="Jane Smith")
    for q in (
        "When did Smith start?",  # names her
        "What did he say about NHS Improvement?",  # names something itself
        "When was it lifted?",  # "it": the trust, the report, ...
        "Where is the shed?",  # "he" inside a word
        "Did she" + " really" * MAX_QUESTION_CHARS,  # no room left for the name
    ):
        assert c.read(q) == (q, None), q
    assert c.read("Can I ask what he said?")[1] == "Jane Smith"  # "I" is not a name


def test_ask_in_a_conversation_says_whom_it_took_the_question_to_be_about(
    answerer: Answerer,
) -> None:
    c = Conversation(person="Jane Smith")
    answer = answerer.ask("What did she find encouraging?", conversation=c)
    assert answer.about == "Jane Smith"
    assert answer.about_note == "(Taking this to be about Jane Smith.)"
    assert answer.question == "What did she find encouraging?"  # as asked, not as searched
    assert answerer.ask("What did she find encouraging?").about is None
