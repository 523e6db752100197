"""Follow-up questions in a conversation: "Who runs the trust now?" then "When did he start?".

Asked alone, "When did he start?" names nobody, so nothing ties it to the chief executive: the
cosine of "Does he think the job's done now?" with the sentence that answers it is 0.23, against
0.51 with his name. A ``Conversation`` (one per chat session, per Telegram user and chat, or per
question set with ``trustbot eval --conversation``) remembers the person its last answer quoted:
the named speaker of the best sentence. A later question that says he/she/his/her/him and names no
one is searched as ``<question> (<person>)``; the answer still quotes only the articles, and the
front ends say whom the question was taken to be about.

Measured with ``trustbot eval --conversation`` (docs/quality-history.md, round twelve), right
first sentence: on four chat sessions written for it and kept unread until then (conv1-conv4),
119 of 240 against 100 asked one by one; blind89, a radio listener whose questions follow on from
each other, 27 of 60 against 22; every read bundled set asked in order, 4,512 of 5,694 against
4,472, and no more unanswerable questions answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trustbot.config import MAX_QUESTION_CHARS
from trustbot.passages import speaker_phrase

if TYPE_CHECKING:
    from trustbot.answer import Decision
    from trustbot.store import LoadedIndex

# A third-person pronoun for a person ("it" and "they" are as often the trust or the report).
_PRONOUN = re.compile(r"\b(?:he|him|his|himself|she|her|hers|herself)\b", re.IGNORECASE)
# A capitalised word after the first ("I" aside): the question names someone or something itself.
_NAMES_SOMEONE = re.compile(r"(?<=\S\s)(?!I\b)[A-Z]")
# A person's name opening a speaker phrase: two or more capitalised words ("Nick Broughton, who
# became chief executive ..."), not "The regulator".
_PERSON = re.compile(r"[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’-]+)+")


@dataclass
class Conversation:
    """Whom a conversation's last answer about a person quoted.

    Whether that person is a "he" or a "she" the articles seldom say, so a follow-up's pronoun is
    not checked against it (learning it from the user's own pronouns was tried: one wrong guess
    early in blind89 then sent every later "he" to the wrong person)."""

    person: str | None = None

    def read(self, question: str) -> tuple[str, str | None]:
        """The question as it is searched, and the person a pronoun in it was taken to be (None
        when it is searched as asked)."""
        if (
            self.person
            and _PRONOUN.search(question)
            and not _NAMES_SOMEONE.search(question)
            and len(question) + len(self.person) + 3 <= MAX_QUESTION_CHARS
        ):
            return f"{question} ({self.person})", self.person
        return question, None

    def heard(self, index: LoadedIndex, decision: Decision) -> None:
        """Remember the named speaker of the best sentence of an answered question."""
        if not decision.answered or not decision.retrieval.hits:
            return
        art, si = index.sentence(decision.retrieval.hits[0].row)
        speaker = art.speakers[si]
        who = speaker_phrase(art.text(si if speaker is None else speaker)) or ""
        found = _PERSON.match(who)
        if found:
            self.person = found.group(0)
