"""Follow-up questions in a conversation: "Who runs the trust now?" then "When did he start?".

Asked alone, a follow-up names nothing it is about: "When did he start?", "When was that?",
"Whose deaths?". The cosine of "Does he think the job's done now?" with the sentence that answers
it is 0.23, against 0.51 with the chief executive's name. A ``Conversation`` (one per chat
session, per Telegram user and chat, or per question set with ``trustbot eval --conversation``)
remembers the last question it answered, the people its answers quoted (the named speaker of
each best sentence) and the people the last answer's article quotes. A question that names no
one and says he/she/his/her/him is searched with the name of the last of them whose first name
fits the pronoun (``Conversation.whom``); one that names no one and says it/that/they/there/...
or holds at most two content words is searched with the previous question too: ``<question>
(<person>) (<previous question>)``. The answer still quotes only the articles, and the front
ends say how the question was read.

Measured with ``trustbot eval --conversation`` (docs/quality-history.md, round twelve), right
first sentence, each step on four chat sessions kept unread until its test: the person (conv1-
conv4) 119 of 240 against 100 asked one by one; the previous question as well (conv5, conv10-
conv12) 144 of 240 against 118 with the person alone and 97 one by one. Neither answered more of
the questions no article answers (blind93-blind96 asked in order). A question about something
else in the middle of a chat is not a follow-up (round thirteen): off-topic questions interleaved
in chat sessions of blind93-blind104 answered 12 of 240, not 15, conv13-conv16 unchanged. Nor
does a follow-up follow on from a refused question (round fourteen): only answered questions are
remembered, so "How do I boil an egg?" asked in between does not become what "When was that?"
points back to. Unseen sets (docs/quality-history.md, round fourteen), before and after: mixed
sessions of blind93-blind112 right 897 -> 957 of 1,200; chat sessions conv6-conv9 and
conv13-conv20 413 -> 418 of 720. And "her job" is not the chief executive's (round fourteen):
conv6-conv9 and conv13-conv24 559 -> 591 of 960.

A follow-up read with the previous question, whose own words the articles all hold, is answered
at a lower confidence (``answer.FOLLOW_UP_THRESHOLD``, round twenty-six: chat sessions conv1-conv42
right 1,662 -> 1,719 of 2,520, off-topic and absent questions between their turns answered no
more).

With nothing before it (``trustbot ask``, or first in a chat), "Is he expecting more trouble?" is
about the first man the best sentence's article quotes (``quoted_person``), searched again with
his name (round sixteen): unread paraphrases right 2,370 -> 2,418 of 3,240, chat questions asked
alone 1,014 -> 1,278 of 2,400, absent and off-topic questions answered no more.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trustbot.config import MAX_QUESTION_CHARS
from trustbot.passages import speaker_phrase

if TYPE_CHECKING:
    from trustbot.answer import Decision
    from trustbot.store import LoadedIndex, StoredArticle

# A third-person pronoun for a person, of each gender.
_HE = re.compile(r"\b(?:he|him|his|himself)\b", re.IGNORECASE)
_SHE = re.compile(r"\b(?:she|her|hers|herself)\b", re.IGNORECASE)
# Words that point back at what was just said: "When was that?", "What did it find?".
_POINTS_BACK = re.compile(
    r"\b(?:it|its|that|this|those|these|they|them|their|there|he|him|his|she|her)\b",
    re.IGNORECASE,
)
# Those words where they point nowhere: "this week", "Is there a helpline?", "Is it worth it?".
# Found in chat sessions mixing questions about other things with questions about the story
# (docs/quality-history.md, round thirteen): "Is it going to rain this weekend?" was read as
# following on and answered with a quote about the trust.
_POINTS_NOWHERE = re.compile(
    r"\b(?:this|these)\s+(?:year|week|weekend|month|morning|afternoon|evening|night|autumn"
    r"|winter|spring|summer|time|term|season|days|weeks|months|years)\b"
    r"|\b(?:is|are|was|were|has|have|had|will|would|any)\s+there\b"
    r"|\bthere(?:\s+(?:is|are|was|were|been)|['’]s)\b"
    r"|\b(?:is|was|will|would)\s+it\s+(?:be\s+)?(?:going\s+to|gonna|worth|normal|safe|true|better"
    r"|ok|okay|possible|likely|rain|snow)\b",
    re.IGNORECASE,
)
# A question with this few content words says too little to stand alone ("In what year?"),
# unless the articles hold none of them: "Who invented the telephone?" is about something else.
FEW_TERMS = 2
# A capitalised word after the first ("I" aside): the question names someone or something itself.
_NAMES_SOMEONE = re.compile(r"(?<=\S\s)(?!I\b)[A-Z]")
# A person's name opening a speaker phrase: two or more capitalised words ("Nick Broughton, who
# became chief executive ..."), not "The regulator".
_PERSON = re.compile(r"[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’-]+)+")
# How much of the previous question a reply quotes when it says what it followed on from.
SHOWN = 80
# How many of the people its answers quoted a conversation remembers: a chat of months across a
# large corpus would otherwise keep every name it ever met, and walk them all for each "he".
PEOPLE = 10


@functools.cache
def _first_names() -> Any:
    """gender-guesser's table of first names (about 45,000, from many countries): loaded once,
    on the first pronoun asked about (half a second)."""
    from gender_guesser.detector import Detector

    return Detector(case_sensitive=False)


def _gender(name: str) -> str | None:
    """The gender a word of ``name`` is mostly given to as a first name: "male" or "female",
    else None ("Dr", "Rishi")."""
    for word in name.split():
        guess = _first_names().get_gender(word)
        if guess in ("male", "mostly_male"):
            return "male"
        if guess in ("female", "mostly_female"):
            return "female"
    return None


def _speaker_name(attribution: str) -> str | None:
    """The person's name opening the speaker phrase of ``attribution``, if it names one."""
    found = _PERSON.match(speaker_phrase(attribution) or "")
    return found.group(0) if found else None


