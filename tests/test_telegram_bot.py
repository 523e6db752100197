"""The bot end to end: the real PTB polling loop, the real core and model, a stand-in Bot API."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from trustbot.answer import Answer, Answerer, Citation
from trustbot.config import BotSettings, Settings
from trustbot.telegram_bot import (
    HINT_NOT_TEXT,
    NOT_ALLOWED,
    SORRY,
    build_application,
)

from .conftest import SEED, Workspace, make_workspace, trustbot, write_barn_owls
from .fake_bot_api import (
    BOT_USERNAME,
    PHOTO,
    STICKER,
    TOKEN,
    VOICE,
    BotRunner,
    Call,
    FakeBotAPI,
    bot_message,
    message,
    parse_telegram_html,
    text_update,
    utf16_len,
)

pytestmark = pytest.mark.slow

CEO = "Who is the chief executive?"
CEO_SENTENCE = "Nick Broughton, who became chief executive of the trust last autumn, said:"
TITLE = (
    'NHS Improvement lifts undertakings at Southern Health as trust makes "encouraging progress"'
)
OWLS_TITLE = "Barn owls return to the valley"
OWLS_Q = "How many nest boxes hold breeding pairs?"
OWLS_SENTENCE = "Volunteers put up forty nest boxes on farm buildings last winter"
_chat_ids = itertools.count(1001)


def new_chat() -> int:
    return next(_chat_ids)


def new_group() -> int:
    return -100_000 - next(_chat_ids)


class Provider:
    """The zero-argument answerer callable; records the threads it is called from."""

    def __init__(self, answerer: Any) -> None:
        self.current = answerer
        self.threads: list[str] = []

    def __call__(self) -> Any:
        self.threads.append(threading.current_thread().name)
        return self.current


@pytest.fixture(scope="module")
def answerer(seed_index: Workspace) -> Answerer:
    answerer = Answerer.open(Settings(corpus_dir=seed_index.corpus, index_dir=seed_index.index))
    answerer.ask(CEO)  # loads the model, as `trustbot bot` does before it starts polling
    return answerer


@pytest.fixture(scope="module")
def two_stories(tmp_path_factory: pytest.TempPathFactory, answerer: Answerer) -> Answerer:
    """A real index of two articles: 1. the barn owls, 2. the bundled Southern Health one."""
    ws = make_workspace(tmp_path_factory.mktemp("two-stories"), SEED)
    write_barn_owls(ws.corpus)
    run = trustbot(*ws.args(), "index", "build")
    assert run.code == 0, run.err
    settings = Settings(corpus_dir=ws.corpus, index_dir=ws.index)
    return Answerer.open(settings, answerer.embedder)


@pytest.fixture(scope="module")
def no_proxy() -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    mp.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield
    mp.undo()


def start_bot(get_answerer: Callable[[], Any], **settings: Any) -> tuple[FakeBotAPI, BotRunner]:
    api = FakeBotAPI().start()
    values: dict[str, Any] = {
        "token": TOKEN,
        "base_url": api.base_url,
        "rate_limit_per_minute": 100,
    }
    values.update(settings)
    runner = BotRunner(build_application(BotSettings(**values), get_answerer)).start(api)
    return api, runner


@pytest.fixture(scope="module")
def provider(answerer: Answerer) -> Provider:
    return Provider(answerer)


@pytest.fixture(scope="module")
def running(no_proxy: None, provider: Provider) -> Iterator[tuple[FakeBotAPI, BotRunner]]:
    api, runner = start_bot(provider)
    yield api, runner
    runner.stop()
    api.stop()


@pytest.fixture
def api(
    running: tuple[FakeBotAPI, BotRunner], provider: Provider, answerer: Answerer
) -> Iterator[FakeBotAPI]:
    yield running[0]
    provider.current = answerer


def only(api: FakeBotAPI, chat_id: int, n: int = 1, settle: float = 0.4) -> list[Call]:
    """Wait for ``n`` messages to ``chat_id``, then make sure no more arrive."""
    api.wait_messages(chat_id, n)
    time.sleep(settle)
    sent = api.sent(chat_id)
    assert len(sent) == n, [c.text for c in sent]
    return sent


def shown(call: Call) -> str:
    assert call.params.get("parse_mode") == "HTML"
    return parse_telegram_html(call.text)


def reply_in_new_chat(api: FakeBotAPI, text: str) -> str:
    """Send ``text`` from a new private chat; its one reply, as the user sees it."""
    chat = new_chat()
    api.push(text_update(chat, text))
    return shown(only(api, chat)[0])


def test_start_registers_the_menu_and_says_what_it_knows(api: FakeBotAPI) -> None:
    assert {c["command"] for c in api.commands} >= {"start", "help", "ask", "sources", "story"}
    text = reply_in_new_chat(api, "/start")
    assert "I know 1 article" in text and TITLE in text and "/ask" in text


def test_help_mentions_ask(api: FakeBotAPI) -> None:
    text = reply_in_new_chat(api, "/help")
    assert "/ask" in text and "/sources" in text and "follow up" in text
    assert "/story 2" in text and "/story all" in text


def test_sources_lists_the_articles(api: FakeBotAPI) -> None:
    assert f"1. {TITLE}" in reply_in_new_chat(api, "/sources")


def test_private_question_shows_typing_then_a_cited_html_answer(api: FakeBotAPI) -> None:
    chat = new_chat()
    api.push(text_update(chat, CEO))
    reply = only(api, chat)[0]
    calls = api.calls_to(chat)
    # "typing…" first (repeated every few seconds on a slow machine), then the answer.
    assert [c.method for c in calls][-1] == "sendMessage"
    assert {c.method for c in calls[:-1]} == {"sendChatAction"}
    assert calls[0].params["action"] == "typing"
    text = shown(reply)
    assert CEO_SENTENCE in text and "[1]" in text
    assert "Sources" in text and f"[1] {TITLE}, sentence" in text
    # Every quoted sentence is verbatim from the article.
    raw = SEED.read_text(encoding="utf-8")
    quoted = text.split("\n\nSources")[0]
    for sentence in (s.strip() for s in quoted.split("[") if "]" not in s[:3]):
        if sentence:
            assert sentence in raw
    assert json.loads(reply.params["link_preview_options"])["is_disabled"] is True


def test_ask_command(api: FakeBotAPI) -> None:
    assert CEO_SENTENCE in reply_in_new_chat(api, "/ask   Who is the chief executive?")
    assert "/ask Who is the chief executive?" in reply_in_new_chat(api, "/ask")


def test_off_topic_question_gets_a_short_the_articles_dont_say(api: FakeBotAPI) -> None:
    text = reply_in_new_chat(api, "What is the capital of France?")
    assert "The articles don't say." in text
    assert "[1]" not in text and "Nick" not in text
    assert len(text) < 300


def test_hostile_html_in_a_question_is_escaped(api: FakeBotAPI) -> None:
    hostile = '<script>alert("hi")</script> & <b>bold</b> <a href="javascript:x">y</a> &amp;'
    text = reply_in_new_chat(api, hostile)
    assert hostile in text  # shown literally, not interpreted
    assert CEO_SENTENCE in reply_in_new_chat(api, "Who is the <b>chief executive</b>?")


def test_question_length_is_capped(api: FakeBotAPI) -> None:
    text = reply_in_new_chat(api, "why " * 400)
    assert "the limit is 1000" in text


def test_non_text_messages_get_a_one_line_hint_in_private(api: FakeBotAPI) -> None:
    chat = new_chat()
    for extra in (STICKER, PHOTO, VOICE):
        api.push({"message": message(chat, extra=extra)})
    sent = only(api, chat, 3)
    assert all(shown(c) == HINT_NOT_TEXT for c in sent)


def test_edited_messages_and_channel_posts_get_no_reply(api: FakeBotAPI) -> None:
    chat = new_chat()
    original = message(chat, CEO)
    api.push({"message": original})
    only(api, chat)
    api.push(
        {
            "edited_message": {
                **original,
                "text": "Who is the regional director?",
                "edit_date": int(time.time()),
            }
        }
    )
    channel = -1_000_000 - new_chat()
    api.push({"channel_post": message(channel, CEO, chat_type="channel")})
    api.push({"edited_channel_post": message(channel, "/ask " + CEO, chat_type="channel")})
    api.wait_consumed()
    time.sleep(0.5)
    assert len(api.sent(chat)) == 1
    assert api.calls_to(channel) == []


def test_groups_answer_ask_mentions_and_replies_and_ignore_chatter(api: FakeBotAPI) -> None:
    group = new_group()
    kw: dict[str, Any] = {"chat_type": "supergroup", "user_id": 77}
    # Chatter, another bot's command, a sticker, an edit: all ignored.
    api.push(text_update(group, "Lunch anyone? Who is the chief executive of lunch?", **kw))
    api.push(text_update(group, "/ask@some_other_bot " + CEO, **kw))
    api.push({"message": message(group, extra=STICKER, **kw)})
    api.push({"edited_message": {**message(group, "/ask " + CEO, **kw), "edit_date": 1}})
    ask = api.push(text_update(group, f"/ask@{BOT_USERNAME} {CEO}", **kw))
    first = only(api, group)[0]
    assert CEO_SENTENCE in shown(first)
    assert (
        json.loads(first.params["reply_parameters"])["message_id"] == ask["message"]["message_id"]
    )
    # A mention and a reply to the bot are questions too.
    api.push(text_update(group, f"@{BOT_USERNAME} who is the chief executive?", **kw))
    only(api, group, 2)
    earlier = bot_message(group, "an earlier answer", chat_type="supergroup")
    api.push(text_update(group, "And who is the chief executive?", reply_to=earlier, **kw))
    # A reply to somebody else is chatter.
    api.push(
        text_update(group, "who is the chief executive?", reply_to=message(group, "hi", **kw), **kw)
    )
    sent = only(api, group, 3, settle=0.8)
    assert all(CEO_SENTENCE in shown(c) for c in sent)
    assert all(c.params.get("reply_parameters") for c in sent)


def test_a_follow_up_is_read_in_its_users_conversation(api: FakeBotAPI) -> None:
    # "When did he start?" alone is read as about the man the article quotes; after a question
    # answered with the chief executive's words, it also follows on from that question, and the
    # reply says so. Per user, per chat.
    group = new_group()
    alice: dict[str, Any] = {"chat_type": "supergroup", "user_id": 81}
    bob: dict[str, Any] = {"chat_type": "supergroup", "user_id": 82}
    api.push(text_update(group, f"/ask@{BOT_USERNAME} Who runs the trust now?", **alice))
    assert CEO_SENTENCE in shown(only(api, group)[0])
    api.push(text_update(group, f"/ask@{BOT_USERNAME} When did he start?", **bob))
    alone = shown(only(api, group, 2)[1])
    assert alone.startswith("(Taking this to be about Nick Broughton.)")  # bob asked nothing before
    api.push(text_update(group, f"/ask@{BOT_USERNAME} When did he start?", **alice))
    followed = shown(only(api, group, 3)[2])
    assert followed.startswith("(Taking this to be about Nick Broughton, following on from “Who")
    assert CEO_SENTENCE in followed
    assert "following on" not in reply_in_new_chat(api, "When did he start?")


def test_commands_and_mentions_without_entities_still_work(api: FakeBotAPI) -> None:
    """Other Bot API servers may not tag commands and mentions; the text decides then."""
    group = new_group()
    kw: dict[str, Any] = {"chat_type": "group", "user_id": 78, "entities": False}
    api.push(text_update(group, f"/ask@other_bot {CEO}", **kw))
    api.push(text_update(group, f"Hey @{BOT_USERNAME}x, lunch?", **kw))
    api.push(text_update(group, f"/ask@{BOT_USERNAME} {CEO}", **kw))
    only(api, group)
    api.push(text_update(group, f"@{BOT_USERNAME.upper()} {CEO}", **kw))
    sent = only(api, group, 2)
    assert all(CEO_SENTENCE in shown(c) for c in sent)
    chat = new_chat()
    api.push(text_update(chat, "/help", entities=False))
    assert "/ask" in shown(only(api, chat)[0])
    api.push(text_update(chat, "/frobnicate", entities=False))
    assert "don't know that command" in shown(only(api, chat, 2)[1])
    api.push(text_update(chat, f"/ask\n{CEO}", entities=False))
    assert CEO_SENTENCE in shown(only(api, chat, 3)[2])


class LongAnswerer:
    """Returns an answer far over 4,096 characters, full of hostile HTML."""

    articles: ClassVar[list[Any]] = []

    def ask(self, question: str, top_k: int = 3, conversation: Any = None) -> Answer:
        body = " ".join(f"Sentence {i} <b>says</b> “{i} < {i + 1}” & so on." for i in range(120))
        citations = tuple(
            Citation(
                n,
                "evil",
                f"<i>Evil</i> & {n}",
                n,
                body,
                0,
                len(body),
                0.9,
                url=f"https://ex.org/{n}?a=1&b=2",
                published="2017-03-14",
            )
            for n in range(1, 4)
        )
        return Answer(question, True, citations)


def test_a_long_answer_is_split_into_valid_messages(api: FakeBotAPI, provider: Provider) -> None:
    provider.current = LongAnswerer()
    chat = new_chat()
    api.push(text_update(chat, "tell me everything"))
    api.wait_for(lambda: any("Sources" in c.text for c in api.sent(chat)), what="all parts")
    parts = api.sent(chat)
    assert len(parts) >= 4
    assert all(utf16_len(c.text) <= 4096 for c in parts)
    text = "\n".join(shown(c) for c in parts)
    assert text.count("Sentence 119 <b>says</b> “119 < 120” & so on.") == 3
    assert "[3] <i>Evil</i> & 3, sentence 4 · 2017-03-14" in text
    assert not [c for c in api.calls_to(chat) if c.status != 200]


def test_flood_429_is_retried_after_retry_after(api: FakeBotAPI) -> None:
    chat = new_chat()
    api.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    api.push(text_update(chat, "/help"))
    api.wait_messages(chat, 1, timeout=15)
    tries = [c for c in api.calls_to(chat) if c.method == "sendMessage"]
    assert [c.status for c in tries] == [429, 200]
    assert tries[1].at - tries[0].at >= 1.0


def test_network_errors_are_retried_and_never_kill_the_bot(api: FakeBotAPI) -> None:
    api.fail("getUpdates", 502, "Bad Gateway", count=2)
    api.fail("sendMessage", 500, "Internal Server Error")
    chat = new_chat()
    api.push(text_update(chat, CEO))
    sent = api.wait_messages(chat, 1, timeout=20)
    assert CEO_SENTENCE in shown(sent[0])
    assert [c.status for c in api.calls_to(chat) if c.method == "sendMessage"] == [500, 200]


class Broken:
    articles: ClassVar[list[Any]] = []

    def ask(self, question: str, top_k: int = 3, conversation: Any = None) -> Answer:
        raise RuntimeError("the index exploded")


def test_unexpected_errors_get_a_short_apology(
    api: FakeBotAPI, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    provider.current = Broken()
    chat = new_chat()
    api.push(text_update(chat, CEO))
    assert only(api, chat)[0].text == SORRY
    assert "the index exploded" in caplog.text


class Slow:
    """Delegates to the real answerer; questions containing "slowly" take 3 s."""

    def __init__(self, real: Answerer) -> None:
        self.real = real
        self.articles = real.articles

    def ask(self, question: str, top_k: int = 3, conversation: Any = None) -> Answer:
        if "slowly" in question:
            time.sleep(3)
        return self.real.ask(question, top_k)


def test_a_slow_question_does_not_stall_other_chats(
    api: FakeBotAPI, provider: Provider, answerer: Answerer
) -> None:
    provider.current = Slow(answerer)
    slow_chat, quick_chat = new_chat(), new_chat()
    api.push(text_update(slow_chat, "Answer slowly: who is the chief executive?"))
    time.sleep(0.2)
    started = time.monotonic()
    api.push(text_update(quick_chat, CEO))
    api.wait_messages(quick_chat, 1)
    quick = time.monotonic() - started
    assert not api.sent(slow_chat), "the quick chat should not wait for the slow one"
    assert quick < 2.5
    api.wait_messages(slow_chat, 1)
    # The answerer is fetched for each question inside a worker thread.
    assert provider.threads and all(t.startswith("trustbot-answer") for t in provider.threads)


def test_a_burst_of_20_chats_is_answered_promptly(api: FakeBotAPI) -> None:
    chats = [new_chat() for _ in range(20)]
    started = time.monotonic()
    for chat in chats:
        api.push(text_update(chat, CEO))
    api.wait_for(lambda: all(api.sent(c) for c in chats), timeout=30, what="20 answers")
    took = time.monotonic() - started
    print(f"20-chat burst answered in {took:.2f}s")
    assert took < 10
    assert all(CEO_SENTENCE in shown(api.sent(c)[0]) for c in chats)


def test_allow_lists(no_proxy: None, answerer: Answerer) -> None:
    allowed_chat, allowed_user, admin = -500_001, 4242, 99
    api, runner = start_bot(
        lambda: answerer,
        allowed_chats=frozenset({allowed_chat}),
        allowed_users=frozenset({allowed_user}),
        admin_users=frozenset({admin}),
    )
    try:
        stranger = new_chat()
        api.push(text_update(stranger, CEO))
        api.push(text_update(stranger, "/start"))
        other_group = new_group()
        api.push(text_update(other_group, f"/ask@{BOT_USERNAME} {CEO}", chat_type="group"))
        api.push(text_update(allowed_chat, f"/ask {CEO}", chat_type="group", user_id=5))
        api.push(text_update(allowed_user, CEO))
        api.push(text_update(admin, CEO))
        assert CEO_SENTENCE in shown(only(api, allowed_chat)[0])
        assert CEO_SENTENCE in shown(only(api, allowed_user)[0])
        assert CEO_SENTENCE in shown(only(api, admin)[0])
        # A stranger is told once, politely; a stranger group hears nothing.
        assert [c.text for c in only(api, stranger)] == [NOT_ALLOWED]
        assert api.calls_to(other_group) == []
    finally:
        runner.stop()
        api.stop()


def test_per_user_rate_limit(no_proxy: None, answerer: Answerer) -> None:
    admin = 31337
    api, runner = start_bot(
        lambda: answerer, rate_limit_per_minute=2, admin_users=frozenset({admin})
    )
    try:
        chat = new_chat()
        for _ in range(2):
            api.push(text_update(chat, CEO))
        api.wait_messages(chat, 2)
        api.push(text_update(chat, CEO))
        api.push(text_update(chat, CEO))
        sent = only(api, chat, 3)
        assert "2 questions a minute" in shown(sent[2])
        assert "Please try again in" in shown(sent[2])
        # Commands that do not ask anything still work; admins are not limited.
        api.push(text_update(chat, "/help"))
        only(api, chat, 4)
        for _ in range(3):
            api.push(text_update(admin, CEO))
        only(api, admin, 3)
    finally:
        runner.stop()
        api.stop()


def test_stops_cleanly_within_seconds(no_proxy: None, answerer: Answerer) -> None:
    api, runner = start_bot(lambda: answerer)
    chat = new_chat()
    api.push(text_update(chat, CEO))
    api.wait_messages(chat, 1)
    assert runner.stop() < 5
    api.stop()


# --- /story: one user's questions in one chat answered from one article ----------------------


class Chat:
    """One user in one chat: ``say`` sends a message and returns the bot's reply as shown."""

    def __init__(self, api: FakeBotAPI, chat_id: int | None = None, **kw: Any) -> None:
        self.api = api
        self.chat_id = chat_id if chat_id is not None else new_chat()
        self.kw = kw

    def say(self, text: str) -> str:
        seen = len(self.api.sent(self.chat_id))
        self.api.push(text_update(self.chat_id, text, **self.kw))
        return shown(only(self.api, self.chat_id, seen + 1, settle=0.2)[seen])


