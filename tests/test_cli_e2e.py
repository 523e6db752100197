"""The real CLI, the real bundled model and the real FAISS index, end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, SEED, Workspace, make_workspace, trustbot

pytestmark = pytest.mark.slow


def body_of(path: Path) -> str:
    from trustbot.corpus import read_article

    return read_article(path).body


def test_ask_quotes_the_chief_executive_sentence(seed_index: Workspace) -> None:
    run = trustbot(*seed_index.args(), "ask", "--json", "Who is the chief executive of the trust?")
    assert run.code == 0, run.err
    answer = json.loads(run.out)
    assert answer["answered"] is True
    assert set(answer) >= {"question", "answered", "answer", "citations"}
    first = answer["citations"][0]
    assert first["text"].startswith("Nick Broughton, who became chief executive")
    assert first["n"] == 1 and first["article_id"] == "southern-health"
    assert "[1]" in answer["answer"]


def test_every_citation_is_verbatim_by_offsets(seed_index: Workspace) -> None:
    body = body_of(SEED)
    raw = SEED.read_text(encoding="utf-8")
    questions = [
        "What did NHS Improvement lift?",
        "How big is the annual turnover of Southern Health?",
        "Which report claimed serious failings?",
        "Who said the progress was encouraging?",
        "What is Southern Health rated as?",
    ]
    run = trustbot(*seed_index.args(), "ask", "--json", input="\n".join(questions) + "\n")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert len(lines) == len(questions)
    for line, q in zip(lines, questions, strict=True):
        answer = json.loads(line)
        assert answer["question"] == q
        assert answer["answered"], q
        for c in answer["citations"]:
            assert body[c["start"] : c["end"]] == c["text"]
            assert c["text"] in raw
            assert isinstance(c["score"], float)
        assert [c["n"] for c in answer["citations"]] == list(range(1, len(answer["citations"]) + 1))


def test_turnover_question_finds_the_amount(seed_index: Workspace) -> None:
    run = trustbot(*seed_index.args(), "ask", "--json", "What is the trust's annual turnover?")
    first = json.loads(run.out)["citations"][0]
    assert "£320m" in first["text"]


def test_who_the_chief_executive_says_it_is_for_is_not_the_chief_executive(
    seed_index: Workspace,
) -> None:
    # A who-question about what a post holder said asks for whom, not for the post holder's name.
    question = "Who does the chief executive say the organisation should be good enough for?"
    run = trustbot(*seed_index.args(), "ask", "--json", question)
    first = json.loads(run.out)["citations"][0]
    assert "our patients and their families deserve" in first["text"]


def test_who_took_the_restrictions_off_finds_who_lifted_them(seed_index: Workspace) -> None:
    # "took ... off" is read as "lifted" (retrieve.PHRASAL_VERBS).
    run = trustbot(
        *seed_index.args(), "ask", "--json", "Which body took the restrictions off the trust?"
    )
    first = json.loads(run.out)["citations"][0]
    assert first["text"].startswith("NHS Improvement has lifted")


def test_who_put_the_undertakings_on_finds_where_they_were_placed(seed_index: Workspace) -> None:
    # "put ... on" is read as "imposed" (retrieve.PHRASAL_VERBS): "the undertakings placed on
    # Southern Health by NHSI in 2016", not the ones the trust "remains subject to".
    question = "Which organisation put the undertakings on the trust to start with?"
    first = json.loads(trustbot(*seed_index.args(), "ask", "--json", question).out)["citations"][0]
    assert first["text"].startswith("This report was commissioned as part of the undertakings")


def test_words_that_say_nothing_of_the_topic_do_not_sink_the_answer(seed_index: Workspace) -> None:
    # "exactly" and "them" are held nowhere; as terms they pulled the coverage of the answer down
    # until the question was refused.
    question = "What day were they lifted on, and what exactly came off them?"
    answer = json.loads(trustbot(*seed_index.args(), "ask", "--json", question).out)
    assert answer["answered"] is True
    assert "lifted on Tuesday" in answer["citations"][0]["text"]


def test_how_far_along_asks_how_they_are_getting_on(seed_index: Workspace) -> None:
    # Not a distance: the chief executive's "we are well on our way", not a number.
    question = "How far along does he think the trust is now?"
    first = json.loads(trustbot(*seed_index.args(), "ask", "--json", question).out)["citations"][0]
    assert "well on our way" in first["text"]


def test_who_flagged_the_areas_is_answered_by_who_highlighted_them(seed_index: Workspace) -> None:
    # The article says "areas highlighted by the Care Quality Commission"; flagged = highlighted.
    question = "Which watchdog flagged the areas covered by the remaining conditions?"
    answer = json.loads(trustbot(*seed_index.args(), "ask", "--json", question).out)
    assert answer["answered"] is True
    assert "highlighted by the Care Quality Commission" in answer["citations"][0]["text"]


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Australia?",
        "How do I bake sourdough bread?",
        "Who won the football world cup in 1966?",
        "How can I complain to Southern Health about my mother's care?",  # advice
    ],
)
def test_off_topic_question_is_not_answered(seed_index: Workspace, question: str) -> None:
    run = trustbot(*seed_index.args(), "ask", "--json", question)
    assert run.code == 0, run.err
    answer = json.loads(run.out)
    assert answer["answered"] is False
    assert answer["citations"] == []
    assert "don't say" in answer["answer"]


def test_plain_text_answer_has_markers_and_sources(seed_index: Workspace) -> None:
    run = trustbot(*seed_index.args(), "ask", "Who is the chief executive of the trust?")
    assert run.code == 0, run.err
    assert "Nick Broughton" in run.out and "[1]" in run.out and "Sources:" in run.out
    assert "\x1b[" not in run.out  # no colour when piped


def test_chat_reads_piped_lines_and_quit_exits_zero(seed_index: Workspace) -> None:
    run = trustbot(
        *seed_index.args(),
        "chat",
        input="Who is the chief executive?\n\nWhat is the capital of Peru?\nquit\nnever asked\n",
    )
    assert run.code == 0, run.err
    assert "Nick Broughton" in run.out
    assert "don't say" in run.out
    assert "never asked" not in run.out


def test_chat_reads_a_follow_up_as_about_the_person_last_quoted(seed_index: Workspace) -> None:
    two = "Who runs the trust now?\nWhen did he start?\n"
    run = trustbot(*seed_index.args(), "chat", input=two)
    assert run.code == 0, run.err
    assert run.out.count("Taking this") == 1
    assert (
        "\n\n(Taking this to be about Nick Broughton, following on from “Who runs the trust "
        "now?”.)\nNick Broughton, who became" in run.out
    )
    # `ask` answers each line on its own: "he" is the man the article quotes, and it says so;
    # nothing is followed on from.
    alone = trustbot(*seed_index.args(), "ask", input=two)
    assert alone.code == 0, alone.err
    assert alone.out.count("Taking this") == 1 and "following on" not in alone.out
    assert "(Taking this to be about Nick Broughton.)\nNick Broughton, who became" in alone.out
    # ask --json says so too, in the extra field "note" (absent when searched as asked).
    both = trustbot(*seed_index.args(), "ask", "--json", input=two)
    first, second = (json.loads(line) for line in both.out.splitlines())
    assert "note" not in first and second["note"] == "(Taking this to be about Nick Broughton.)"


def test_global_options_work_after_the_subcommand_and_from_env(seed_index: Workspace) -> None:
    after = trustbot("ask", "--json", "Who is the chief executive?", *seed_index.args())
    assert after.code == 0, after.err
    env = {
        "TRUSTBOT_CORPUS_DIR": str(seed_index.corpus),
        "TRUSTBOT_INDEX_DIR": str(seed_index.index),
    }
    via_env = trustbot("ask", "--json", "Who is the chief executive?", env=env)
    assert via_env.code == 0, via_env.err
    assert json.loads(after.out) == json.loads(via_env.out)


def test_index_status_json(seed_index: Workspace) -> None:
    run = trustbot(*seed_index.args(), "index", "status", "--json")
    assert run.code == 0, run.err
    status = json.loads(run.out)
    assert status["articles"] == 1 and status["sentences"] >= 12
    assert status["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert status["fresh"] is True
    assert status["token_vectors_missing"] == 0
    assert status["built_at"][:2] == "20"
    [item] = status["items"]
    assert item["id"] == "southern-health" and len(item["sha256"]) == 64 and item["title"]


@pytest.fixture(scope="module")
def two_stories(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The bundled article beside an encyclopedia article about Martin Luther (tests/data)."""
    luther = ROOT / "tests" / "data" / "xquad-r-dev-subset" / "articles" / "martin-luther.txt"
    ws = make_workspace(tmp_path_factory.mktemp("two"), SEED, luther)
    run = trustbot(*ws.args(), "index", "build")
    assert run.code == 0, run.err
    return ws


