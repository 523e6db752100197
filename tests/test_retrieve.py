"""Retrieval, ranking and answer composition with the deterministic fake embedder (fast)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trustbot import lexical
from trustbot.answer import SIGNALS, Answerer, confidence, signals
from trustbot.corpus import Article, parse_article
from trustbot.embed import HashEmbedder
from trustbot.followup import Conversation
from trustbot.lexical import text_tokens, tokenize
from trustbot.passages import passage_texts, speaker_phrase
from trustbot.rerank import Trees
from trustbot.retrieve import (
    _ASKS_SPEAKER,
    FEATURES,
    WEIGHTS,
    Hit,
    Retrieval,
    _spans,
    _top,
    acronym_links,
    answer_near,
    candidates,
    content_terms,
    is_agent,
    new_answers,
    paragraph_rows,
    question_kind,
    rank,
    retrieve,
    synonym_pairs,
    topic_keys,
)
from trustbot.store import LoadedIndex, load_index, passage_inputs, write_index
from trustbot.text import quote_speakers, split_sentences

NEWS = parse_article(
    "---\ntitle: Trust lifts rules\n---\n"
    "NHS Improvement has lifted several undertakings at the trust.\n\n"
    "The regulator said the trust, whose NHSI undertakings began in 2016, is making progress.\n\n"
    "The Care Quality Commission found problems with governance in 2016.\n\n"
    "Jane Smith, the chief executive, said: “The findings were very encouraging.\n\n"
    "“We know we still have more to do and there will be further challenges ahead.”\n\n"
    "The trust has an annual turnover of around £320m.",
    "news",
)
SPORT = parse_article(
    "The Broncos beat the Panthers 24–10 in Super Bowl 50.\n\n"
    "The game was played on February 7, 2016, in Santa Clara.\n\n"
    "The trust has an annual turnover of around £320m.",
    "sport",
)


def answerer_of(folder: Path, *articles: Article) -> Answerer:
    """An answerer over an index of ``articles`` written in ``folder``."""
    emb = HashEmbedder()
    write_index(folder, list(articles), emb)
    return Answerer(load_index(folder, emb), emb)


@pytest.fixture
def answerer(tmp_path: Path) -> Answerer:
    return answerer_of(tmp_path, NEWS, SPORT)


def one_article(tmp_path: Path, text: str) -> tuple[LoadedIndex, HashEmbedder]:
    """An index of one article with ``text`` as its body, and its embedder."""
    emb = HashEmbedder()
    write_index(tmp_path, [parse_article(text, "a")], emb)
    return load_index(tmp_path, emb), emb


def texts(a: Answerer, rows: list[int]) -> list[str]:
    return [a.index.text(r) for r in rows]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many points did the Panthers score?", "count"),
        ("Where is the trust based?", "where"),
        ("How much is the annual turnover?", "number"),
        ("What percentage of students passed?", "number"),
        ("When was the report published?", "when"),
        ("In what year did the war end?", "when"),
        ("Who is the chief executive?", "who"),
        ("Whose report was it?", "who"),
        ("What's Nick Broughton's role at the trust?", "role"),
        ("Which post does she hold?", "role"),
        ("Who holds the post of chief executive?", "who"),
        ("So is the job done?", "other"),
        # How far along they are is how they are getting on; how far away is a distance.
        ("How far along does he think they are?", "other"),
        ("How far is Southampton from London?", "number"),
        ("What did the regulator lift?", "other"),
        # Asked which body, the answer is a name too.
        ("Which regulator has eased some of the conditions?", "who"),
        ("Which oversight body put those conditions on the trust?", "who"),
        ("What regulatory undertakings remain?", "other"),
        # Asked what someone said of others, the answer is seldom a name ("our patients").
        ("Who does the CEO say the trust is being built for?", "other"),
        ("Who did the regional director say would benefit?", "other"),
        ("Who did the chief executive replace?", "who"),
    ],
)
def test_question_kind(question: str, kind: str) -> None:
    assert question_kind(question) == kind


def test_which_body_did_it_is_answered_by_the_body_next_to_the_verb(tmp_path: Path) -> None:
    index, emb = one_article(
        tmp_path,
        "NHS Improvement has lifted several undertakings at the trust.\n\n"
        "The trust remains subject to some regulatory undertakings on governance.",
    )
    cands = candidates(index, emb, "Which regulator has eased some of the undertakings?")
    agent = cands.features[:, FEATURES.index("agent")]
    by_row = dict(zip(cands.rows.tolist(), agent.tolist(), strict=True))
    assert cands.kind == "who"
    assert by_row == {0: 1.0, 1: 0.0}


def test_top_takes_the_best_positive_scores_only() -> None:
    scores = np.zeros(1000, dtype=np.float32)
    scores[[3, 500, 999]] = [0.5, 2.0, 1.0]
    assert sorted(_top(scores, 40).tolist()) == [3, 500, 999]  # fewer than k: every positive
    assert sorted(_top(scores, 2).tolist()) == [500, 999]
    assert _top(np.zeros(10, dtype=np.float32), 5).size == 0


def has_new_answer(kind: str, sentence: str, question: str) -> bool:
    return bool(new_answers(kind, sentence, question))


def doer(sentence: str, question: str, keys: tuple[str, ...]) -> bool:
    return is_agent(sentence, new_answers("who", sentence, question), keys)


def near(kind: str, sentence: str, question: str) -> bool:
    found = new_answers(kind, sentence, question)
    return answer_near(sentence, found, topic_keys(question, []))


def test_answer_types_must_be_new_to_the_question() -> None:
    assert has_new_answer("number", "They scored 308 points.", "How many points?")
    assert not has_new_answer("number", "They scored 308 points.", "Did they score 308 points?")
    assert has_new_answer("when", "It opened in March 2016.", "When did it open?")
    assert has_new_answer("who", "The plan was drawn up by Jane Smith.", "Who drew up the plan?")
    assert not has_new_answer("who", "the plan was drawn up by her.", "Who drew up the plan?")
    assert not has_new_answer("other", "Anything at all 42.", "What is it?")
    titled = "Anne Eden, regional director of the south east for NHS Improvement, said it."
    assert has_new_answer("role", titled, "What is Anne Eden's job?")
    assert not has_new_answer("role", titled, "Is Anne Eden the regional director?")
    assert not has_new_answer("role", "The regulator lifted the undertakings.", "What's her role?")


def test_a_count_counts_what_the_question_counts() -> None:
    def counts(sentence: str, question: str) -> list[str]:
        return [m.group(0) for m in new_answers("count", sentence, question)]

    largest = "It is one of England's largest trusts, with a turnover of £320m, set up in 2011."
    assert counts(largest, "How many staff does it employ?") == []  # one of many, money, a year
    assert counts("It runs one hospital and 40 clinics.", "How many sites?") == ["one", "40"]
    lifted = "NHSI has lifted several “regulatory undertakings” after a handful of scandals."
    assert counts(lifted, "How many of the undertakings were lifted?") == ["several"]
    assert counts(lifted, "how many regulatory rules went") == ["several"]
    assert counts(lifted, "How many scandals were there?") == ["a handful of"]
    assert counts(lifted, "How many patients died in the scandals?") == []


def test_a_question_asking_for_a_day_or_a_year_wants_that_grain_of_date() -> None:
    sentence = "The undertakings placed by NHSI in 2016 were lifted on Tuesday."
    assert [m.group(0) for m in new_answers("when", sentence, "What day were they lifted?")] == [
        "Tuesday"
    ]
    assert [m.group(0) for m in new_answers("when", sentence, "What year were they placed?")] == [
        "2016"
    ]
    assert len(new_answers("when", sentence, "When were they lifted?")) == 2
    assert not new_answers("when", "It was placed in 2016.", "what day of the week was it")
    report = "In January, an outside report published in 2016 found improvements."
    assert [m.group(0) for m in new_answers("when", report, "Which month was it out?")] == [
        "January"
    ]
    played = "The game was played on February 7, 2016, in Santa Clara."
    assert [m.group(0) for m in new_answers("when", played, "What day was the game?")] == [
        "February 7"
    ]


def test_the_answer_must_stand_near_the_questions_words() -> None:
    q = "When was the Mazars report?"
    assert near("when", "The regulator cited the Mazars report in 2016, which claimed ...", q)
    far = "The undertakings lifted on Tuesday related to plans to implement the Mazars review."
    assert not near("when", far, q)
    assert not near("when", "The Mazars report was damning.", q)  # no date at all


def test_days_are_not_names_and_the_doer_is_next_to_the_verb() -> None:
    q = "who lifted the undertakings"
    keys = topic_keys(q, [], names=False)
    assert set(keys) == {"lift", "under"}
    assert not has_new_answer("who", "The undertakings were lifted on Tuesday.", q)
    assert doer("NHS Improvement has lifted several undertakings.", q, keys)
    assert not doer("The undertakings lifted on Tuesday related to the Mazars review.", q, keys)
    q = "who carried out the review"
    assert doer("In January, a review by Grant Thornton found...", q, topic_keys(q, []))
    q = "who runs the trust"
    keys = topic_keys(q, [("runs", "chief executive")], names=False)
    assert doer("Nick Broughton, who became chief executive of the trust, said", q, keys)
    assert not doer("The trust said Nick Broughton is improving it.", q, keys)


def test_acronyms_are_learnt_from_the_article_both_ways() -> None:
    links = acronym_links(NEWS.body)
    assert "NHS Improvement" in links["NHSI"]
    assert "Care Quality Commission" in links["CQC"]


def test_speaker_phrase_and_passage_texts() -> None:
    assert speaker_phrase("Jane Smith, the chief executive, said: “Fine.") == (
        "Jane Smith, the chief executive"
    )
    assert speaker_phrase("Anne Eden: “Fine.”") == "Anne Eden"
    assert speaker_phrase("“Fine,” she said.") is None
    sentences = split_sentences(NEWS.body)
    speakers = quote_speakers(NEWS.body, sentences)
    embedded = passage_texts(NEWS.body, sentences, speakers)
    assert embedded == passage_inputs(NEWS, sentences)
    quote = next(i for i, s in enumerate(sentences) if NEWS.body[s.start :].startswith("“We know"))
    assert embedded[quote].startswith("Jane Smith, the chief executive said: “We know")
    # Everything else is embedded as it stands; citations are always the bare sentence.
    assert embedded[0] == NEWS.body[sentences[0].start : sentences[0].end]


def test_passages_widen_one_sentence_paragraphs(answerer: Answerer) -> None:
    index = answerer.index
    row = index.row_of("news", 2)
    assert row is not None
    assert list(paragraph_rows(index, row)) == [row]
    # A passage (first and last + 1 sentence of the article) holds at least MIN_CONTEXT
    # sentences: the sentence before, or for the first sentence the one after.
    passages = _spans(next(a for a in index.articles if a.id == "news"))[1]
    assert passages[2] == (1, 3) and passages[0] == (0, 2)


def test_candidates_carry_every_feature(answerer: Answerer) -> None:
    c = candidates(answerer.index, answerer.embedder, "What is the annual turnover of the trust?")
    assert c.features.shape == (c.rows.size, len(FEATURES)) == (c.rows.size, WEIGHTS["other"].size)
    assert np.all(np.isfinite(c.features))
    assert np.all((c.features[:, 2] >= 0) & (c.features[:, 2] <= 1))  # coverage is a share


def test_the_window_signal_sums_a_sentence_with_its_neighbours_in_its_article(
    answerer: Answerer,
) -> None:
    index, emb = answerer.index, answerer.embedder
    question = "What is the annual turnover of the trust?"
    c = candidates(index, emb, question)
    q = emb.encode([question])[0]
    vectors = index.faiss_index.reconstruct_batch(np.arange(index.faiss_index.ntotal))
    window = c.features[:, FEATURES.index("window")]
    dense = c.features[:, FEATURES.index("dense")]
    checked = set()
    for row, got, cosine in zip(c.rows.tolist(), window, dense, strict=True):
        art, si = index.sentence(row)
        # The first sentence of an article has no neighbour before it, the last none after:
        # the rows either side belong to another article (SPORT follows NEWS in the index).
        lo = row - (si > 0)
        hi = row + (si + 1 < len(art.sentences))
        together = vectors[lo : hi + 1].sum(axis=0)
        assert got == pytest.approx(float(together @ q) / float(np.linalg.norm(together)), abs=1e-5)
        assert cosine == pytest.approx(float(vectors[row] @ q), abs=1e-5)
        checked.add((si == 0, si + 1 == len(art.sentences)))
    assert {(True, False), (False, True), (False, False)} <= checked


def test_exact_repeats_are_ranked_once(answerer: Answerer) -> None:
    hits = retrieve(answerer.index, answerer.embedder, "What is the annual turnover?").hits
    found = texts(answerer, [h.row for h in hits])
    assert found[0] == "The trust has an annual turnover of around £320m."
    assert found.count(found[0]) == 1
    assert sum(h.probability for h in hits) <= 1.0 + 1e-9


def test_acronym_in_the_question_matches_the_spelled_out_name(answerer: Answerer) -> None:
    r = retrieve(answerer.index, answerer.embedder, "What did the CQC do?")
    assert texts(answerer, [r.hits[0].row])[0].startswith("The Care Quality Commission found")
    assert r.hits[0].coverage == 1.0 and all(h.coverage == 0.0 for h in r.hits[1:])
    assert r.unknown_names == 0.0


def test_common_news_synonyms_are_expanded_by_stem() -> None:
    assert ("CEO", "chief executive") in synonym_pairs("What does the CEO say?")
    assert ("runs", "chief executive") in synonym_pairs("who runs the trust")
    assert ("watchdog", "regulator") in synonym_pairs("Did the watchdog act?")
    assert ("lifted", "remove") in synonym_pairs("Who lifted the undertakings?")
    assert ("report", "audit") in synonym_pairs("What did the report find?")
    # What a regulator's move proves: "NHSI's actions today reinforce ... and demonstrate ...".
    pairs = synonym_pairs("Does its move support the audit and prove it?")
    assert {("move", "action"), ("support", "reinforce"), ("prove", "demonstrate")} <= set(pairs)
    assert synonym_pairs("What did the panel find?") == []


def test_what_a_report_claimed_answers_what_it_alleged(tmp_path: Path) -> None:
    # "What did Mazars accuse the trust of?": the report "claimed there were serious failings".
    assert ("accuse", "claim") in synonym_pairs("What did Mazars accuse the trust of?")
    index, emb = one_article(
        tmp_path,
        "The trust is carrying out the recommendations of the Mazars review.\n\n"
        "The Mazars report claimed there were serious failings at the trust.",
    )
    for question in ("What did Mazars accuse the trust of?", "What did the Mazars review allege?"):
        hits = retrieve(index, emb, question).hits
        assert index.text(hits[0].row).startswith("The Mazars report claimed"), question


def test_a_phrasal_verb_counts_as_the_word_it_means() -> None:
    assert ("took", "lift") in synonym_pairs("Who took the restrictions off the trust?")
    assert ("taken", "remove") in synonym_pairs("Which body has taken some conditions away?")
    assert ("let", "lift") in synonym_pairs("Has the regulator let the trust off?")
    assert not any(w == "took" for w, _ in synonym_pairs("Who took over as chief executive?"))
    assert ("put", "impose") in synonym_pairs("Who put the conditions on the trust?")
    assert ("slapped", "place") in synonym_pairs("When were they slapped onto the trust?")
    assert not any(w == "put" for w, _ in synonym_pairs("What did they put in place?"))


def test_words_that_say_nothing_of_a_topic_are_not_terms() -> None:
    # Held nowhere, they weighed on the coverage of every sentence that held the rest.
    assert content_terms("What exactly has the regulator taken off them, just those two?") == [
        "regul", "taken", "off", "two"
    ]  # fmt: skip


def test_flagged_counts_as_highlighted_and_rescinded_as_lifted() -> None:
    assert ("flag", "highlight") in synonym_pairs("What did the inspectors flag up?")
    assert ("rescinded", "lift") in synonym_pairs("Which conditions were rescinded?")


def test_a_role_synonym_counts_as_the_question_word(answerer: Answerer) -> None:
    r = retrieve(answerer.index, answerer.embedder, "Did the CEO find it encouraging?")
    assert texts(answerer, [r.hits[0].row])[0].startswith("Jane Smith, the chief executive")
    # "CEO" is present (as "chief executive") in the sentence naming Jane Smith and in her quote.
    assert r.hits[0].coverage == 1.0


def test_names_the_index_never_mentions_are_counted(answerer: Answerer) -> None:
    r = retrieve(answerer.index, answerer.embedder, "What did Boris Johnson find in Paris?")
    assert r.unknown_names == 1.0


def test_a_title_before_a_known_name_is_not_a_name(answerer: Answerer) -> None:
    # "Mr" is in no indexed sentence; counted as a name, it made the question look like one about
    # somebody the corpus never mentions, and the answer was abstained on.
    for question in ("What did Ms Smith find?", "What did Dr Jane Smith say?"):
        assert retrieve(answerer.index, answerer.embedder, question).unknown_names == 0.0
    other = retrieve(answerer.index, answerer.embedder, "What did Mr Jones say?")
    assert other.unknown_names == 1.0


def test_the_first_word_of_a_later_sentence_is_not_a_name(answerer: Answerer) -> None:
    # "Good or bad?" after a question: its first word is capitalised as every sentence's is. Taken
    # for a name no indexed sentence holds, it made the question look like one about another story.
    for question in ("What did Jane Smith find? Good or bad?", "Who said it. Bet he loved it!"):
        assert retrieve(answerer.index, answerer.embedder, question).unknown_names == 0.0
    # A name later in a sentence still counts: two of the four are unknown.
    other = retrieve(answerer.index, answerer.embedder, "What did Jane Smith tell Boris Jones?")
    assert other.unknown_names == 0.5


def test_a_name_is_known_only_whole_or_give_or_take_an_ending(tmp_path: Path) -> None:
    # Sharing its first letters with an indexed word is enough for a term to count as present
    # (regulator/regulatory) but not for a name to be known: a question about Scandinavia is
    # not about scandals. India/Indian is the same name.
    index, emb = one_article(tmp_path, "Several scandals hit the trust in India.\n\nThe weather.")
    assert retrieve(index, emb, "Did Scandinavian regulators act?").unknown_names == 1.0
    assert retrieve(index, emb, "Did the Indian trust act?").unknown_names == 0.0


def test_who_said_finds_the_speaker_of_a_quotation(answerer: Answerer) -> None:
    q = "Who said there will be further challenges ahead?"
    hits = retrieve(answerer.index, answerer.embedder, q).hits
    first, second = texts(answerer, [hits[0].row, hits[1].row])
    assert first.startswith("Jane Smith, the chief executive, said")
    assert second.startswith("“We know we still have more to do")


def test_who_question_naming_the_speaker_is_about_the_quotation(answerer: Answerer) -> None:
    q = "Who does Smith say will face further challenges ahead?"
    hits = retrieve(answerer.index, answerer.embedder, q).hits
    assert texts(answerer, [hits[0].row])[0].startswith("“We know we still have more to do")


def test_who_question_about_what_the_speaker_said_is_about_the_quotation(
    answerer: Answerer,
) -> None:
    # The speaker is the question's subject ("the chief executive", "she"), not what it asks.
    for q in (
        "Who does the chief executive say will face further challenges ahead?",
        "Who does she say still has more to do?",
    ):
        hits = retrieve(answerer.index, answerer.embedder, q).hits
        assert texts(answerer, [hits[0].row])[0].startswith("“We know we still have more to do"), q


def test_the_words_naming_a_speaker_earn_no_bm25_for_the_sentence_introducing_the_quote(
    answerer: Answerer,
) -> None:
    def lexical(question: str) -> dict[str, float]:
        c = candidates(answerer.index, answerer.embedder, question)
        column = FEATURES.index("lexical")
        return {
            answerer.index.text(int(r))[:12]: float(f[column])
            for r, f in zip(c.rows, c.features, strict=True)
        }

    # His quote holds the answer; his name is only in the sentence that introduces it.
    about_the_quote = lexical("Does Jane Smith expect more challenges?")
    assert about_the_quote["Jane Smith, "] < about_the_quote["“We know we "]
    # Asked about nothing but the speaker, the sentence naming her keeps what her name earns.
    assert lexical("Who is Jane Smith?")["Jane Smith, "] == 1.0


def test_asks_speaker_only_when_the_question_asks_who_speaks() -> None:
    asks = [
        "Who said there will be further challenges ahead?",
        "who has warned of challenges",
        "Who publicly welcomed the decision?",
        "who's the chief exec now",
        "Who is the chief executive?",
    ]
    not_asks = [
        "Who does the CEO say deserves a better organisation?",
        "Whose actions did he say reinforced the findings?",
        "For whom is the organisation being built?",
        "So who actually lifted the undertakings?",
        "organisation deserved by who",
    ]
    assert all(_ASKS_SPEAKER.search(q) for q in asks)
    assert not any(_ASKS_SPEAKER.search(q) for q in not_asks)


def test_a_quotation_is_cited_with_its_speaker(answerer: Answerer) -> None:
    answer = answerer.ask("further challenges ahead, we know we still have more to do")
    assert answer.answered
    cited = [c.text for c in answer.citations]
    assert cited[0].startswith("“We know")
    assert cited[1].startswith("Jane Smith, the chief executive, said")
    for c in answer.citations:
        body = NEWS.body if c.article_id == "news" else SPORT.body
        assert body[c.start : c.end] == c.text
    assert [c.n for c in answer.citations] == list(range(1, len(cited) + 1))


def test_composition_is_short_and_skips_near_repeats(answerer: Answerer) -> None:
    for top_k in (1, 2, 3):
        answer = answerer.ask("the trust annual turnover £320m", top_k=top_k)
        assert answer.answered and 1 <= len(answer.citations) <= top_k + 1
        cited = [c.text for c in answer.citations]
        assert len(set(cited)) == len(cited)


def test_composition_takes_every_likely_sentence_whatever_the_order(answerer: Answerer) -> None:
    # The reranker orders hits; probabilities stay the linear stage's, so an unlikely hit may
    # stand between two likely ones. The likely ones are cited, the unlikely one is not.
    texts = [answerer.index.text(r) for r in (0, 2, 5)]
    assert len(set(texts)) == 3
    hits = [Hit(r, 0.0, p, 0.0, 0.0, 0.0) for r, p in ((0, 0.6), (2, 0.05), (5, 0.3))]
    assert [r for r, _ in answerer._compose(hits, top_k=3)] == [0, 5]


def test_off_topic_question_is_not_answered(answerer: Answerer) -> None:
    # Refused by the abstention model, not by the advice rule ("the best way to bake ...").
    answer = answerer.ask("How long does sourdough bread take to bake at home?")
    assert not answer.answered and answer.citations == ()
    decision = answerer.consider("How long does sourdough bread take to bake at home?")
    assert decision.confidence == pytest.approx(
        confidence(signals(answerer.index, decision.retrieval))
    )


def test_a_how_many_question_whose_best_sentence_counts_nothing(answerer: Answerer) -> None:
    def no_count(question: str, row: int) -> float:
        top = Hit(row, 0.0, 1.0, 0.5, 0.5, 0.5)
        retrieval = Retrieval(question, question_kind(question), (top,), 0.0)
        return signals(answerer.index, retrieval)[SIGNALS.index("no_count")]

    lifted, super_bowl, turnover = 0, 6, 8
    assert no_count("How many undertakings were lifted?", lifted) == 0.0  # several undertakings
    assert no_count("How many patients were harmed?", lifted) == 1.0  # it counts no patients
    assert no_count("How many points did the Broncos score?", super_bowl) == 0.0
    assert no_count("How many points were scored in Super Bowl 50?", super_bowl) == 0.0  # 24, 10
    assert no_count("How many staff does the trust employ?", turnover) == 1.0  # £320m is money
    assert no_count("What was lifted?", lifted) == 0.0  # not a how-many question
    # A how-much question about money wants a sum of money.
    assert no_count("How much was the trust fined?", lifted) == 1.0
    assert no_count("How much money does the trust turn over?", turnover) == 0.0
    assert no_count("How much progress has the trust made?", lifted) == 0.0  # not money


def refused_by_a_rule(answerer: Answerer, *questions: str) -> None:
    """Each question retrieves sentences but is refused by a rule, whatever the signals."""
    for q in questions:
        decision = answerer.consider(q)
        assert decision.retrieval.hits and decision.confidence == 0.0 and not decision.answered, q


def test_a_question_asking_for_advice_is_never_answered(answerer: Answerer) -> None:
    refused_by_a_rule(
        answerer,
        "How do I complain to the trust?",
        "where can i read the Mazars report",
        "Should I worry?",
        "Can you suggest some reading on NHS regulation?",
        "What would you recommend for the trust's annual turnover?",
        "What's the best way to read a trust's annual turnover?",
    )
    # A courtesy before a question about the story is not a request for advice.
    assert (
        answerer.consider("Can I ask who lifted several undertakings at the trust?").confidence > 0
    )
    # What the story's people recommend is a question about the story.
    assert answerer.consider("What did the regulator recommend for the trust?").confidence > 0


def test_a_news_report_never_answers_a_question_about_a_subject_in_general(
    answerer: Answerer,
) -> None:
    refused_by_a_rule(
        answerer,
        "What's the difference between an NHS trust and a foundation trust?",
        "How is a trust's annual turnover usually worked out?",
        "What are the typical undertakings for a trust?",
        "Do regulators generally lift undertakings?",
        # What should be done by anyone of a kind, since round twenty-three.
        "How often should a trust board meet in public?",
        "What is the recommended quorum for a trust board meeting?",
        "What are good practices for board visits to wards?",
        # How a thing of a kind works, since round twenty-four.
        "How is a trust's annual turnover calculated?",
        "How does a foundation trust differ from an NHS trust?",
        "What is the role of a regional director?",
    )
    assert answerer.consider("What did the regulator lift at the trust?").confidence > 0
    assert answerer.consider("How is the trust doing, says the regulator?").confidence > 0
    # What someone in the story says should be is a question about the story.
    asked = "Who does the chief executive say the organisation should be fit for?"
    assert answerer.consider(asked).confidence > 0


def test_a_question_in_general_is_answered_from_an_article_that_speaks_in_general(
    tmp_path: Path,
) -> None:
    owls = parse_article("Barn owls usually hunt at night over open fields and marshes.", "owls")
    both = answerer_of(tmp_path, NEWS, SPORT, owls)
    decision = both.consider("When do barn owls usually hunt?")
    assert both.index.text(decision.retrieval.hits[0].row).startswith("Barn owls")
    assert decision.confidence > 0
    # The news report beside it still answers no question asked in general.
    refused_by_a_rule(both, "Do regulators generally lift undertakings?")


@pytest.mark.parametrize(
    ("says_so", "refused", "allowed"),
    [
        # The future: "has lifted several undertakings" says what happened, not when the rest
        # will be.
        (
            "The remaining undertakings will be lifted next spring.",
            (
                "When will the remaining undertakings be lifted?",
                "when is the regulator going to lift the undertakings",
                "When are the undertakings expected to be lifted at the trust?",
                "When does the regulator expect to lift the remaining undertakings?",
                "Is the regulator going to lift the remaining undertakings?",
                "will the regulator lift the remaining undertakings soon",
            ),
            "When were the undertakings lifted at the trust?",
        ),
        # What would follow: "has lifted several undertakings" tells no condition.
        (
            "If the trust fails to meet the remaining undertakings, the regulator could step in.",
            (
                "What happens if the trust fails to meet the remaining undertakings?",
                "what would the regulator do if the trust breaks the undertakings",
            ),
            "What happened to the undertakings at the trust?",
        ),
        # An origin: the report's 2016s date undertakings and an inspection, not the founding
        # of anything.
        (
            "The regulator was set up in 2016 to oversee NHS trusts.",
            (
                "When was the regulator set up?",
                "What year was the trust founded?",
                "when was the NHS established",
            ),
            "When did the regulator say the trust made progress?",
        ),
        # A duration: Jane Smith's quotation tells no time, so not how long she has led.
        (
            "Jane Smith has been the chief executive for three years.",
            (
                "How long has Jane Smith been the chief executive?",
                "how long has jane smith been in charge",
            ),
            "How long has the trust had NHSI undertakings?",
        ),
        # Who came before: Jane Smith's quotation names no one but her.
        (
            "Jane Smith replaced John Brown as the chief executive.",
            (
                "Who was the chief executive before Jane Smith?",
                "who held the post before jane smith",
            ),
            "Who was the chief executive before the undertakings were lifted?",
        ),
        # Who holds a post: the sentence about the turnover names no finance director.
        (
            "John Brown, the finance director, reported an annual turnover of around £320m.",
            (
                "Who is the finance director of the trust with the £320m annual turnover?",
                "who manages the trust's £320m annual turnover",
            ),
            "Who is the chief executive of the trust?",
        ),
        # Where it is based, or which places it serves: no sentence tells a place.
        (
            "The trust is based in Southampton and serves Hampshire.",
            (
                "Where is the trust based?",
                "where is the trust's head office",
                "Which counties does the trust serve?",
            ),
            "In which country is the trust based?",
        ),
        # How a group took the news: only Jane Smith speaks.
        (
            "The families of patients who died said they were angry at the decision.",
            (
                "What did the families of patients who died say about the decision?",
                "how did the families react to the decision",
                "Have the unions commented on the decision?",
            ),
            "What did the chief executive say about the findings?",
        ),
        # Someone's past: Jane Smith's quotation tells only her post now.
        (
            "Before joining the trust, Jane Smith ran Acme Health Partners in Leeds.",
            (
                "What did Jane Smith do before joining the trust?",
                "jane smith's previous job",
            ),
            "What did Jane Smith say about the findings?",
        ),
        # Which facility: no sentence names a hospital.
        (
            "The trust runs Moorgreen Hospital and Parklands Hospital.",
            (
                "Which hospitals does the trust run?",
                "how many hospitals does the trust run",
            ),
            "What is the trust's annual turnover?",
        ),
        # An exact date: "in 2016" and "in January" are not one.
        (
            "The undertakings were lifted on 14 February 2017 by the regulator.",
            (
                "On what exact date were the undertakings lifted?",
                "On what date in 2016 did the Care Quality Commission find problems?",
                "By what date must the trust meet the undertakings?",
            ),
            "When did the Care Quality Commission find problems with governance?",
        ),
        # Money made or lost: a turnover is neither.
        (
            "The trust ended the year with a deficit of £12m.",
            (
                "Is the trust running a deficit?",
                "did the trust make a profit or a loss last year",
            ),
            "What is the trust's annual turnover?",
        ),
        # What befell those to blame: the news report tells no prosecution, fine or apology.
        (
            "The trust was fined £1m and apologised to the families.",
            (
                "Was the trust fined over the deaths?",
                "has anyone been prosecuted",
                "Did the trust apologise to the families?",
            ),
            "What did the Care Quality Commission find in 2016?",
        ),
        # Who chairs: a chief executive is not a chair.
        (
            "The trust's board is chaired by John Brown.",
            ("Who chairs the trust's board?", "who is the chairman of the trust now"),
            "Who is the chief executive of the trust?",
        ),
        # Whose death: no sentence names a patient.
        (
            "The inquiry followed the death of Connor Sparrowhawk, a patient, in 2013.",
            (
                "Which patient's death prompted the inquiry?",
                "what were the names of the patients who died",
            ),
            "Which report found problems with governance?",
        ),
    ],
)
def test_a_question_is_answered_only_by_a_sentence_that_tells_what_it_asks(
    tmp_path: Path, says_so: str, refused: tuple[str, ...], allowed: str
) -> None:
    told = answerer_of(tmp_path / "told", parse_article(says_so, "told"))
    assert told.consider(refused[0]).confidence > 0
    news = answerer_of(tmp_path / "news", NEWS)
    refused_by_a_rule(news, *refused)
    assert news.consider(allowed).confidence > 0


def test_who_came_before_is_not_the_one_who_took_over(tmp_path: Path) -> None:
    now = "Nick Broughton, who became chief executive of the trust last autumn, welcomed it."
    q = "Who was the previous chief executive of the trust?"
    refused_by_a_rule(answerer_of(tmp_path / "now", parse_article(now, "now")), q)
    before = f"{now}\n\nThe previous chief executive of the trust, Katrina Percy, resigned."
    told = answerer_of(tmp_path / "before", parse_article(before, "before"))
    assert told.consider(q).confidence > 0


def test_who_had_it_done_is_answered_by_the_sentence_telling_so(tmp_path: Path) -> None:
    index, emb = one_article(
        tmp_path,
        "The external review of the trust was written by Acme Consulting last year.\n\n"
        "It was commissioned by the regulator in 2016.",
    )
    for q in ("Who asked for the external review of the trust?", "who ordered the review"):
        assert index.text(retrieve(index, emb, q).hits[0].row).startswith("It was commissioned"), q
    # Asked who wrote it, the sentence that says so stays first.
    wrote = retrieve(index, emb, "Who wrote the external review of the trust?")
    assert index.text(wrote.hits[0].row).startswith("The external review")


def test_who_had_it_done_is_refused_of_a_thing_the_sentence_does_not_name(
    tmp_path: Path,
) -> None:
    story = parse_article(
        "The Niche report found improvements at the trust in January.\n\n"
        "This report was commissioned by the regulator in 2016.",
        "story",
    )
    a = answerer_of(tmp_path, story)
    assert a.consider("Who commissioned the Niche report?").confidence > 0
    refused_by_a_rule(a, "Who commissioned the Mazars report?", "who paid for the Mazars report")


def test_the_rules_read_a_follow_up_as_typed(answerer: Answerer) -> None:
    # Searched with the previous question, "When was that?" holds "How do I ...", but it does
    # not ask for advice itself.
    chat = Conversation(previous="How do I know the regulator lifted several undertakings?")
    decision = answerer.consider("When was that?", chat)
    assert decision.note and decision.confidence > 0


def test_empty_index_retrieves_nothing(tmp_path: Path) -> None:
    emb = HashEmbedder()
    write_index(tmp_path, [], emb)
    a = Answerer(load_index(tmp_path, emb), emb)
    assert retrieve(a.index, emb, "Anything?").hits == ()
    assert not a.ask("Anything?").answered


def test_rank_with_other_weights(answerer: Answerer) -> None:
    c = candidates(answerer.index, answerer.embedder, "When was the game played?")
    only_dense = np.zeros(len(FEATURES))
    only_dense[0] = 1.0
    # One leaf: the same log-odds for every candidate, so the trees keep the linear order.
    flat = Trees(np.zeros((1, 0), dtype=np.int64), np.zeros((1, 0)), np.zeros((1, 1)), 0.0)
    hits = rank(answerer.index, c, only_dense, flat)
    assert [h.dense for h in hits] == sorted((h.dense for h in hits), reverse=True)


def test_relatives_the_stemmer_keeps_apart_still_match(tmp_path: Path) -> None:
    index, emb = one_article(
        tmp_path, "The board is responding to the audit.\n\nThe weather was fine all week."
    )
    hits = retrieve(index, emb, "What was the board's response?").hits
    assert index.text(hits[0].row).startswith("The board is responding")
    assert hits[0].coverage == 1.0


def test_a_sentence_opening_with_a_pronoun_holds_the_words_before_it(tmp_path: Path) -> None:
    index, emb = one_article(
        tmp_path,
        "Grant Thornton wrote a review of the trust.\n\n"
        "This report was commissioned by the regulator.\n\n"
        "The survey was commissioned by the council.",
    )
    c = candidates(index, emb, "Why was the Grant Thornton review commissioned?")
    coverage = dict(
        zip(texts_of(index, c.rows), c.features[:, FEATURES.index("coverage")], strict=True)
    )
    assert coverage["This report was commissioned by the regulator."] == 1.0
    assert coverage["The survey was commissioned by the council."] < 0.5


def texts_of(index: LoadedIndex, rows: np.ndarray) -> list[str]:
    return [index.text(int(r)) for r in rows]


@pytest.mark.parametrize(
    "text",
    [
        "Who lifted the “regulatory undertakings” at Southern Health NHS Foundation Trust?",
        "NHSI’s actions today reinforce these findings",
        "Ünïcode café in the 1990s cost £320m, didn't it?",
        "the",
        "!",
        "",
    ],
)
def test_text_tokens_are_bm25s_tokens(text: str) -> None:
    assert text_tokens(text) == tokenize([text])[0]
    assert text_tokens(text) == tokenize([text])[0]  # now from the words remembered


def test_text_tokens_are_bm25s_tokens_across_the_article(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexical, "_known", {})
    root = Path(__file__).parents[1]
    lines = (root / "corpus" / "southern-health.txt").read_text().splitlines()
    questions = root / "tests" / "questions" / "blind164" / "paraphrases.jsonl"
    lines += questions.read_text().splitlines()
    for line in lines:
        assert text_tokens(line) == tokenize([line])[0]


def test_text_tokens_stems_new_words_together_and_remembers_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []
    real = lexical._stemmer()

    class Counted:
        def stemWords(self, words: list[str]) -> list[str]:  # PyStemmer's name
            calls.append(list(words))
            return real.stemWords(words)  # type: ignore[no-any-return]

    monkeypatch.setattr(lexical, "_stemmer", Counted)
    monkeypatch.setattr(lexical, "_known", {})
    assert text_tokens("Regulators lifted the undertakings") == ["regul", "lift", "undertak"]
    assert calls == [["regulators", "lifted", "the", "undertakings"]]
    assert text_tokens("the undertakings were lifted") == ["undertak", "were", "lift"]
    assert calls[1:] == [["were"]]


def test_a_question_of_question_words_only_is_refused_not_an_error(answerer: Answerer) -> None:
    # "when was that?" has no term to look up; a quoted candidate used to raise a TypeError.
    for q in ("when was that?", "Who did it?", "And what about them?"):
        assert not answerer.ask(q).answered, q