def test_story_n_answers_from_that_article_only(
    api: FakeBotAPI, provider: Provider, two_stories: Answerer
) -> None:
    provider.current = two_stories
    chat = Chat(api)
    assert "1. Barn owls return to the valley" in chat.say("/sources")
    assert f"2. {TITLE}" in chat.say("/sources")
    # Every article: both questions are answered (each in a chat of its own, so that neither is
    # read as a follow-up of the other).
    assert OWLS_SENTENCE in reply_in_new_chat(api, OWLS_Q)
    assert CEO_SENTENCE in reply_in_new_chat(api, CEO)

    # By file name (or id): only the owls are searched.
    assert OWLS_TITLE in chat.say("/story barn-owls.txt")
    assert OWLS_SENTENCE in chat.say(OWLS_Q)
    assert CEO_SENTENCE not in chat.say(CEO)

    chosen = chat.say("/story 2")
    assert chosen == f"From now on I answer your questions from {TITLE} only. " + (
        "/story all goes back to every article."
    )
    assert f"2. {TITLE} ← your /story" in chat.say("/sources")
    assert "← your /story" not in reply_in_new_chat(api, "/sources")  # another user's chat
    # The owls are not searched any more: the question is refused, and the reply says why.
    refused = chat.say(OWLS_Q)
    assert OWLS_SENTENCE not in refused and "The articles don't say." in refused
    assert f"I read only {TITLE}; /story all asks every article." in refused
    answered = chat.say("/ask " + CEO)
    assert CEO_SENTENCE in answered and "I read only" not in answered

    # Another chat of the same user is not scoped.
    assert OWLS_SENTENCE in Chat(api, user_id=chat.chat_id).say(OWLS_Q)

    # /story all: every article again.
    assert chat.say("/story all") == (
        "From now on I answer your questions from every article I know (2 articles)."
    )
    assert OWLS_SENTENCE in chat.say(OWLS_Q)


