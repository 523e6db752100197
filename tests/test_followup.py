"""Follow-up questions in a conversation (followup.py), with the deterministic fake embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustbot.answer import ANSWER_THRESHOLD, FOLLOW_UP_THRESHOLD, Answerer, Decision
from trustbot.config import MAX_QUESTION_CHARS
from trustbot.corpus import parse_article
from trustbot.embed import HashEmbedder
from trustbot.followup import PEOPLE, SHOWN, Conversation, Reading, quoted_person
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
    index = answerer.index
    c = Conversation()
    assert c.read("When did he start?", index) == Reading("When did he start?")  # nothing yet
    c.heard(index, "When did he start?", best(3))  # inside Jane Smith's quotation
    assert c.people == ("Jane Smith",) and c.speakers == ("Jane Smith",)
    assert c.read("What is her job?", index) == Reading(
        "What is her job? (Jane Smith) (When did he start?)",
        "Jane Smith",
        "When did he start?",
    )


def test_a_question_pointing_back_or_saying_little_follows_on_from_the_last(
    answerer: Answerer,
) -> None:
    index = answerer.index
    c = Conversation(previous="Who wrote the external report?")
    reading = c.read("When did it come out?", index)
    assert reading == Reading(
        "When did it come out? (Who wrote the external report?)",
        follows="Who wrote the external report?",
    )
    assert reading.note == "(Taking this as following on from “Who wrote the external report?”.)"
    c.heard(index, "When did it come out?", best(0))
    assert c.read("What progress?", index).follows == "When did it come out?"  # <= 2 content words
    c.heard(index, "What progress?", best(1))
    assert c.read("And why?", index).follows == "What progress?"  # none at all
    asked = "How much money does the trust turn over every year in total?"
    assert c.read(asked, index) == Reading(asked)  # says enough by itself


def test_a_follow_up_in_the_articles_own_words_is_answered_at_a_lower_threshold(
    answerer: Answerer,
) -> None:
    assert FOLLOW_UP_THRESHOLD < ANSWER_THRESHOLD
    c = Conversation(previous="What did the regulator lift?")
    follows = c.read("Why was that lifted?", answerer.index)
    assert follows.follows and answerer._threshold("Why was that lifted?", follows) == (
        FOLLOW_UP_THRESHOLD
    )
    # Its own words are not all the articles': "meal", "son", "cook".
    other = "What meal could my son learn to cook for them?"
    assert c.read(other, answerer.index).follows
    assert answerer._threshold(other, c.read(other, answerer.index)) == ANSWER_THRESHOLD
    # Asked alone, or read only with a person, the threshold is the usual one.
    alone = "Why was that lifted?"
    assert answerer._threshold(alone, None) == ANSWER_THRESHOLD
    assert answerer._threshold(alone, Reading(alone, "Jane Smith")) == ANSWER_THRESHOLD


def test_a_question_about_something_else_does_not_follow_on(answerer: Answerer) -> None:
    # Asked in the middle of a chat about the story, these were answered with a quote about it.
    for q in (
        "Who invented the telephone?",  # few words, none of them in the articles
        "tell me a joke",
        "Is it going to rain this weekend?",  # "it" and "this" point nowhere
        "Is there a helpline for carers?",  # nor does "there"
        "What's on television this week?",
    ):
        c = Conversation(previous="Who runs the trust?")
        assert c.read(q, answerer.index) == Reading(q), q
    c = Conversation(previous="Who runs the trust?")
    assert c.read("Is it true that it was lifted?", answerer.index).follows  # the second "it"


def test_he_or_she_is_the_last_person_quoted_whose_first_name_fits() -> None:
    c = Conversation(people=("Nick Broughton", "Anne Eden"))
    assert c.whom("When did he start?") == "Nick Broughton"
    assert c.whom("What's her job?") == "Anne Eden"  # not the last quoted: "her" is not Nick
    assert c.whom("Did she agree with him?") == "Nick Broughton"  # both: the last quoted
    assert c.whom("What is the trust's turnover?") is None  # no pronoun
    # No one quoted so far fits: the first the last answer's article quotes who does.
    c = Conversation(people=("Nick Broughton",), speakers=("Nick Broughton", "Anne Eden"))
    assert c.whom("Which region does she cover?") == "Anne Eden"
    assert Conversation(people=("Nick Broughton",)).whom("What's her job?") is None
    # A name that says nothing of its gender fits either pronoun.
    assert Conversation(people=("Dr Rishi",)).whom("What's her job?") == "Dr Rishi"


def test_only_a_named_person_and_only_an_answer_is_remembered(answerer: Answerer) -> None:
    c = Conversation()
    c.heard(answerer.index, "What did she say?", best(2, answered=False))  # refused: nothing learnt
    assert c.people == () and c.previous is None
    c.heard(answerer.index, "Who runs the trust?", best(2))  # "Jane Smith, ... said: ..."
    c.heard(answerer.index, "Who said so?", best(1))  # "The regulator said ...": not a name
    c.heard(answerer.index, "What was lifted?", best(0))  # no speaker at all
    assert c.people == ("Jane Smith",) and c.previous == "What was lifted?"
    # A question about something else, refused, is not what the next follow-up follows on from.
    c.heard(answerer.index, "How do I boil an egg?", best(0, answered=False))
    assert c.read("When was that?", answerer.index).follows == "What was lifted?"


def test_a_conversation_remembers_only_the_people_last_quoted(tmp_path: Path) -> None:
    names = [
        f"Ann {surname}" for surname in ("Abbot", "Baker", "Carter", "Dyer", "Ellis", "Fisher")
    ]
    names += [f"Bob {surname}" for surname in ("Gale", "Hale", "Ince", "Jones", "Keane", "Lowe")]
    body = "\n\n".join(f"{name}, a director, said: “We are doing well.”" for name in names)
    emb = HashEmbedder()
    write_index(tmp_path, [parse_article(body, "many")], emb)
    index = load_index(tmp_path, emb)
    c = Conversation()
    for sentence in range(len(names)):
        c.heard(index, "Who spoke?", best(sentence))
    assert len(names) > PEOPLE
    assert c.people == tuple(reversed(names))[:PEOPLE]  # the last quoted first
    assert c.whom("What is his job?") == "Bob Lowe"


def test_questions_that_name_someone_are_searched_as_asked(answerer: Answerer) -> None:
    for q in (
        "When did Smith start?",  # names her
        "What did he say about NHS Improvement?",  # names something itself
        "Did she" + " really" * MAX_QUESTION_CHARS,  # no room left for the name
    ):
        c = Conversation(people=("Jane Smith",), previous="Who runs the trust?")
        assert c.read(q, answerer.index) == Reading(q), q
    c = Conversation(people=("Jane Smith",))
    asked = "Can I ask what she said about the plan?"
    assert c.read(asked, answerer.index).person == "Jane Smith"  # "I" is no name
    note = Reading("q", follows="x" * 2 * SHOWN).note  # a long previous question is cut short
    assert note is not None and note.endswith("x…”.)") and len(note) < 2 * SHOWN


def test_ask_in_a_conversation_says_how_it_read_the_question(answerer: Answerer) -> None:
    c = Conversation(people=("Jane Smith",))
    answer = answerer.ask("What did she find encouraging?", conversation=c)
    assert answer.note == "(Taking this to be about Jane Smith.)"
    assert answer.question == "What did she find encouraging?"  # as asked, not as searched
    # Asked alone, "she" is the woman the best sentence's article quotes (quoted_person).
    alone = answerer.ask("What did she find encouraging?")
    assert alone.note == "(Taking this to be about Jane Smith.)" and alone.answered
    assert "encouraging" in alone.citations[0].text


def test_a_lone_pronoun_is_the_person_the_article_quotes_whose_name_fits(tmp_path: Path) -> None:
    body = (
        "Anne Eden, the regional director, said: “This is progress.”\n\n"
        "Nick Broughton, the chief executive, said: “We have more to do.”"
    )
    emb = HashEmbedder()
    write_index(tmp_path, [parse_article(body, "two")], emb)
    art = load_index(tmp_path, emb).articles[0]
    assert quoted_person("Is he expecting more trouble?", art) == "Nick Broughton"
    assert quoted_person("What did she call it?", art) == "Anne Eden"
    assert quoted_person("What did Broughton say he expects?", art) is None  # names him itself
    assert quoted_person("Can mum get help if she is ill?", art) is None  # she is mum
    assert quoted_person("What was lifted?", art) is None  # no pronoun
