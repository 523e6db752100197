"""Paragraphs, sentences with offsets, and quote continuation (trustbot.text)."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustbot.text import Sentence, quote_speakers, split_paragraphs, split_sentences


def texts(body: str) -> list[str]:
    return [body[s.start : s.end] for s in split_sentences(body)]


def check_invariants(body: str) -> list[Sentence]:
    """The contract every caller relies on: offsets cut the exact, complete text."""
    sentences = split_sentences(body)
    prev_end = 0
    for i, s in enumerate(sentences):
        assert s.index == i
        assert prev_end <= s.start < s.end <= len(body)
        text = body[s.start : s.end]
        assert text == text.strip(), repr(text)
        # A blank line (a line holding only whitespace) always separates paragraphs.
        assert re.search(r"\n[^\S\n]*\n", text) is None, repr(text)
        prev_end = s.end
    got = "".join("".join(body[s.start : s.end].split()) for s in sentences)
    assert got == "".join(body.split())
    paragraphs = [s.paragraph for s in sentences]
    assert paragraphs == sorted(paragraphs)
    spans = split_paragraphs(body)
    for s in sentences:
        p_start, p_end = spans[s.paragraph]
        assert p_start <= s.start and s.end <= p_end
    return sentences


# --- the seed article, embedded so the test does not depend on files outside the repo -----------

SEED = (
    "NHS Improvement has lifted several “regulatory undertakings” at one of England’s largest"
    " community and mental health trusts.\n\n"
    "The regulator said Southern Health Foundation Trust is making “encouraging progress” in"
    " response to the Mazars report in 2016 which claimed there were serious failings in the way"
    " the trust investigated the deaths of vulnerable patients.\n\n"
    "Anne Eden, regional director of the south east for NHS Impovement, said: “This is encouraging"
    " progress which represents improvements in services for local patients.”\n\n"
    "Nick Broughton, who became chief executive of the trust last autumn, said: “The audit findings"
    " published at the beginning of the year were very encouraging.\n\n"
    "“NHSI’s actions today reinforce these findings and demonstrate that Southern Health is making"
    " genuine progress in changing the culture of the organisation to one that continuously"
    " improves and learns.\n\n"
    "“We know we still have more to do and there will be further challenges ahead, but I firmly"
    " believe we are well on our way to creating an organisation that our patients and their"
    " families deserve.”\n\n"
    "The trust remains subject to some regulatory undertakings, which relate to continuing to"
    " deliver improvements in areas highlighted by the Care Quality Commission after their 2016"
    " inspection: engagement with patients and staff, and governance. \n\n"
    "Southern Health, which is rated as requires improvement, is one of England’s largest community"
    " and mental health trusts with an annual turnover of around £320m."
)


def test_seed_one_sentence_per_paragraph() -> None:
    sentences = check_invariants(SEED)
    assert len(sentences) == 8
    assert [s.paragraph for s in sentences] == list(range(8))
    assert texts(SEED)[6].endswith("and governance.")
    assert texts(SEED)[7].endswith("around £320m.")


def test_seed_quote_speakers() -> None:
    sentences = split_sentences(SEED)
    speakers = quote_speakers(SEED, sentences)
    broughton = next(s.index for s in sentences if SEED[s.start :].startswith("Nick Broughton"))
    anne = next(s.index for s in sentences if SEED[s.start :].startswith("Anne Eden"))
    assert speakers[broughton] is None
    assert speakers[anne] is None
    assert speakers[broughton + 1] == broughton
    assert speakers[broughton + 2] == broughton
    others = set(range(len(sentences))) - {broughton + 1, broughton + 2}
    assert all(speakers[i] is None for i in others)


def test_seed_file_if_present() -> None:
    from pathlib import Path

    path = Path(__file__).parents[1] / "corpus" / "southern-health.txt"
    if not path.exists():
        pytest.skip("corpus/southern-health.txt not present")
    body = path.read_text(encoding="utf-8")
    sentences = check_invariants(body)
    speakers = quote_speakers(body, sentences)
    assert len([x for x in speakers if x is not None]) == 2


def test_seed_is_fast() -> None:
    split_sentences("Warm up the segmenter.")
    started = time.perf_counter()
    split_sentences(SEED)
    assert time.perf_counter() - started < 0.05


def test_thousand_paragraphs_is_fast() -> None:
    paragraph = (
        "Dr. Smith said the U.S. figure was $4.5bn, up 6.5% on last year. "
        "“We waited... and waited,” he said. Nobody came."
    )
    body = "\n\n".join([paragraph] * 1000)
    split_sentences("Warm up the segmenter.")
    started = time.perf_counter()
    sentences = split_sentences(body)
    assert time.perf_counter() - started < 2.0
    assert len(sentences) == 3000


# --- paragraphs ---------------------------------------------------------------------------------


def test_paragraphs_trimmed_and_blank_lines_with_spaces() -> None:
    body = "  First para.\nstill first.  \n \t \n\n\nSecond.\r\n\r\nThird  \n   "
    spans = split_paragraphs(body)
    assert [body[a:b] for a, b in spans] == ["First para.\nstill first.", "Second.", "Third"]


def test_paragraphs_empty_and_whitespace_only() -> None:
    assert split_paragraphs("") == []
    assert split_paragraphs(" \n\n \n") == []
    assert split_sentences("") == []
    assert split_sentences("\n \n\t") == []


# --- sentences ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "He said: “It was good.” Then he left.",
            ["He said: “It was good.”", "Then he left."],
            id="curly-double-quote-end",
        ),
        pytest.param(
            'He said: "It was good." Then he left.',
            ['He said: "It was good."', "Then he left."],
            id="straight-double-quote-end",
        ),
        pytest.param(
            "She said: ‘It was good.’ Then she left.",
            ["She said: ‘It was good.’", "Then she left."],
            id="curly-single-quote-end",
        ),
        pytest.param(
            "He shouted ‘Stop!’ They stopped. She asked ‘Why?’ Nobody knew.",
            ["He shouted ‘Stop!’", "They stopped.", "She asked ‘Why?’", "Nobody knew."],
            id="curly-single-bang-question",
        ),
        pytest.param(
            "The players’ union met. Then more came.",
            ["The players’ union met.", "Then more came."],
            id="apostrophe-not-a-quote",
        ),
        pytest.param(
            "He said: 'It was good.' Then he left.",
            ["He said: 'It was good.'", "Then he left."],
            id="straight-single-quote-end",
        ),
        pytest.param(
            "“What?” he asked. “Nothing,” she said.",
            ["“What?” he asked.", "“Nothing,” she said."],
            id="question-inside-quote-then-lowercase",
        ),
        pytest.param(
            "“This is it,” he said. “We go now.”",
            ["“This is it,” he said.", "“We go now.”"],
            id="quote-said-quote",
        ),
        pytest.param(
            "It was good.” He left.",
            ["It was good.”", "He left."],
            id="closing-quote-not-split-off",
        ),
        pytest.param(
            "Hello!” he said.",
            ["Hello!” he said."],
            id="closing-quote-then-lowercase",
        ),
        pytest.param(
            "Dr. Smith met the U.S. government. J. Smith agreed. Mr. and Mrs. Jones live on"
            " St. Mary's Road.",
            [
                "Dr. Smith met the U.S. government.",
                "J. Smith agreed.",
                "Mr. and Mrs. Jones live on St. Mary's Road.",
            ],
            id="titles-initials",
        ),
        pytest.param(
            "The report by J. Smith was published. It was written by A. B. Jones. He agreed.",
            [
                "The report by J. Smith was published.",
                "It was written by A. B. Jones.",
                "He agreed.",
            ],
            id="initials",
        ),
        pytest.param(
            "Use e.g. apples, i.e. fruit. We met at 10 a.m. and left at 5 p.m. The next day we"
            " rested.",
            [
                "Use e.g. apples, i.e. fruit.",
                "We met at 10 a.m. and left at 5 p.m.",
                "The next day we rested.",
            ],
            id="eg-ie-am-pm",
        ),
        pytest.param(
            "He lives at No. 10 Downing Street. It was Jan. 5 when it happened. Call No. 10 now.",
            [
                "He lives at No. 10 Downing Street.",
                "It was Jan. 5 when it happened.",
                "Call No. 10 now.",
            ],
            id="no-10-jan-5",
        ),
        pytest.param(
            "It was approx. 5 km. Done.",
            ["It was approx. 5 km.", "Done."],
            id="abbreviation-before-number",
        ),
        pytest.param(
            "U.S. President Joe Biden said so. The U.K. economy grew. The U.S. did too.",
            ["U.S. President Joe Biden said so.", "The U.K. economy grew.", "The U.S. did too."],
            id="us-uk",
        ),
        pytest.param(
            "The trust has £320m. It spent $4.5bn. Growth was 6.5%. There were 1,200 staff.",
            [
                "The trust has £320m.",
                "It spent $4.5bn.",
                "Growth was 6.5%.",
                "There were 1,200 staff.",
            ],
            id="amounts",
        ),
        pytest.param(
            "Pi is 3.14 roughly. It rose 6.5 per cent. OK.",
            ["Pi is 3.14 roughly.", "It rose 6.5 per cent.", "OK."],
            id="decimals",
        ),
        pytest.param(
            "“We waited... and waited.” Then we left.",
            ["“We waited... and waited.”", "Then we left."],
            id="ellipsis-dots",
        ),
        pytest.param(
            "“We waited… and waited.” Then we left…",
            ["“We waited… and waited.”", "Then we left…"],
            id="ellipsis-char",
        ),
        pytest.param("“…”", ["“…”"], id="ellipsis-only-quote"),
        pytest.param(
            "She arrived at 10 a.m. The meeting began.",
            ["She arrived at 10 a.m.", "The meeting began."],
            id="am-ends-sentence",
        ),
        pytest.param(
            "He was born in the U.S. He moved.",
            ["He was born in the U.S.", "He moved."],
            id="us-ends-sentence",
        ),
        pytest.param(
            "He said: “We are pleased. We will go on.” Then he left.",
            ["He said: “We are pleased.", "We will go on.”", "Then he left."],
            id="sentences-inside-closed-quote",
        ),
        pytest.param(
            "“We will fix it. It will take time,” he said.",
            ["“We will fix it.", "It will take time,” he said."],
            id="sentences-inside-quote-trailing-said",
        ),
        pytest.param(
            "“Because,” she replied, “it is late.” He asked: “Why?” Nobody answered.",
            ["“Because,” she replied, “it is late.”", "He asked: “Why?”", "Nobody answered."],
            id="interrupted-quote",
        ),
        pytest.param(
            "The company (Acme Ltd.) said profits rose. Wait… what?",
            ["The company (Acme Ltd.) said profits rose.", "Wait… what?"],
            id="abbreviation-in-brackets-ellipsis-lowercase",
        ),
        pytest.param("Breaking news headline", ["Breaking news headline"], id="headline"),
        pytest.param(
            "Hello world.   Next sentence.",
            ["Hello world.", "Next sentence."],
            id="extra-spaces",
        ),
        pytest.param(
            "Yes. Yes. Yes.",
            ["Yes.", "Yes.", "Yes."],
            id="repeated-sentences",
        ),
        pytest.param(
            "Key points:\n- item one\n- item two\n* item three\n1. item four\n2) item five",
            [
                "Key points:",
                "- item one",
                "- item two",
                "* item three",
                "1. item four",
                "2) item five",
            ],
            id="no-final-punctuation-list-items",
        ),
        pytest.param(
            "Trust lifts undertakings\n\nThe regulator said so. It was good",
            ["Trust lifts undertakings", "The regulator said so.", "It was good"],
            id="headline-paragraph-then-text",
        ),
        pytest.param(
            "# Trust lifts undertakings\nThe regulator said so.",
            ["# Trust lifts undertakings", "The regulator said so."],
            id="markdown-heading-line",
        ),
        pytest.param(
            "The regulator said Southern Health\nFoundation Trust is making progress, said Dr.\n"
            "Smith. It was\ngood.",
            [
                "The regulator said Southern Health\nFoundation Trust is making progress, said"
                " Dr.\nSmith.",
                "It was\ngood.",
            ],
            id="hard-wrapped-lines-are-one-sentence",
        ),
        pytest.param(
            "The first line ends here.\nThe second starts here.",
            ["The first line ends here.", "The second starts here."],
            id="line-ending-in-full-stop-still-splits",
        ),
    ],
)
def test_sentences(body: str, expected: list[str]) -> None:
    check_invariants(body)
    assert texts(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "He worked for the U.S.\n\nShe worked for Acme Inc.\n\nThen she met Dr. Jones.",
            [
                ("He worked for the U.S.", 0),
                ("She worked for Acme Inc.", 1),
                ("Then she met Dr. Jones.", 2),
            ],
            id="abbreviation-at-paragraph-end",
        ),
        pytest.param(
            "Nick Broughton said: “The audit findings were very encouraging. We are pleased.\n\n"
            "“NHSI’s actions today reinforce these findings.\n\n"
            "“We know we still have more to do.” The trust said nothing.",
            [
                ("Nick Broughton said: “The audit findings were very encouraging.", 0),
                ("We are pleased.", 0),
                ("“NHSI’s actions today reinforce these findings.", 1),
                ("“We know we still have more to do.”", 2),
                ("The trust said nothing.", 2),
            ],
            id="quote-over-several-paragraphs",
        ),
        pytest.param(
            "First one.\r\nSecond\u00a0one.\r\n\r\n\tThird\u2003one. ",
            [("First one.", 0), ("Second\u00a0one.", 0), ("Third\u2003one.", 1)],
            id="crlf-and-odd-whitespace",
        ),
        pytest.param(
            "\n\n  Intro line.\n\nDr. Smith said: “Yes.” Then left.  ",
            [("Intro line.", 0), ("Dr. Smith said: “Yes.”", 1), ("Then left.", 1)],
            id="offsets-are-into-the-whole-body",
        ),
    ],
)
def test_sentences_and_their_paragraphs(body: str, expected: list[tuple[str, int]]) -> None:
    # check_invariants also asserts each sentence's index is its position, and that the offsets
    # cut the text out of the whole body (leading blank lines included).
    sentences = check_invariants(body)
    assert [(body[s.start : s.end], s.paragraph) for s in sentences] == expected


def test_sentence_is_frozen() -> None:
    s = Sentence(index=0, start=0, end=3, paragraph=0)
    with pytest.raises(AttributeError):
        s.start = 1  # type: ignore[misc]


# --- quote_speakers -----------------------------------------------------------------------------


def speakers_by_text(body: str) -> list[tuple[str, str | None]]:
    sentences = split_sentences(body)
    speakers = quote_speakers(body, sentences)
    by_index = {s.index: body[s.start : s.end] for s in sentences}
    return [
        (by_index[s.index], None if who is None else by_index[who])
        for s, who in zip(sentences, speakers, strict=True)
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "The chief executive said: “We are pleased. We will go on.\n\n"
            "“There is more to do.” The board agreed.\n\n"
            "“This is a new quote.”",
            [
                ("The chief executive said: “We are pleased.", None),
                ("We will go on.", "The chief executive said: “We are pleased."),
                ("“There is more to do.”", "The chief executive said: “We are pleased."),
                ("The board agreed.", None),
                ("“This is a new quote.”", None),
            ],
            id="colon-quote-continues-in-paragraph-and-next",
        ),
        pytest.param(
            "Smith told the BBC “it was fine. We are happy.\n\n“Really happy.”",
            [
                ("Smith told the BBC “it was fine.", None),
                ("We are happy.", "Smith told the BBC “it was fine."),
                ("“Really happy.”", "Smith told the BBC “it was fine."),
            ],
            id="speaker-without-colon",
        ),
        pytest.param(
            "According to the report, “the trust failed. It must improve.”",
            [
                ("According to the report, “the trust failed.", None),
                ("It must improve.”", "According to the report, “the trust failed."),
            ],
            id="according-to",
        ),
        pytest.param(
            "“We will fix it. It will take time,” he said. “We start now.”\n\nThe end.",
            [
                ("“We will fix it.", "It will take time,” he said."),
                ("It will take time,” he said.", None),
                ("“We start now.”", "It will take time,” he said."),
                ("The end.", None),
            ],
            id="trailing-attribution",
        ),
        pytest.param(
            "“We will fix it.\n\n“It will take time,” said Dr. Jones.",
            [
                ("“We will fix it.", "“It will take time,” said Dr. Jones."),
                ("“It will take time,” said Dr. Jones.", None),
            ],
            id="trailing-attribution-across-paragraphs",
        ),
        pytest.param(
            "She said: “That is all.”\n\n“A different person speaks.”",
            [("She said: “That is all.”", None), ("“A different person speaks.”", None)],
            id="closed-quote-does-not-continue",
        ),
        pytest.param(
            'He said: "We are pleased.\n\n"More to do."',
            [('He said: "We are pleased.', None), ('"More to do."', 'He said: "We are pleased.')],
            id="straight-quotes-continue",
        ),
    ],
)
def test_quote_speakers(body: str, expected: list[tuple[str, str | None]]) -> None:
    assert speakers_by_text(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "He said: “We are pleased.\n\nThe board met later.\n\n“Something else.”",
            [None, None, None],
            id="open-quote-interrupted-by-narrative-paragraph",
        ),
        pytest.param(
            "Plain text. More plain text: with a colon.\n\nAnother paragraph.",
            [None, None, None],
            id="no-quotes",
        ),
        pytest.param("", [], id="empty"),
    ],
)
def test_no_speaker(body: str, expected: list[None]) -> None:
    assert quote_speakers(body, split_sentences(body)) == expected


# --- properties ---------------------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "the", "trust", "said", "Smith", "NHS", "report", "it", "was", "good", "and", "we",
        "Dr.", "Mr.", "Mrs.", "St.", "U.S.", "U.K.", "e.g.", "i.e.", "a.m.", "p.m.", "No.",
        "Jan.", "J.", "Inc.", "etc.", "approx.", "vs.", "£320m", "$4.5bn", "6.5%", "1,200",
        "3.14", "2016", "10", "players’", "don’t", "it's", "...", "…", "-", "—", "(", ")",
    ]
)  # fmt: skip
PUNCT = st.sampled_from(
    [".", "!", "?", "…", ",", ";", ":", "“", "”", "‘", "’", '"', "'", ".”", "?”", ".’", "..."]
)
SPACE = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", "\n \n", "\r\n", "\t", "\u00a0"])


@st.composite
def news_like(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(WORDS, PUNCT, SPACE, WORDS), min_size=0, max_size=60))
    return "".join(parts)


@st.composite
def sentence_soup(draw: st.DrawFn) -> str:
    # Words separated by single spaces, with punctuation glued on like real prose.
    out: list[str] = []
    for _ in range(draw(st.integers(0, 30))):
        token = draw(WORDS)
        if draw(st.booleans()):
            token = draw(st.sampled_from(["“", "‘", '"', ""])) + token
        if draw(st.booleans()):
            token += draw(PUNCT)
        out.append(token)
        out.append(draw(SPACE))
    return "".join(out)


PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(news_like())
def test_property_news_like(body: str) -> None:
    sentences = check_invariants(body)
    assert len(quote_speakers(body, sentences)) == len(sentences)


@PROPERTY
@given(sentence_soup())
def test_property_sentence_soup(body: str) -> None:
    sentences = check_invariants(body)
    speakers = quote_speakers(body, sentences)
    for i, who in enumerate(speakers):
        assert who is None or (0 <= who < len(sentences) and who != i)


@PROPERTY
@given(st.text(max_size=200))
def test_property_raw_text(body: str) -> None:
    sentences = check_invariants(body)
    assert len(quote_speakers(body, sentences)) == len(sentences)


@PROPERTY
@given(st.text(alphabet=st.sampled_from(list("ab .!?…“”‘’\"'\n\r\t:;,")), max_size=80))
def test_property_punctuation_heavy(body: str) -> None:
    check_invariants(body)
