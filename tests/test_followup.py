"""Follow-up questions in a conversation (followup.py), with the deterministic fake embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustbot.answer import Answerer, Decision
from trustbot.config import MAX_QUESTION_CHARS
from trustbot.corpus import parse_article
from trustbot.embed import HashEmbedder
from trustbot.followup import SHOWN, Conversation, Reading
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


def best(sentence: int, answered: bool = True) -> Decision:
    """A decision whose best sentence is ``sentence`` of the article."""
    hit = Hit(sentence, 1.0, 1.0, 0.5, 1.0, 1.0)
    return Decision(Retrieval("?", "other", (hit,)), 0.9, answered)


def test_a_pronoun_is_read_as_the_person_last_quoted(answerer: Answerer) -> None:
    c = Conversation()
    assert c.read("When did he start?") == Reading("When did he start?")  # nobody, nothing yet
    c.heard(answerer.index, best(3))  # inside Jane Smith's quotation
    assert c.person == "Jane Smith"
    assert c.read("What is her job?") == Reading(
        "What is her job? (Jane Smith) (When did he start?)",
        "Jane Smith",
        "When did he start?",
    )


def test_a_question_pointing_back_or_saying_little_follows_on_from_the_last() -> None:
    c = Conversation(previous="Who wrote the external report?")
    reading = c.read("When did it come out?")
    assert reading == Reading(
        "When did it come out? (Who wrote the external report?)",
        follows="Who wrote the external report?",
    )
    assert reading.note == "(Taking this as following on from “Who wrote the external report?”.)"
    assert c.read("In what year?").follows == "When did it come out?"  # two content words or fewer
    asked = "How much money does the trust turn over every year in total?"
    assert c.read(asked) == Reading(asked)  # says enough by itself


def test_only_a_named_person_and_only_an_answer_is_remembered(answerer: Answerer) -> None:
    c = Conversation()
    c.heard(answerer.index, best(2, answered=False))  # refused: nothing learnt
    assert c.person is None
    c.heard(answerer.index, best(2))  # "Jane Smith, the chief executive, said: ..."
    c.heard(answerer.index, best(1))  # "The regulator said ...": not a person's name
    c.heard(answerer.index, best(0))  # no speaker at all
    assert c.person == "Jane Smith"


def test_questions_that_name_someone_are_searched_as_asked() -> None:
    for q in (
        "When did Smith start?",  # names her
        "What did he say about NHS Improvement?",  # names something itself
        "Did she" + " really" * MAX_QUESTION_CHARS,  # no room left for the name
    ):
        c = Conversation(person="Jane Smith", previous="Who runs the trust?")
        assert c.read(q) == Reading(q), q
    c = Conversation(person="Jane Smith")
    assert c.read("Can I ask what he said about the plan?").person == "Jane Smith"  # "I" is no name
    note = Reading("q", follows="x" * 2 * SHOWN).note  # a long previous question is cut short
    assert note is not None and note.endswith("x…”.)") and len(note) < 2 * SHOWN


def test_ask_in_a_conversation_says_how_it_read_the_question(answerer: Answerer) -> None:
    c = Conversation(person="Jane Smith")
    answer = answerer.ask("What did she find encouraging?", conversation=c)
    assert answer.note == "(Taking this to be about Jane Smith.)"
    assert answer.question == "What did she find encouraging?"  # as asked, not as searched
    assert answerer.ask("What did she find encouraging?").note is None
