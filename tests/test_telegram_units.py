"""Bot pieces without a network: settings checks, token redaction, the per-user rate limit."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from telegram.error import InvalidToken

from trustbot import telegram_bot
from trustbot.answer import Answerer, Story
from trustbot.config import BotSettings
from trustbot.corpus import parse_article
from trustbot.embed import HashEmbedder
from trustbot.errors import BadInput, UnknownArticle
from trustbot.followup import Conversation
from trustbot.store import load_index, write_index
from trustbot.telegram_bot import (
    COMMANDS,
    RateLimiter,
    RedactingFormatter,
    StoryNumberOutOfRange,
    TokenRedactor,
    TrustBot,
    check_settings,
    configure_logging,
)

TOKEN = "123456789:AAHsecretSECRETsecret-_0123456789abc"


def test_check_settings_accepts_a_good_token_and_refuses_bad_ones() -> None:
    check_settings(BotSettings(token=TOKEN))
    check_settings(BotSettings(token="123:abc"))
    for bad in ("", "abc", "123:", ":abc", "123:abc def", "12a:abc", f"{TOKEN}\n"):
        with pytest.raises(BadInput) as err:
            check_settings(BotSettings(token=bad))
        if bad:
            assert bad.strip() not in str(err.value)


def test_webhook_mode_needs_a_valid_secret_and_url() -> None:
    ok = BotSettings(token=TOKEN, webhook_url="https://bot.example.org/hook", secret_token="abc_-1")
    check_settings(ok)
    for overrides in (
        {"secret_token": None},
        {"secret_token": "has space"},
        {"secret_token": "x" * 257},
        {"webhook_url": "bot.example.org/hook"},
        {"port": 0},
    ):
        values = {**ok.__dict__, **overrides}
        with pytest.raises(BadInput):
            check_settings(BotSettings(**values))


def test_bot_settings_read_webhook_settings_from_the_environment() -> None:
    s = BotSettings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TRUSTBOT_WEBHOOK_URL": "https://x.org/h",
            "TRUSTBOT_WEBHOOK_PORT": "8443",
            "TRUSTBOT_WEBHOOK_SECRET": "sec",
            "TRUSTBOT_WEBHOOK_LISTEN": "0.0.0.0",
        },
        port=None,
    )
    assert (s.webhook_url, s.port, s.secret_token, s.listen) == (
        "https://x.org/h",
        8443,
        "sec",
        "0.0.0.0",
    )
    with pytest.raises(BadInput):
        BotSettings.from_env({"TRUSTBOT_WEBHOOK_PORT": "eighty"})


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    redactor = TokenRedactor([TOKEN])
    handler.addFilter(redactor)
    handler.setFormatter(RedactingFormatter(redactor, "%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("trustbot.test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_the_token_is_redacted_in_messages_args_and_tracebacks(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    secret = TOKEN.split(":")[1]
    logger.info("POST https://api.telegram.org/bot%s/getMe", TOKEN)
    logger.warning(f"quoted: {TOKEN.replace(':', '%3A')} bare secret: {secret}")
    try:
        raise InvalidToken(f"The token `{TOKEN}` was rejected by the server.")
    except InvalidToken:
        logger.exception("start-up failed")
    try:
        try:
            raise ValueError(f"url=https://x/bot{TOKEN}/sendMessage")
        except ValueError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError:
        logger.error("chained", exc_info=True, stack_info=True)
    out = stream.getvalue()
    assert TOKEN not in out and secret not in out
    assert out.count("[REDACTED]") >= 5
    assert "Traceback" in out and "InvalidToken" in out


def test_configure_logging_quiets_httpx_and_covers_existing_handlers() -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    levels = {n: logging.getLogger(n).level for n in ("httpx", "httpcore", "trustbot", "telegram")}
    try:
        configure_logging([TOKEN])
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        logging.getLogger("trustbot.telegram_bot").warning("token is %s", TOKEN)
        assert TOKEN not in stream.getvalue() and "[REDACTED]" in stream.getvalue()
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_rate_limiter_allows_n_per_minute_per_user() -> None:
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.hit(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.hit(1)
    assert 59 < wait <= 60
    assert limiter.hit(2) == 0.0  # other users are not affected
    assert limiter.should_warn(1, wait) is True
    assert limiter.should_warn(1, wait) is False  # warned once per window
    now[0] = 30.0
    assert limiter.hit(1) == pytest.approx(30.0)
    now[0] = 60.5
    assert limiter.hit(1) == 0.0
    assert limiter.should_warn(1, 1.0) is True


# --- /story: sessions and finding the story -----------------------------------------------------


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[TrustBot]:
    """A bot over a real index of two tiny articles (the fake embedder): 1. barn owls, 2. bats."""
    emb = HashEmbedder()
    owls = parse_article("---\ntitle: Barn owls\n---\nBarn owls nest here.", "barn-owls")
    bats = parse_article("---\ntitle: Bats\n---\nBats roost in the mill.", "bats")
    write_index(tmp_path, [owls, bats], emb)
    answerer = Answerer(load_index(tmp_path, emb), emb)
    made = TrustBot(BotSettings(token=TOKEN), lambda: answerer)
    yield made
    made.pool.shutdown()


def test_story_is_in_the_menu() -> None:
    assert "story" in dict(COMMANDS)


def test_sessions_keep_the_story_beside_the_conversation_and_are_bounded(
    bot: TrustBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram_bot, "MAX_CONVERSATIONS", 3)
    owls = Story("barn-owls", "Barn owls")
    first = bot.conversation(1, 10)
    assert bot.session(1, 10).story is None
    bot.choose_story(1, 10, owls)
    chosen = bot.session(1, 10)
    assert chosen.story == owls and chosen.conversation is not first  # a fresh conversation
    bot.choose_story(1, 10, Story("barn-owls", "Barn owls"))  # the same story: no change
    assert bot.session(1, 10).conversation is chosen.conversation
    assert bot.session(1, 11).story is None and bot.session(2, 10).story is None  # per user, chat
    bot.session(1, 10)  # used again: now the most recent
    bot.session(3, 10)
    assert len(bot._sessions) == 3
    assert (1, 11) not in bot._sessions  # the least recently used is forgotten
    assert bot.session(1, 10).story == owls
    bot.choose_story(1, 10, None)
    assert bot.session(1, 10).story is None
    assert isinstance(bot.session(1, 10).conversation, Conversation)


def test_find_story_by_number_id_or_file_name(bot: TrustBot) -> None:
    owls = Story("barn-owls", "Barn owls")
    assert bot._find_story("1") == owls
    assert bot._find_story("#1") == owls
    assert bot._find_story("barn-owls") == owls
    assert bot._find_story("Barn Owls") == owls
    assert bot._find_story("barn-owls.txt") == owls
    for bad in ("0", "3", "12345678901234567890"):
        with pytest.raises(StoryNumberOutOfRange) as out:
            bot._find_story(bad)
        assert out.value.count == 2
    with pytest.raises(UnknownArticle):
        bot._find_story("unicorns")
    assert bot._find_story("2") == Story("bats", "Bats")


def test_story_refusals_are_one_friendly_line() -> None:
    refusal = telegram_bot._story_refusal
    assert refusal(StoryNumberOutOfRange(7, 2)) == (
        "There is no story 7: /sources numbers the 2 articles from 1 to 2."
    )
    assert refusal(StoryNumberOutOfRange(2, 1)).endswith("the 1 article from 1 to 1.")
    assert refusal(StoryNumberOutOfRange(1, 0)) == "I have no articles yet."
    unknown = refusal(UnknownArticle("x" * 100))
    assert unknown.startswith("I don't know a story called “xxx") and "…”" in unknown
    assert "trustbot index" not in unknown  # no operator's hint for a chat user
    assert all("\n" not in r for r in (unknown, refusal(StoryNumberOutOfRange(7, 2))))