def test_a_refusal_names_the_stories_that_come_closest_and_story_picks_one(
    api: FakeBotAPI, provider: Provider, two_stories: Answerer
) -> None:
    provider.current = two_stories
    chat = Chat(api)
    refused = chat.say("How many were counted?")
    assert refused.startswith("🤷 The articles don't say.")
    assert refused.endswith(
        "These stories come closest; to ask about one of them only:\n"
        f"• {OWLS_TITLE}: /story barn-owls\n"
        f"• {TITLE}: /story southern-health"
    )
    assert OWLS_TITLE in chat.say("/story barn-owls")
    # Asked of one story, there is no other story to point to.
    scoped = chat.say("How many were counted?")
    assert "come closest" not in scoped


def test_story_alone_says_where_questions_go_and_how_to_choose(
    api: FakeBotAPI, provider: Provider, two_stories: Answerer
) -> None:
    provider.current = two_stories
    chat = Chat(api)
    status = chat.say("/story")
    assert status.startswith("Your questions are answered from every article I know (2 articles).")
    assert "/story 2" in status and "/story article-id" in status and "/story all" in status
    chat.say("/story southern health")
    status = chat.say("/story")
    assert status.startswith(f"Your questions are answered from one story only: {TITLE}.")
    assert "/story all" in status


