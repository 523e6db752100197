"""A story scope: questions asked of chosen articles only (scope.py, Answerer.within), and the
stories a question not answered comes closest to (Answer.stories)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from trustbot.answer import STORY_FLOOR, Answerer, Decision, Story
from trustbot.corpus import parse_article
from trustbot.embed import HashEmbedder
from trustbot.errors import BadInput, UnknownArticle
from trustbot.retrieve import Hit, Retrieval, _terms, candidates
from trustbot.scope import resolve, scoped
from trustbot.store import load_index, write_index

NEWS = parse_article(
    "---\ntitle: Trust lifts rules\n---\n"
    "NHS Improvement has lifted several undertakings at the trust.\n\n"
    "The regulator said the trust is making progress with its investigations.\n\n"
    "Jane Smith, the chief executive, said: “The findings were very encouraging.”\n\n"
    "The trust has an annual turnover of around £320m.",
    "news",
)
SPORT = parse_article(
    "The Broncos beat the Panthers 24–10 in Super Bowl 50.\n\n"
    "The game was played on February 7, 2016, in Santa Clara.\n\n"
    "The Panthers' chief executive said the team had made progress.",
    "sport",
)
FARM = parse_article(
    "Barn owls returned to the valley after thirty years.\n\n"
    "The farm's chief executive, Tom Reed, said the owls were a sign of progress.",
    "farm",
)


@pytest.fixture
def answerer(tmp_path: Path) -> Answerer:
    emb = HashEmbedder()
    write_index(tmp_path, [NEWS, SPORT, FARM], emb)
    return Answerer(load_index(tmp_path, emb), emb)


def alone(tmp_path: Path, *articles: object) -> Answerer:
    emb = HashEmbedder()
    write_index(tmp_path / "alone", list(articles), emb)  # type: ignore[arg-type]
    return Answerer(load_index(tmp_path / "alone", emb), emb)


def articles_of(a: Answerer, rows: np.ndarray) -> set[str]:
    return {a.index.sentence(int(r))[0].id for r in rows}


def test_resolve_takes_ids_and_file_names_in_index_order(answerer: Answerer) -> None:
    assert resolve(answerer.index, ["farm", "News.txt"]) == ("news", "farm")


def test_resolve_names_the_unknown_article(answerer: Answerer) -> None:
    with pytest.raises(UnknownArticle, match="no article 'weather' in the index") as caught:
        resolve(answerer.index, ["news", "weather"])
    assert caught.value.name == "weather" and isinstance(caught.value, BadInput)


def test_within_no_articles_or_all_of_them_is_the_answerer_itself(answerer: Answerer) -> None:
    assert answerer.within(()) is answerer
    assert answerer.within(["news", "sport", "farm"]) is answerer
    scoped_one = answerer.within(["sport"])
    assert scoped_one is not answerer and scoped_one.scope == ("sport",)
    assert answerer.within(["Sport.md"]) is scoped_one  # kept, not built again
    assert [a.id for a in scoped_one.articles] == ["sport"]


def test_candidates_come_only_from_the_scope(answerer: Answerer) -> None:
    question = "What did the chief executive say about progress?"
    everywhere = candidates(answerer.index, answerer.embedder, question)
    assert articles_of(answerer, everywhere.rows) == {"news", "sport", "farm"}
    for aid in ("news", "sport", "farm"):
        view = scoped(answerer.index, [aid])
        assert articles_of(answerer, candidates(view, answerer.embedder, question).rows) == {aid}


def test_dense_search_is_the_exact_search_of_the_scope(answerer: Answerer) -> None:
    view = scoped(answerer.index, ["news", "farm"])
    q = answerer.embedder.encode(["Who is the chief executive?"])
    scores, rows = view.faiss_index.search(q, 10)
    mine = [r for r, (ai, _) in enumerate(answerer.index.rows) if ai in (0, 2)]
    vectors = answerer.index.faiss_index.reconstruct_batch(np.array(mine))
    expected = sorted(zip((vectors @ q[0]).tolist(), mine, strict=True), reverse=True)
    found = rows[0][rows[0] >= 0]
    assert sorted(found.tolist()) == sorted(mine)  # 10 asked, 6 in the scope: -1 pads the rest
    assert found.tolist() == [r for _, r in expected]
    assert np.allclose(scores[0][: found.size], [s for s, _ in expected], atol=1e-6)
    assert (rows[0][found.size :] == -1).all()


def test_term_weights_are_those_of_the_article_indexed_alone(
    answerer: Answerer, tmp_path: Path
) -> None:
    # "chief" and "executive" are in every article, "progress" too: alone, the news article
    # holds each once among its sentences, which is what the scope must weigh them by.
    question = "What did the chief executive say about the Panthers' progress?"
    view = scoped(answerer.index, ["news"])
    by_scope = {t.token: (t.weight, t.rows.size) for t in _terms(view, question, [])[0]}
    single = alone(tmp_path, NEWS)
    by_alone = {t.token: (t.weight, t.rows.size) for t in _terms(single.index, question, [])[0]}
    assert by_scope.keys() == by_alone.keys()
    for token, (weight, size) in by_alone.items():
        assert by_scope[token][1] == size
        assert math.isclose(by_scope[token][0], weight)
    assert by_scope["panther"][1] == 0  # in the index, not in the scope


def test_bm25_shares_carry_the_idf_of_the_scope(answerer: Answerer, tmp_path: Path) -> None:
    view = scoped(answerer.index, ["news"])
    single = alone(tmp_path, NEWS)
    tokens = ["trust", "progress", "chief", "execut"]
    got = {t: dict(zip(r.tolist(), s, strict=True)) for t, r, s in view.lexical.postings(tokens)}
    first = answerer.index.row_of("news", 0)
    assert first is not None
    want = {
        t: {first + int(r): v for r, v in zip(rows, s, strict=True)}
        for t, rows, s in single.index.lexical.postings(tokens)
    }
    assert got.keys() == want.keys() == set(tokens)
    # Each word occurs once in a sentence, so within one sentence two words' shares differ only
    # by their idf; only BM25's length normalisation (the mean sentence length of the whole
    # index, not of the scope) sets the scoped shares apart from those of the article alone.
    shared = 0
    for row in set(got["trust"]) | set(got["progress"]) | set(got["chief"]):
        ratios = {float(got[t][row] / want[t][row]) for t in tokens if row in got[t]}
        assert max(ratios) - min(ratios) < 1e-4 * max(ratios)
        shared += len(ratios) > 0
    assert shared >= 2


def test_a_scoped_question_about_another_article_is_not_answered(answerer: Answerer) -> None:
    question = "Who beat the Panthers in Super Bowl 50?"
    answer = answerer.ask(question)
    assert answer.answered and answer.citations[0].article_id == "sport"
    assert not answerer.within(["news"]).ask(question).answered


def test_a_scoped_answer_quotes_only_the_scope(answerer: Answerer) -> None:
    answer = answerer.within(["farm"]).ask("What did the chief executive say?")
    assert answer.answered
    assert {c.article_id for c in answer.citations} == {"farm"}
    for c in answer.citations:
        assert FARM.body[c.start : c.end] == c.text


def test_a_scope_shares_its_index_prefix_table(answerer: Answerer) -> None:
    # Built once per index (its whole vocabulary), not once per scope.
    from trustbot.retrieve import _prefixes

    view = scoped(answerer.index, ["news"])
    assert _prefixes(view) is _prefixes(answerer.index)


def refused(answerer: Answerer, shares: dict[str, float], confidence: float) -> Decision:
    """A refusal whose hits share the ranker's probability among articles as ``shares`` says."""
    hits = []
    for aid, p in shares.items():
        row = answerer.index.row_of(aid, 0)
        assert row is not None
        hits.append(Hit(row, 1.0, p, 0.3, 0.3, 0.3))
    return Decision(Retrieval("?", "other", tuple(hits)), confidence, False)


def test_the_closest_stories_hold_a_tenth_of_the_probability_at_most_three(
    answerer: Answerer, tmp_path: Path
) -> None:
    closest = answerer.closest_stories
    decision = refused(answerer, {"sport": 0.3, "news": 0.6, "farm": 0.1}, STORY_FLOOR)
    assert closest(decision) == (
        Story("news", "Trust lifts rules"),
        Story("sport", "Sport"),
        Story("farm", "Farm"),
    )
    assert closest(refused(answerer, {"news": 0.92, "farm": 0.08}, 0.2)) == (
        Story("news", "Trust lifts rules"),
    )
    assert closest(refused(answerer, {"news": 0.5, "farm": 0.5}, STORY_FLOOR - 0.01)) == ()
    # Asked of one article there is no other story to point to.
    one = answerer.within(["news"])
    assert one.closest_stories(refused(one, {"news": 1.0}, 0.2)) == ()