def test_ask_article_answers_from_that_article_only(two_stories: Workspace) -> None:
    def ask(*args: str) -> Any:
        run = trustbot(*two_stories.args(), "ask", "--json", *args)
        assert run.code == 0, run.err
        return json.loads(run.out)

    luther = "Who went to Wittenberg to hear Luther speak?"
    everywhere = ask(luther)
    assert everywhere["answered"] is True
    assert everywhere["citations"][0]["article_id"] == "martin-luther"
    assert ask("--article", "southern-health", luther) == {
        "question": luther,
        "answered": False,
        "answer": "The articles don't say.",
        "citations": [],
    }
    # By id or by file name, and -a for short.
    for args in (["--article", "Martin Luther.txt"], ["-a", "martin-luther"]):
        own = ask(*args, luther)
        assert own["answered"] is True
        assert own["citations"][0]["text"] == everywhere["citations"][0]["text"]
    trust = ask("-a", "southern-health", "Who is the chief executive of the trust?")
    cited = trust["citations"]
    assert cited and {c["article_id"] for c in cited} == {"southern-health"}
    assert "Nick Broughton" in cited[0]["text"]


def test_a_question_not_answered_names_the_stories_that_come_closest(
    two_stories: Workspace, seed_index: Workspace
) -> None:
    title = (
        'NHS Improvement lifts undertakings at Southern Health as trust makes "encouraging '
        'progress"'
    )
    run = trustbot(*two_stories.args(), "ask", "Who wrote the report?")
    assert run.code == 0, run.err
    assert run.out == (
        "The articles don't say.\n"
        "The stories that come closest (ask of one with --article ID):\n"
        "  martin-luther: Martin Luther\n"
        f"  southern-health: {title}\n"
    )
    run = trustbot(*two_stories.args(), "ask", "--json", "Who wrote the report?")
    assert json.loads(run.out)["stories"] == [
        {"article_id": "martin-luther", "title": "Martin Luther"},
        {"article_id": "southern-health", "title": title},
    ]
    # Asked of one article, or of an index of one, there is no other story to point to.
    for ws, args in ((two_stories, ["-a", "southern-health"]), (seed_index, [])):
        run = trustbot(*ws.args(), "ask", "--json", *args, "What is the capital of Peru?")
        assert json.loads(run.out)["answered"] is False
        assert "stories" not in json.loads(run.out)