def test_story_with_a_bad_number_or_id_keeps_the_scope(
    api: FakeBotAPI, provider: Provider, two_stories: Answerer
) -> None:
    provider.current = two_stories
    chat = Chat(api)
    assert OWLS_TITLE in chat.say("/story 1")
    for bad in ("/story 3", "/story 0", "/story 99999999999999999999"):
        assert chat.say(bad).startswith(f"There is no story {bad.split()[1]}: /sources numbers")
    assert chat.say("/story 3") == (
        "There is no story 3: /sources numbers the 2 articles from 1 to 2."
    )
    assert chat.say("/story <b>unicorns</b>") == (
        "I don't know a story called “<b>unicorns</b>”. Send /story with its number in "
        "/sources, or its id."
    )
    assert chat.say("/story").startswith(
        f"Your questions are answered from one story only: {OWLS_TITLE}."
    )
    assert CEO_SENTENCE not in chat.say(CEO)


def test_changing_the_story_starts_a_fresh_conversation(
    api: FakeBotAPI, provider: Provider, two_stories: Answerer
) -> None:
    provider.current = two_stories
    chat = Chat(api)
    assert CEO_SENTENCE in chat.say("Who runs the trust now?")
    followed = chat.say("When did he start?")
    assert followed.startswith("(Taking this to be about Nick Broughton, following on from “Who")
    assert CEO_SENTENCE in chat.say("Who runs the trust now?")
    chat.say("/story 2")
    alone = chat.say("When did he start?")
    assert alone.startswith("(Taking this to be about Nick Broughton.)")
    # Choosing the story already chosen changes nothing, so the conversation goes on.
    assert CEO_SENTENCE in chat.say("Who runs the trust now?")
    chat.say("/story 2")
    assert chat.say("When did he start?").startswith(
        "(Taking this to be about Nick Broughton, following on from “Who"
    )


