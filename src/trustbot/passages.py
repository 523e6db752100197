"""What is embedded for each sentence: the sentence, with its speaker when it is a quotation.

A quotation that runs over several paragraphs names its speaker once, so "what did the chief
executive say about the culture?" cannot match the third paragraph of his quote by itself. A
quoted sentence is therefore embedded as ``<speaker> said: <sentence>``; the citation is still
the bare sentence cut from the article. Other sentences are embedded as they are.

Measured on the dev sets with the full ranker (scripts/tune_ranker.py, 4-fold cross-validated):
prefixing every sentence with its article's title as well gave the same P@1 (xquad-r dev 0.774
vs 0.771, bundled paraphrases 0.900 vs 0.900) because the ranker's paragraph and article signals
already carry that context, and a long news headline in front of every sentence pulled the
cosines of right answers down (bundled article: 5th percentile 0.22 -> 0.10), which is the
signal abstention relies on. So titles are not embedded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from trustbot.text import Sentence

# The verbs that attribute a quotation to its speaker.
SPEECH_VERBS = (
    "said", "says", "added", "adds", "told", "tells", "explained", "stated", "warned", "insisted",
    "wrote", "writes", "argued", "claimed", "noted", "replied", "admitted", "confirmed",
)  # fmt: skip
# "Nick Broughton, who became chief executive ..., said: “..." -> the part before the verb.
_SPEAKER = re.compile(
    r"^(?P<who>[^“”\"‘’]{2,160}?)(?:,\s*|\s+)(?:" + "|".join(SPEECH_VERBS) + r")\b"
)
_SPEAKER_COLON = re.compile(r"^(?P<who>[^“”\"‘’:]{2,160}):\s*[“\"‘]")


def speaker_phrase(attribution: str) -> str | None:
    """Who an attribution sentence says is speaking (``Anne Eden, regional director ...``)."""
    m = _SPEAKER.match(attribution) or _SPEAKER_COLON.match(attribution)
    return m.group("who").strip(" ,") if m else None


def passage_texts(
    body: str, sentences: Sequence[Sentence], speakers: Sequence[int | None]
) -> list[str]:
    """The text embedded for each sentence: ``[speaker said:] sentence``."""
    return [passage_text(body, sentences, speakers, i) for i in range(len(sentences))]


def passage_text(
    body: str, sentences: Sequence[Sentence], speakers: Sequence[int | None], i: int
) -> str:
    """The text embedded for sentence ``i``: ``[speaker said:] sentence``."""
    s, speaker = sentences[i], speakers[i]
    text = body[s.start : s.end]
    if speaker is None:
        return text
    a = sentences[speaker]
    who = speaker_phrase(body[a.start : a.end])
    return f"{who} said: {text}" if who else text
