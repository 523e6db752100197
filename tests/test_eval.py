"""``trustbot eval`` without the model: the shared/eval hit rule, question-set reading, metrics,
the trade-off curve, the report, and bad input through the real CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from trustbot.errors import BadInput
from trustbot.evaluate import (
    EvalQuestion,
    QuestionResult,
    Report,
    format_report,
    is_evidence,
    is_hit,
    metrics,
    read_questions,
    tradeoff,
)

from .conftest import trustbot

EVIDENCE = "The Panthers defense gave up just 308 points, ranking sixth in the league."


def question(answer: str | None = "308", evidence: str | None = EVIDENCE) -> EvalQuestion:
    return EvalQuestion("How many points?", answer, evidence, "super-bowl-50", "q.jsonl:1")


def test_hit_needs_the_answer_and_the_evidence_sentence() -> None:
    q = question()
    assert is_hit(EVIDENCE, q)
    # Matching ignores case and runs of whitespace.
    assert is_hit(EVIDENCE.upper().replace(" ", "  "), q)
    # The answer alone is not enough: another sentence holding "308" is not the evidence.
    assert not is_hit("Route 308 runs north of the city to the coast.", q)
    # The evidence without the answer is not a hit either.
    assert not is_hit("The Panthers defense gave up just a few points.", question("311"))


def test_evidence_matches_by_containment_or_shared_words() -> None:
    # Our segmenter may cut differently: one containing the other counts.
    assert is_evidence("The Panthers defense gave up just 308 points,", EVIDENCE)
    assert is_evidence(EVIDENCE + " They also led the NFL.", EVIDENCE)
    # Half of the words of each shared: the same sentence with a few words changed.
    reworded = "The Panthers defense gave up only 308 points, ranking sixth in the NFL."
    assert is_evidence(reworded, EVIDENCE)
    assert not is_evidence("The Broncos scored 308 points in total.", EVIDENCE)


def test_no_evidence_means_the_answer_is_enough_and_no_answer_is_never_a_hit() -> None:
    assert is_hit("They scored 308 points.", question(evidence=None))
    assert not is_hit(EVIDENCE, question(answer=None, evidence=None))


def test_read_questions(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    rows = [
        {"question": "Q1?", "answer": "a", "evidence": "e", "article": "x"},
        {"question": "Q2?", "answer": None, "evidence": None, "article": "y"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    qs = read_questions(path)
    assert [q.question for q in qs] == ["Q1?", "Q2?"]
    assert qs[1].answer is None and qs[1].source == f"{path}:2"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        ('{"answer": "a", "article": "x"}', '"question" must be a non-empty string'),
        ('{"question": " ", "article": "x"}', '"question" must be a non-empty string'),
        ('{"question": "Q?", "answer": 3, "article": "x"}', '"answer" must be a string or null'),
        ('{"question": "Q?", "answer": "a"}', '"article" must be the article id'),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "Fine?", "answer": null, "article": "x"}\n' + line + "\n")
    with pytest.raises(BadInput, match=message) as err:
        read_questions(path)
    assert f"{path}:2" in str(err.value)


def test_empty_and_unreadable_sets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(BadInput, match="holds no questions"):
        read_questions(empty)
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(BadInput, match="not UTF-8"):
        read_questions(binary)


def result(
    rank: int | None, answered: bool, confidence: float, answerable: bool = True
) -> QuestionResult:
    return QuestionResult(question(), answerable, answered, confidence, rank, "first", 0.002)


def test_metrics() -> None:
    results = [
        result(1, True, 0.9),
        result(2, True, 0.6),
        result(None, False, 0.1),
        result(7, True, 0.5),
        result(None, False, 0.2, answerable=False),
        result(None, True, 0.8, answerable=False),
    ]
    m = metrics("set", results)
    assert (m.questions, m.answerable, m.unanswerable) == (6, 4, 2)
    assert m.p_at_1 == pytest.approx(1 / 4)
    assert m.r_at_5 == pytest.approx(2 / 4)
    assert m.mrr_at_10 == pytest.approx((1 + 1 / 2 + 0 + 1 / 7) / 4)
    assert m.answer_rate == pytest.approx(3 / 4)
    assert m.answered_right == pytest.approx(1 / 4)
    assert m.abstain_rate == pytest.approx(1 / 2)
    # Four answered: one right first sentence, two wrong ones, one answer to an unanswerable one.
    assert m.precision == pytest.approx(1 / 4)
    assert m.mean_ms == pytest.approx(2.0)
    only_unanswerable = metrics("neg", results[4:])
    assert only_unanswerable.p_at_1 is None and only_unanswerable.answer_rate is None
    assert only_unanswerable.precision == 0.0
    assert metrics("none answered", [results[2]]).precision is None


def test_metrics_count_the_refusals_that_named_stories() -> None:
    own = question().article
    results = [
        result(1, True, 0.9),
        dataclasses.replace(result(None, False, 0.1), stories=(own, "other")),
        dataclasses.replace(result(None, False, 0.1), stories=("other",)),
        result(None, False, 0.02),
    ]
    m = metrics("set", results)
    assert (m.refused, m.refused_named, m.named_own_article) == (3, 2, 1)
    text = format_report(Report([m], m, tradeoff(results), 0.25, results))
    assert (
        "stories: 2 of the 3 questions not answered named the stories that came closest, 1 with "
        "the question's own article among them." in text
    )
    assert "stories:" not in format_report(Report([m], metrics("x", results[:1]), [], 0.25, []))


def test_tradeoff_moves_from_answering_everything_to_abstaining_on_everything() -> None:
    results = [result(1, True, c) for c in (0.15, 0.55, 0.95)] + [
        result(None, False, c, answerable=False) for c in (0.05, 0.35)
    ]
    curve = tradeoff(results, steps=10)
    assert [p.threshold for p in curve] == pytest.approx([i / 10 for i in range(11)])
    assert (curve[0].answer_rate, curve[0].abstain_rate) == (1.0, 0.0)
    assert curve[4].answer_rate == pytest.approx(2 / 3) and curve[4].abstain_rate == 1.0
    # At 0.3 the unanswerable question at 0.35 is still answered: 2 of 3 answers right.
    assert curve[3].precision == pytest.approx(2 / 3) and curve[4].precision == 1.0
    answer_rates = [p.answer_rate for p in curve]
    assert answer_rates == sorted(answer_rates, reverse=True)


def test_report_text_and_json() -> None:
    results = [result(1, True, 0.9), result(3, False, 0.1), result(None, True, 0.7, False)]
    m = metrics("tests/questions/x.jsonl", results)
    report = Report([m], m, tradeoff(results), 0.25, results)
    text = format_report(report, verbose=True)
    assert "P@1" in text and "MRR@10" in text and "abstain" in text
    assert "0.500" in text  # P@1 of the two answerable questions
    assert "misses (2)" in text and "should abstain" in text and "abstained" in text
    data = report.as_dict(verbose=True)
    assert data["total"]["p_at_1"] == 0.5 and data["threshold"] == 0.25
    assert "prec" in text and data["total"]["precision"] == 0.5  # one right answer of two
    assert len(data["tradeoff"]) == 11 and len(data["misses"]) == 2
    assert "misses" not in report.as_dict()
    json.dumps(data)


def test_cli_rejects_missing_and_bad_question_sets(tmp_path: Path) -> None:
    missing = trustbot("eval", str(tmp_path / "nope.jsonl"))
    assert missing.code == 2 and "Traceback" not in missing.err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    run = trustbot("--index", str(tmp_path / "index"), "eval", str(bad))
    assert run.code == 2
    assert run.err.strip().splitlines() == [
        f"trustbot: error: {bad}:1: not a JSON object (expected one question per line)"
    ]
    none = trustbot("eval")
    assert none.code == 2 and "Traceback" not in none.err


def test_cli_without_an_index_says_how_to_build_one(tmp_path: Path) -> None:
    qs = tmp_path / "q.jsonl"
    qs.write_text('{"question": "Q?", "answer": null, "evidence": null, "article": "x"}\n')
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("Some text.\n")
    run = trustbot(
        "--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index"), "eval", str(qs)
    )
    assert run.code == 1
    assert "trustbot index build" in run.err and "Traceback" not in run.err
