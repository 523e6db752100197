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
    ],
)
def test_sentences(body: str, expected: list[str]) -> None:
    check_invariants(body)
    assert texts(body) == expected


def test_abbreviation_at_paragraph_end() -> None:
    body = "He worked for the U.S.\n\nShe worked for Acme Inc.\n\nThen she met Dr. Jones."
    sentences = check_invariants(body)
    assert texts(body) == [
        "He worked for the U.S.",
        "She worked for Acme Inc.",
        "Then she met Dr. Jones.",
    ]
    assert [s.paragraph for s in sentences] == [0, 1, 2]


def test_quote_over_several_paragraphs() -> None:
    body = (
        "Nick Broughton said: “The audit findings were very encouraging. We are pleased.\n\n"
        "“NHSI’s actions today reinforce these findings.\n\n"
        "“We know we still have more to do.” The trust said nothing."
    )
    assert texts(body) == [
        "Nick Broughton said: “The audit findings were very encouraging.",
        "We are pleased.",
        "“NHSI’s actions today reinforce these findings.",
        "“We know we still have more to do.”",
        "The trust said nothing.",
    ]
    assert [s.paragraph for s in split_sentences(body)] == [0, 0, 1, 2, 2]


def test_no_final_punctuation_list_items() -> None:
    body = "Key points:\n- item one\n- item two\n* item three\n1. item four\n2) item five"
    assert texts(body) == [
        "Key points:",
        "- item one",
        "- item two",
        "* item three",
        "1. item four",
        "2) item five",
    ]


def test_headline_paragraph_then_text() -> None:
    body = "Trust lifts undertakings\n\nThe regulator said so. It was good"
    assert texts(body) == ["Trust lifts undertakings", "The regulator said so.", "It was good"]


def test_markdown_heading_line() -> None:
    body = "# Trust lifts undertakings\nThe regulator said so."
    assert texts(body) == ["# Trust lifts undertakings", "The regulator said so."]


def test_hard_wrapped_lines_are_one_sentence() -> None:
    body = (
        "The regulator said Southern Health\nFoundation Trust is making progress, said Dr.\n"
        "Smith. It was\ngood."
    )
    assert texts(body) == [
        "The regulator said Southern Health\nFoundation Trust is making progress, said Dr.\nSmith.",
        "It was\ngood.",
    ]


def test_line_ending_in_full_stop_still_splits() -> None:
    body = "The first line ends here.\nThe second starts here."
    assert texts(body) == ["The first line ends here.", "The second starts here."]


def test_crlf_and_odd_whitespace() -> None:
    body = "First one.\r\nSecond\u00a0one.\r\n\r\n\tThird\u2003one. "
    check_invariants(body)
    assert texts(body) == ["First one.", "Second\u00a0one.", "Third\u2003one."]
    assert [s.paragraph for s in split_sentences(body)] == [0, 0, 1]


def test_offsets_are_into_the_whole_body() -> None:
    body = "\n\n  Intro line.\n\nDr. Smith said: “Yes.” Then left.  "
    sentences = split_sentences(body)
    assert [(body[s.start : s.end], s.paragraph, s.index) for s in sentences] == [
        ("Intro line.", 0, 0),
        ("Dr. Smith said: “Yes.”", 1, 1),
        ("Then left.", 1, 2),
    ]


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


def test_speaker_colon_quote_continues_in_paragraph_and_next() -> None:
    body = (
        "The chief executive said: “We are pleased. We will go on.\n\n"
        "“There is more to do.” The board agreed.\n\n"
        "“This is a new quote.”"
    )
    head = "The chief executive said: “We are pleased."
    assert speakers_by_text(body) == [
        (head, None),
        ("We will go on.", head),
        ("“There is more to do.”", head),
        ("The board agreed.", None),
        ("“This is a new quote.”", None),
    ]


def test_speaker_without_colon() -> None:
    body = "Smith told the BBC “it was fine. We are happy.\n\n“Really happy.”"
    head = "Smith told the BBC “it was fine."
    assert speakers_by_text(body) == [
        (head, None),
        ("We are happy.", head),
        ("“Really happy.”", head),
    ]


def test_according_to() -> None:
    body = "According to the report, “the trust failed. It must improve.”"
    head = "According to the report, “the trust failed."
    assert speakers_by_text(body) == [(head, None), ("It must improve.”", head)]


def test_trailing_attribution() -> None:
    body = "“We will fix it. It will take time,” he said. “We start now.”\n\nThe end."
    tail = "It will take time,” he said."
    assert speakers_by_text(body) == [
        ("“We will fix it.", tail),
        (tail, None),
        ("“We start now.”", tail),
        ("The end.", None),
    ]


def test_trailing_attribution_across_paragraphs() -> None:
    body = "“We will fix it.\n\n“It will take time,” said Dr. Jones."
    tail = "“It will take time,” said Dr. Jones."
    assert speakers_by_text(body) == [("“We will fix it.", tail), (tail, None)]


def test_closed_quote_does_not_continue() -> None:
    body = "She said: “That is all.”\n\n“A different person speaks.”"
    assert speakers_by_text(body) == [
        ("She said: “That is all.”", None),
        ("“A different person speaks.”", None),
    ]


def test_open_quote_interrupted_by_narrative_paragraph() -> None:
    body = "He said: “We are pleased.\n\nThe board met later.\n\n“Something else.”"
    assert [who for _, who in speakers_by_text(body)] == [None, None, None]


def test_no_quotes_all_none() -> None:
    body = "Plain text. More plain text: with a colon.\n\nAnother paragraph."
    assert quote_speakers(body, split_sentences(body)) == [None, None, None]


def test_quote_speakers_empty() -> None:
    assert quote_speakers("", []) == []


def test_straight_quotes_continue() -> None:
    body = 'He said: "We are pleased.\n\n"More to do."'
    head = 'He said: "We are pleased.'
    assert speakers_by_text(body) == [(head, None), ('"More to do."', head)]


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