def test_chat_article_keeps_to_that_article(two_stories: Workspace) -> None:
    run = trustbot(
        *two_stories.args(),
        "chat",
        "--article",
        "southern-health",
        input="Who went to Wittenberg to hear Luther speak?\nWho runs the trust now?\n",
    )
    assert run.code == 0, run.err
    first, second = run.out.split("\n\n", 1)
    assert first == "The articles don't say."
    assert "Nick Broughton" in second and "martin-luther" not in second


def test_story_in_a_chat_changes_the_articles_asked_of(two_stories: Workspace) -> None:
    luther = "Who went to Wittenberg to hear Luther speak?"
    lines = ["/story", "/story southern-health", luther, "/story nosuch", luther, "/story ALL"]
    run = trustbot(*two_stories.args(), "chat", input="\n".join([*lines, luther, ""]))
    assert run.code == 0
    assert run.err == (
        "trustbot: error: no article 'nosuch' in the index; "
        "`trustbot index status` lists the articles\n"
    )
    replies = run.out.rstrip("\n").split("\n\n")
    assert replies[0].startswith("Asking of every article (2): Martin Luther (martin-luther), ")
    assert replies[1].startswith("Asking only of NHS Improvement lifts undertakings")
    assert replies[2] == replies[3] == "The articles don't say."  # a bad /story changes nothing
    assert replies[4].startswith("Asking of every article (2)")
    assert replies[5].startswith("Students thronged to Wittenberg")


@pytest.mark.parametrize(
    ("command", "stdin"),
    [
        (["ask", "Who is the chief executive?"], None),
        (["ask"], "Who is the chief executive?\n"),
        (["chat"], "Who is the chief executive?\n"),
        (["eval", str(ROOT / "tests" / "questions" / "dev" / "paraphrases.jsonl")], None),
    ],
)
def test_an_unknown_article_exits_2_with_one_line(
    two_stories: Workspace, command: list[str], stdin: str | None
) -> None:
    run = trustbot(*two_stories.args(), *command, "--article", "southern", input=stdin)
    assert run.code == 2 and run.out == ""
    assert run.err == (
        "trustbot: error: no article 'southern' in the index; "
        "`trustbot index status` lists the articles\n"
    )


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "empty"), ("   \t ", "empty"), ("x" * 1001, "limit is 1000")],
)
def test_bad_questions_exit_2_with_one_line(
    seed_index: Workspace, question: str, message: str
) -> None:
    run = trustbot(*seed_index.args(), "ask", question)
    assert run.code == 2
    assert message in run.err
    assert "Traceback" not in run.err and len(run.err.strip().splitlines()) == 1