# Per loaded article (the same object for as long as its index is loaded): a chat asks of the
# same few articles again and again, and the scan reads every sentence.
@functools.lru_cache(maxsize=64)
def _named_speakers(art: StoredArticle) -> tuple[str, ...]:
    """The people an article quotes by name, in order."""
    names = (_speaker_name(art.text(i)) for i in range(len(art.sentences)))
    return tuple(dict.fromkeys(n for n in names if n))


# Someone of the asker's own before the pronoun: "Can I get a Blue Badge for mum if she has
# dementia?" is about mum, not about a woman the article quotes.
_KIN = re.compile(
    r"\b(?:mum|mom|mummy|mother|dad|daddy|father|son|daughter|wife|husband|partner|brother|sister"
    r"|friend|nan|nana|gran|granny|grandad|grandpa|grandma|grandmother|grandfather|aunt|auntie"
    r"|uncle|cousin|niece|nephew|boyfriend|girlfriend|neighbou?r|kid|baby|child)s?\b",
    re.IGNORECASE,
)


def quoted_person(question: str, art: StoredArticle) -> str | None:
    """Whom a question's "he" or "she" means when nothing before it says: the first person
    ``art`` quotes by name whose first name fits ("Is he expecting more trouble?" of a report
    quoting Anne Eden and then Nick Broughton means Nick Broughton). None if the question names
    someone itself, or someone of the asker's own before the pronoun (``_KIN``)."""
    found = [m.start() for m in (_HE.search(question), _SHE.search(question)) if m]
    if not found or _NAMES_SOMEONE.search(question) or _KIN.search(question, 0, min(found)):
        return None
    return _fitting(question, _named_speakers(art))