def test_story_is_per_user_in_groups_with_or_without_command_entities(
    api: FakeBotAPI, provider: Provider, two_stories: Answerer
) -> None:
    provider.current = two_stories
    group = new_group()
    alice = Chat(api, group, chat_type="supergroup", user_id=91)
    bob = Chat(api, group, chat_type="supergroup", user_id=92)
    carol = Chat(api, group, chat_type="group", user_id=93, entities=False)
    assert OWLS_TITLE in alice.say(f"/story@{BOT_USERNAME} 1")
    assert OWLS_TITLE in carol.say(f"/story@{BOT_USERNAME} barn-owls")
    # Another bot's /story is not ours.
    api.push(text_update(group, "/story@some_other_bot 2", chat_type="supergroup", user_id=92))
    assert CEO_SENTENCE not in alice.say(f"/ask@{BOT_USERNAME} {CEO}")
    assert CEO_SENTENCE not in carol.say(f"/ask@{BOT_USERNAME} {CEO}")
    assert CEO_SENTENCE in bob.say(f"/ask@{BOT_USERNAME} {CEO}")
    assert len(api.sent(group)) == 5


def test_a_story_removed_from_the_index_falls_back_to_every_article(
    api: FakeBotAPI, provider: Provider, two_stories: Answerer, answerer: Answerer
) -> None:
    provider.current = two_stories
    chat, other = Chat(api), Chat(api)
    assert OWLS_TITLE in chat.say("/story barn-owls")
    assert OWLS_TITLE in other.say("/story 1")
    # The owls leave the index (the live answerer now serves an index of the one article).
    provider.current = answerer
    reply = chat.say(CEO)
    assert reply.startswith(
        f"{OWLS_TITLE} is no longer among the articles, so your questions go to every "
        "article now.\n\n"
    )
    assert CEO_SENTENCE in reply
    assert "no longer" not in chat.say(CEO)
    assert chat.say("/story").startswith(
        "Your questions are answered from every article I know (1 article)."
    )
    # /story alone notices too.
    status = other.say("/story")
    assert status.startswith(f"{OWLS_TITLE} is no longer among the articles")
    assert "every article I know (1 article)" in status
    assert "no longer" not in other.say(CEO)