def test_bad_line_in_a_batch_keeps_the_other_answers(seed_index: Workspace) -> None:
    run = trustbot(
        *seed_index.args(), "ask", "--json", input="x" * 2000 + "\nWho is the chief executive?\n"
    )
    assert run.code == 2
    assert json.loads(run.out)["answered"] is True
    assert "limit is 1000" in run.err


def test_missing_and_empty_corpus_exit_2(tmp_path: Path) -> None:
    run = trustbot(
        "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "i"), "index", "build"
    )
    assert run.code == 2 and "does not exist" in run.err and "Traceback" not in run.err
    (tmp_path / "empty").mkdir()
    run = trustbot(
        "--corpus", str(tmp_path / "empty"), "--index", str(tmp_path / "i"), "ask", "hi?"
    )
    assert run.code == 2 and "has no articles" in run.err


def test_non_utf8_article_exit_2(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, SEED)
    (ws.corpus / "bad.txt").write_bytes(b"caf\xe9 au lait")
    run = trustbot(*ws.args(), "index", "build")
    assert run.code == 2
    assert "bad.txt" in run.err and "UTF-8" in run.err and "Traceback" not in run.err


def test_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, SEED)
    run = trustbot(*ws.args(), "ask", "Who is the chief executive?")
    assert run.code == 1
    assert "trustbot index build" in run.err and "Traceback" not in run.err


def test_corrupt_and_stale_index_are_reported(tmp_path: Path, seed_index: Workspace) -> None:
    ws = make_workspace(tmp_path, SEED)
    shutil.copytree(seed_index.index, ws.index)
    manifest = json.loads((ws.index / "manifest.json").read_text())
    faiss_file = ws.index / manifest["generation"] / "vectors.faiss"
    original = faiss_file.read_bytes()
    faiss_file.write_bytes(b"garbage")
    run = trustbot(*ws.args(), "ask", "Who is the chief executive?")
    assert run.code == 1 and "unreadable" in run.err and "trustbot index build" in run.err
    assert "Traceback" not in run.err
    faiss_file.write_bytes(original)
    (ws.index / "manifest.json").write_text("{not json")
    run = trustbot(*ws.args(), "ask", "Who is the chief executive?")
    assert run.code == 1 and "trustbot index build" in run.err
    (ws.index / "manifest.json").write_text(json.dumps(manifest))
    (ws.corpus / "extra.txt").write_text("A new article about hospitals.", encoding="utf-8")
    run = trustbot(*ws.args(), "ask", "Who is the chief executive?")
    assert run.code == 1 and "out of date" in run.err and "extra" in run.err
    status = json.loads(trustbot(*ws.args(), "index", "status", "--json").out)
    assert status["fresh"] is False
    assert trustbot(*ws.args(), "index", "update").code == 0
    run = trustbot(*ws.args(), "ask", "--json", "Who is the chief executive?")
    assert run.code == 0 and json.loads(run.out)["answered"]


def test_model_mismatch_is_refused(tmp_path: Path, seed_index: Workspace) -> None:
    ws = make_workspace(tmp_path, SEED)
    shutil.copytree(seed_index.index, ws.index)
    path = ws.index / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["model"]["weights_sha256"] = "f" * 64
    path.write_text(json.dumps(manifest))
    run = trustbot(*ws.args(), "ask", "Who is the chief executive?")
    assert run.code == 1 and "built with model" in run.err and "trustbot index build" in run.err


def test_help_is_instant_and_lists_commands() -> None:
    run = trustbot("--help")
    assert run.code == 0
    for command in ("ask", "chat", "index"):
        assert command in run.out


def test_core_does_not_import_front_ends() -> None:
    code = (
        "import sys, trustbot.answer, trustbot.render, trustbot.store; "
        "bad = [m for m in ('telegram', 'click', 'torch', 'faiss', 'sentence_transformers') "
        "if m in sys.modules]; print(bad)"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_readme_quick_start_is_what_the_code_prints(seed_index: Workspace) -> None:
    # The README's sessions are real output: a change to ranking or composition must update them.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "$ printf '"
    start = readme.index(command) + len(command)
    typed, rest = readme[start:].split("' | .venv/bin/trustbot chat\n", 1)
    shown = rest.split("```", 1)[0]
    chat = trustbot(*seed_index.args(), "chat", input=typed.replace("\\n", "\n"))
    assert chat.code == 0, chat.err
    assert chat.out.rstrip("\n") == shown.rstrip("\n")  # the session ends with a blank line
    asked = '$ .venv/bin/trustbot ask --json "Who is the chief executive of the trust?"\n'
    line = readme[readme.index(asked) + len(asked) :].split("\n", 1)[0]
    run = trustbot(*seed_index.args(), "ask", "--json", "Who is the chief executive of the trust?")
    assert run.code == 0, run.err
    assert json.loads(run.out) == json.loads(line)