def _fitting(question: str, names: Sequence[str]) -> str | None:
    """The first of ``names`` whose first name fits the question's "he" or "she", if it says
    either: not "her" for a Nick."""
    he, she = bool(_HE.search(question)), bool(_SHE.search(question))
    if not (he or she):
        return None
    # Both ("did she answer him?"): the first of them, whoever it is.
    wanted = None if he and she else "male" if he else "female"
    for name in names:
        if wanted is None or _gender(name) in (None, wanted):
            return name
    return None


def lone_reading(question: str, reading: Reading | None, art: StoredArticle) -> Reading | None:
    """How to search ``question`` again when its "he" or "she" has no one behind it in
    ``reading`` (the conversation's, if any): with the name ``quoted_person`` finds in ``art``,
    the best sentence's article. None when there is no one to add or no room for the name."""
    if reading and reading.person:
        return None
    person = quoted_person(question, art)
    if not person:
        return None
    query = f"{reading.query if reading else question} ({person})"
    if len(query) > MAX_QUESTION_CHARS:
        return None
    return Reading(query, person, reading.follows if reading else None)


@dataclass(frozen=True)
class Reading:
    """How a question is searched within a conversation."""

    query: str  # what is searched
    person: str | None = None  # whom its "he" or "she" was taken to be
    follows: str | None = None  # the previous question it was read as following on from

    @property
    def note(self) -> str | None:
        """How the question was read, in words, when it was not searched as asked."""
        after = None
        if self.follows:
            shown = self.follows if len(self.follows) <= SHOWN else self.follows[: SHOWN - 1] + "…"
            after = f"following on from “{shown}”"
        if self.person:
            return f"(Taking this to be about {self.person}{', ' + after if after else ''}.)"
        return f"(Taking this as {after}.)" if after else None


@dataclass
class Conversation:
    """The last question a conversation answered and the people its answers quoted.

    A refused question is not remembered: the next follow-up in the chat is read with the last
    question answered, not with "How do I boil an egg?" asked in between.

    "He" or "she" is the person last quoted whose first name fits the pronoun ("her job" is not
    Nick Broughton's), else the next one, else the first the last answer's article quotes that
    fits (round fourteen: the articles seldom say "he" or "she" of anyone, and learning it from
    the user's own pronouns was tried: one wrong guess early in blind89 then sent every later
    "he" to the wrong person)."""

    # The people the answers quoted by name, the last first (at most ``PEOPLE``).
    people: tuple[str, ...] = ()
    previous: str | None = None
    # The people the last answer's article quotes by name.
    speakers: tuple[str, ...] = ()

    def whom(self, question: str) -> str | None:
        """Whom the question's "he" or "she" means, if anyone: not "her" for a Nick."""
        others = [s for s in self.speakers if s not in self.people]
        return _fitting(question, (*self.people, *others))

    def read(self, question: str, index: LoadedIndex) -> Reading:
        """How ``question`` is searched in ``index``, given what came before."""
        from trustbot.retrieve import content_terms, holds_any_term

        if _NAMES_SOMEONE.search(question):
            return Reading(question)
        query, follows = question, None
        person = self.whom(question)
        if person:
            query = f"{query} ({person})"
        if self.previous and (
            _POINTS_BACK.search(_POINTS_NOWHERE.sub(" ", question))
            or (len(content_terms(question)) <= FEW_TERMS and holds_any_term(index, question))
        ):
            query, follows = f"{query} ({self.previous})", self.previous
        if len(query) > MAX_QUESTION_CHARS:
            return Reading(question)
        return Reading(query, person, follows)

    def heard(self, index: LoadedIndex, question: str, decision: Decision) -> None:
        """Remember an answered question, the named speaker of its best sentence and the people
        its article quotes."""
        if not decision.answered or not decision.retrieval.hits:
            return
        self.previous = question
        art, si = index.sentence(decision.retrieval.hits[0].row)
        speaker = art.speakers[si]
        name = _speaker_name(art.text(si if speaker is None else speaker))
        if name:
            self.people = (name, *(p for p in self.people if p != name))[:PEOPLE]
        self.speakers = _named_speakers(art)
