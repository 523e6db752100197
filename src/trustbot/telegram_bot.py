"""The Telegram bot: a python-telegram-bot ``Application`` wired to the core.

Handlers are small: they decide whether a message is a question for us, then hand it to the
core (``Answerer.ask``, run in a bounded thread pool off the event loop) and send what
``telegram_render`` made of the answer. The answerer comes from a zero-argument callable that is
called for every question inside the worker thread, so a live-reloading provider can be swapped
in without touching the bot.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import urllib.parse
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from telegram import (
    BotCommand,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from trustbot import telegram_render as render
from trustbot.answer import Story
from trustbot.config import BotSettings
from trustbot.errors import BadInput, TrustbotError, UnknownArticle
from trustbot.followup import Conversation

if TYPE_CHECKING:
    from trustbot.answer import Answer, Answerer
    from trustbot.config import Settings
    from trustbot.ingest import LifecycleReport

log = logging.getLogger(__name__)

T = TypeVar("T")
Context = ContextTypes.DEFAULT_TYPE
GetAnswerer = Callable[[], "Answerer"]
# /reindex: re-scan the corpus folder and update the index (blocking; run off the event loop).
Reindex = Callable[[], "LifecycleReport"]

# Bot API tokens are "<bot id>:<secret>"; the secret uses the URL-safe base64 alphabet.
TOKEN_RE = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{1,200}")
SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
COMMANDS = (
    ("ask", "Ask a question about the articles"),
    ("sources", "List the articles I know"),
    ("story", "Ask about one article only (/story all: every article)"),
    ("help", "How to ask"),
    ("start", "What I know and how to ask"),
)
# Only plain new messages reach the handlers: edited messages and channel posts never produce a
# second (or broken) reply. We also ask Telegram not to send anything else.
NEW_MESSAGE = filters.UpdateType.MESSAGE
ALLOWED_UPDATES = [Update.MESSAGE]
TYPING_EVERY = 4.5  # seconds; Telegram shows "typing…" for about 5 s
SEND_ATTEMPTS = 4
HINT_NOT_TEXT = "I can only read text. Ask me a question about the articles in words, or see /help."
HINT_UNKNOWN_COMMAND = "I don't know that command. Try /ask, /sources or /help."
HINT_EMPTY_ASK = "Ask me something after the command, like: /ask Who is the chief executive?"
SORRY = "Sorry, something went wrong while answering. Please try again in a moment."
NOT_ALLOWED = "Sorry, this bot is private."
# Sessions remembered (one per user per chat: the conversation, for follow-ups, and the story
# chosen with /story); the least recently used go first.
MAX_CONVERSATIONS = 10_000
# What "/story all" may be spelt as.
STORY_ALL = frozenset({"all", "every", "everything", "*"})


@dataclass
class Session:
    """One user's state in one chat: the conversation and the chosen story (None: every one)."""

    conversation: Conversation = field(default_factory=Conversation)
    # The article chosen with /story (its title kept to name it once it is gone).
    story: Story | None = None


# --- settings checks (before anything starts) ---------------------------------------------------


def check_settings(settings: BotSettings) -> None:
    """Raise ``BadInput`` for a missing or malformed token or webhook setting (never echoing it)."""
    if not settings.token:
        raise BadInput(
            "no Telegram bot token: set TELEGRAM_BOT_TOKEN or pass --token-file "
            "(create a bot and get its token from @BotFather)"
        )
    if not TOKEN_RE.fullmatch(settings.token):
        raise BadInput(
            "the Telegram bot token is malformed: it should look like 123456789:AAE... "
            "as given by @BotFather (check TELEGRAM_BOT_TOKEN or --token-file)"
        )
    if settings.rate_limit_per_minute < 1:
        raise BadInput("the rate limit must be at least 1 question per minute")
    if settings.workers < 1:
        raise BadInput("the bot needs at least one worker")
    if settings.webhook_url is None:
        return
    parts = urllib.parse.urlsplit(settings.webhook_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadInput(
            "--webhook-url must be the public https:// URL Telegram posts updates to, "
            "e.g. https://bot.example.org/telegram"
        )
    if not settings.secret_token:
        raise BadInput(
            "webhook mode needs a secret token: pass --secret-token or set TRUSTBOT_WEBHOOK_SECRET "
            "(1-256 characters: letters, digits, _ and -)"
        )
    if not SECRET_TOKEN_RE.fullmatch(settings.secret_token):
        raise BadInput("the webhook secret token may only hold 1-256 letters, digits, _ and -")
    if not 0 < settings.port < 65536:
        raise BadInput(f"--port must be between 1 and 65535, got {settings.port}")


# --- keeping the token out of logs ----------------------------------------------------------------


class TokenRedactor(logging.Filter):
    """Replaces secrets in log records, including formatted tracebacks, with ``[REDACTED]``.

    Attach it to handlers (a filter on a logger does not see records propagated from child
    loggers); ``RedactingFormatter`` applies it once more to the final text. Without
    ``tracebacks`` an exception is condensed to its last line (``--debug`` shows it in full).
    """

    MASK = "[REDACTED]"

    def __init__(self, secrets: Iterable[str], *, tracebacks: bool = True) -> None:
        super().__init__()
        self.tracebacks = tracebacks
        variants: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            variants.add(secret)
            variants.add(urllib.parse.quote(secret, safe=""))
            # The part after the colon is the real secret; catch it on its own too.
            _, _, tail = secret.partition(":")
            if len(tail) >= 8:
                variants.add(tail)
        self._secrets = sorted(variants, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, self.MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            if self.tracebacks:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            else:
                _, exc, _ = record.exc_info
                record.exc_text = f"{type(exc).__name__}: {exc}" if exc else ""
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class RedactingFormatter(logging.Formatter):
    """A formatter whose output never contains the secrets (the last line of defence)."""

    def __init__(self, redactor: TokenRedactor, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor.redact(super().format(record))


def configure_logging(
    secrets: Iterable[str], *, debug: bool = False, stream: Any = None
) -> TokenRedactor:
    """Set up the bot's logs: timestamps, our INFO lines, httpx quiet, secrets redacted."""
    redactor = TokenRedactor(secrets, tracebacks=debug)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(stream))
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    for handler in root.handlers:
        handler.addFilter(redactor)
        handler.setFormatter(RedactingFormatter(redactor, fmt))
    # httpx logs every request URL at INFO, and Bot API URLs carry the token.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not debug:
        logging.getLogger("trustbot").setLevel(logging.INFO)
        logging.getLogger("telegram").setLevel(logging.WARNING)
    return redactor


# --- per-user rate limit -----------------------------------------------------------------------


class RateLimiter:
    """At most ``per_minute`` questions per key in any 60-second window."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._hits: dict[int, deque[float]] = {}
        self._warned_until: dict[int, float] = {}

    def hit(self, key: int) -> float:
        """Record a question; return 0 if allowed, else the seconds until the next is allowed."""
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - 60:
            hits.popleft()
        if len(hits) < self.per_minute:
            hits.append(now)
            if len(self._hits) > 10_000:  # keep memory bounded on a busy public bot
                self._forget(now)
            return 0.0
        return max(0.1, hits[0] + 60 - now)

    def should_warn(self, key: int, wait: float) -> bool:
        """Warn a user once per refusal window rather than on every message."""
        now = self.clock()
        if self._warned_until.get(key, 0.0) > now:
            return False
        self._warned_until[key] = now + wait
        return True

    def _forget(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - 60]:
            del self._hits[key]
        for key in [k for k, t in self._warned_until.items() if t <= now]:
            del self._warned_until[key]


# --- the bot -----------------------------------------------------------------------------------


class TrustBot:
    """Handlers and their shared state (thread pool, rate limiter, access lists)."""

    def __init__(
        self,
        settings: BotSettings,
        get_answerer: GetAnswerer,
        *,
        warm_up: bool = False,
        reindex: Reindex | None = None,
    ) -> None:
        self.settings = settings
        self.get_answerer = get_answerer
        self.warm_up = warm_up
        self.reindexer = reindex
        self._reindexing = False
        self.pool = ThreadPoolExecutor(
            max_workers=settings.workers, thread_name_prefix="trustbot-answer"
        )
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        # Each user's session in each chat, so a follow-up is read with what came before and
        # questions go to the story the user chose.
        self._sessions: OrderedDict[tuple[int, int], Session] = OrderedDict()
        self._refused: set[int] = set()

    # - plumbing -
    async def in_pool(self, fn: Callable[[], T]) -> T:
        """Run blocking core work in the bounded pool; the event loop only does I/O."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn)

    def allowed(self, update: Update) -> bool:
        """Allow-lists: empty means everyone; a listed chat or user (or an admin) is let in."""
        s = self.settings
        if not s.allowed_chats and not s.allowed_users:
            return True
        chat, user = update.effective_chat, update.effective_user
        if user is not None and (user.id in s.allowed_users or user.id in s.admin_users):
            return True
        return chat is not None and chat.id in s.allowed_chats

    def session(self, chat_id: int, user_id: int) -> Session:
        """The user's session in this chat; the least recently used are forgotten first."""
        key = (chat_id, user_id)
        found = self._sessions.pop(key, None) or Session()
        self._sessions[key] = found
        if len(self._sessions) > MAX_CONVERSATIONS:
            self._sessions.popitem(last=False)
        return found

    def conversation(self, chat_id: int, user_id: int) -> Conversation:
        """The user's conversation in this chat."""
        return self.session(chat_id, user_id).conversation

    def choose_story(self, chat_id: int, user_id: int, story: Story | None) -> None:
        """Send the user's questions in this chat to ``story`` (None: every article); a change
        starts a fresh conversation, so that follow-ups do not cross stories."""
        session = self.session(chat_id, user_id)
        if session.story != story:
            session.story = story
            session.conversation = Conversation()

    async def send(self, message: Message, html: str, *, quote: bool | None = None) -> None:
        """Send ``html`` as one or more messages; the first replies to ``message`` in groups."""
        if quote is None:
            quote = message.chat.type != ChatType.PRIVATE
        thread = message.message_thread_id if message.is_topic_message else None
        for i, part in enumerate(render.split_html(html)):
            reply = (
                ReplyParameters(message.message_id, allow_sending_without_reply=True)
                if quote and i == 0
                else None
            )
            await self._send_part(message.get_bot(), message.chat_id, part, reply, thread)

    async def _send_part(
        self,
        bot: Any,
        chat_id: int,
        text: str,
        reply: ReplyParameters | None,
        thread: int | None,
    ) -> None:
        # 429s are retried by AIORateLimiter; here, transient network trouble is retried with
        # backoff. A BadRequest is our bug (or a deleted chat), so it is not retried.
        delay = 0.5
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                await bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_parameters=reply,
                    message_thread_id=thread,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
                return
            except (BadRequest, RetryAfter):
                raise
            except NetworkError as err:
                if attempt == SEND_ATTEMPTS:
                    raise
                log.warning(
                    "sending to chat %s failed (%s); retrying in %.1fs", chat_id, err, delay
                )
                await asyncio.sleep(delay)
                delay *= 2

    async def typing(self, message: Message) -> None:
        """Show "typing…"; a failure here must not stop the answer."""
        try:
            await message.get_bot().send_chat_action(
                message.chat_id,
                ChatAction.TYPING,
                message_thread_id=message.message_thread_id if message.is_topic_message else None,
            )
        except TelegramError as err:
            log.debug("typing indicator failed in chat %s: %s", message.chat_id, err)

    async def answer(self, message: Message, question: str) -> None:
        """Rate-limit, show typing, ask the core in the pool, send the rendered answer."""
        from trustbot.answer import clean_question

        user_id = _user_id(message)
        if user_id not in self.settings.admin_users:
            wait = self.limiter.hit(user_id)
            if wait:
                if self.limiter.should_warn(user_id, wait):
                    await self.send(
                        message,
                        render.render_notice(
                            f"You're asking faster than I can keep up: up to "
                            f"{self.settings.rate_limit_per_minute} questions a minute. "
                            f"Please try again in {wait:.0f} s."
                        ),
                    )
                return
        try:
            q = clean_question(question)
        except BadInput as err:
            await self.send(message, render.render_notice(f"Sorry, {err}."))
            return
        await self.typing(message)
        session = self.session(message.chat_id, user_id)
        story, conversation = session.story, session.conversation

        def ask() -> tuple[Answer, bool]:
            answerer = self.get_answerer()
            if story is None:
                return answerer.ask(q, conversation=conversation), False
            try:
                answerer = answerer.within((story.article_id,))
            except UnknownArticle:  # the story left the index
                return answerer.ask(q, conversation=Conversation()), True
            return answerer.ask(q, conversation=conversation), False

        task = asyncio.ensure_future(self.in_pool(ask))
        while True:
            done, _ = await asyncio.wait({task}, timeout=TYPING_EVERY)
            if done:
                break
            await self.typing(message)
        try:
            result, gone = task.result()
        except BadInput as err:
            await self.send(message, render.render_notice(f"Sorry, {err}."))
            return
        except TrustbotError as err:
            # Index trouble is for the operator; the user gets an apology, not a fix-it hint.
            log.error("cannot answer in chat %s: %s", message.chat_id, err)
            await self.send(message, render.render_notice(SORRY))
            return
        log.info(
            "chat %s: answered=%s citations=%d%s",
            message.chat_id,
            result.answered,
            len(result.citations),
            f" story={story.article_id}" if story else "",
        )
        html = render.render_answer(result)
        if story is not None and gone:
            if session.story == story:  # unless /story changed it while we were answering
                self.choose_story(message.chat_id, user_id, None)
            html = render.render_story_gone(story.title) + "\n\n" + html
        elif story is not None and not result.answered:
            html += "\n" + render.render_story_unanswered(story.title)
        await self.send(message, html)

    # - handlers -
    async def gate(self, update: Update, context: Context) -> None:
        """Drop updates from chats and users that are not on the allow-lists."""
        if self.allowed(update):
            return
        chat, message = update.effective_chat, update.message
        log.info("ignored an update from chat %s (not allowed)", chat.id if chat else None)
        if (
            message is not None
            and chat is not None
            and chat.type == ChatType.PRIVATE
            and chat.id not in self._refused
        ):
            self._refused.add(chat.id)
            await self.send(message, render.render_notice(NOT_ALLOWED))
        raise ApplicationHandlerStop

    async def start(self, update: Update, context: Context) -> None:
        """/start: what the bot knows and how to ask."""
        articles = await self.in_pool(lambda: list(self.get_answerer().articles))
        await self.send(_msg(update), render.render_start(articles, context.bot.username))

    async def help(self, update: Update, context: Context) -> None:
        """/help: how to ask."""
        await self.send(_msg(update), render.render_help(context.bot.username))

    async def sources(self, update: Update, context: Context) -> None:
        """/sources: the articles in the index with titles and dates, the user's story marked."""
        message = _msg(update)
        user_id = _user_id(message)
        story = self.session(message.chat_id, user_id).story
        articles = await self.in_pool(lambda: list(self.get_answerer().articles))
        await self.send(
            message, render.render_sources(articles, story.article_id if story else None)
        )

    async def story(self, update: Update, context: Context) -> None:
        """/story [N | article id | all]: which articles this user's questions are answered from."""
        message = _msg(update)
        user_id = _user_id(message)
        session = self.session(message.chat_id, user_id)
        arg = " ".join(_after_command(message).split())
        if arg.lower() in STORY_ALL:
            count = await self.in_pool(lambda: len(self.get_answerer().articles))
            self.choose_story(message.chat_id, user_id, None)
            await self.send(message, render.render_story_all(count))
            return
        if not arg:
            # Whether the chosen story is still there, and how many articles there are.
            ids = await self.in_pool(lambda: [a.id for a in self.get_answerer().articles])
            story = session.story
            if story is not None and story.article_id not in ids:
                self.choose_story(message.chat_id, user_id, None)
                gone = render.render_story_gone(story.title) + "\n\n"
                await self.send(message, gone + render.render_story(len(ids), None))
                return
            await self.send(message, render.render_story(len(ids), story.title if story else None))
            return
        try:
            chosen = await self.in_pool(lambda: self._find_story(arg))
        except (StoryNumberOutOfRange, UnknownArticle) as err:
            await self.send(message, render.render_notice(_story_refusal(err)))
            return
        self.choose_story(message.chat_id, user_id, chosen)
        log.info("chat %s: a user chose the story %s", message.chat_id, chosen.article_id)
        await self.send(message, render.render_story_chosen(chosen.title))

    def _find_story(self, arg: str) -> Story:
        """The article ``arg`` names: its number in /sources, its id or its file name (blocking:
        the scope is built here, so the first question in it does not wait for that)."""
        answerer = self.get_answerer()
        number = arg.removeprefix("#")
        if number.isdigit():
            articles = answerer.articles
            if not 1 <= int(number) <= len(articles):
                raise StoryNumberOutOfRange(int(number), len(articles))
            arg = articles[int(number) - 1].id
        article = answerer.within((arg,)).articles[0]  # UnknownArticle if there is none
        return Story(article.id, article.title)

    async def ask(self, update: Update, context: Context) -> None:
        """/ask <question>."""
        message = _msg(update)
        question = _after_command(message)
        if not question.strip():
            await self.send(message, render.render_notice(HINT_EMPTY_ASK))
            return
        await self.answer(message, question)

    async def private_text(self, update: Update, context: Context) -> None:
        """Plain text in a private chat is a question."""
        message = _msg(update)
        if await self._untagged_command(update, context, private=True):
            return
        await self.answer(message, message.text or "")

    async def group_text(self, update: Update, context: Context) -> None:
        """In groups, answer mentions of the bot and replies to it; ignore other chatter."""
        message = _msg(update)
        if await self._untagged_command(update, context, private=False):
            return
        question = addressed_question(message, context.bot.id, context.bot.username)
        if question is None:
            return
        if not question.strip():
            await self.send(message, render.render_help(context.bot.username))
            return
        await self.answer(message, question)

    async def _untagged_command(self, update: Update, context: Context, *, private: bool) -> bool:
        """Handle a "/command" that arrived without a bot_command entity; True if it was one.

        Telegram always tags commands, but other Bot API servers may not; the text decides then.
        """
        parsed = textual_command(_msg(update).text or "", context.bot.username)
        if parsed is None:
            return False
        handlers = {
            "start": self.start,
            "help": self.help,
            "sources": self.sources,
            "story": self.story,
            "ask": self.ask,
        }
        handler = handlers.get(parsed)
        if handler is not None:
            await handler(update, context)
        elif private and parsed:
            await self.unknown_command(update, context)
        return True

    async def not_text(self, update: Update, context: Context) -> None:
        """Stickers, photos, voice and the like in a private chat get a one-line hint."""
        await self.send(_msg(update), render.render_notice(HINT_NOT_TEXT))

    async def unknown_command(self, update: Update, context: Context) -> None:
        """An unknown command in a private chat."""
        await self.send(_msg(update), render.render_notice(HINT_UNKNOWN_COMMAND))

    async def reindex(self, update: Update, context: Context) -> None:
        """/reindex (admins only): re-scan the articles folder and update the index."""
        message = _msg(update)
        user = message.from_user
        if self.reindexer is None or user is None or user.id not in self.settings.admin_users:
            await self.send(message, render.render_notice("Sorry, /reindex is for admins only."))
            return
        if self._reindexing:
            await self.send(message, render.render_notice("A re-index is already running."))
            return
        self._reindexing = True
        try:
            await self.send(message, render.render_notice("Re-indexing the articles folder…"))
            # Its own thread: embedding takes seconds and must not hold up the answer pool.
            report = await asyncio.to_thread(self.reindexer)
        except TrustbotError as err:
            log.error("/reindex failed: %s", err)
            await self.send(message, render.render_notice(f"Re-index failed: {err}"))
            return
        finally:
            self._reindexing = False
        log.info("/reindex by %s: %s", user.id, report.summary())
        lines = [report.summary() + "."]
        lines += [f"Skipped {p.message}" for p in report.problems]
        lines += [f"Not indexed twice: {d.name} (same as {d.same_as})" for d in report.duplicates]
        await self.send(message, render.render_notice("\n".join(lines)))

    async def on_error(self, update: object, context: Context) -> None:
        """Log the error and, where a user is waiting, reply with a short apology."""
        err = context.error
        if isinstance(err, NetworkError) and not isinstance(err, BadRequest):
            log.warning("network trouble talking to Telegram: %s", err)
        else:
            log.error("error while handling an update", exc_info=err)
        if (
            isinstance(update, Update)
            and update.message is not None
            and not isinstance(err, Forbidden | InvalidToken)
        ):
            try:
                await update.message.get_bot().send_message(update.message.chat_id, SORRY)
            except TelegramError as send_err:
                log.warning("could not send the apology: %s", send_err)

    # - lifecycle -
    async def post_init(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Load the model (once Telegram accepted the token), register the command menu."""
        if self.warm_up:
            # The model loads on first use: pay for it now, not in the first user's wait.
            started = time.monotonic()
            await self.in_pool(lambda: self.get_answerer().ask("What are the articles about?"))
            log.info("model ready in %.1fs", time.monotonic() - started)
        try:
            await app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
        except TelegramError as err:
            log.warning("could not register the command menu: %s", err)
        log.info("bot @%s is running", app.bot.username)

    async def post_shutdown(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Let go of the worker threads."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        log.info("bot stopped")

    def register(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Add the handlers, most specific first."""
        private = filters.ChatType.PRIVATE
        groups = filters.ChatType.GROUPS
        handler: Callable[[Update, Context], Awaitable[None]]
        app.add_handler(TypeHandler(Update, self.gate), group=-1)
        for name, handler in (
            ("start", self.start),
            ("help", self.help),
            ("sources", self.sources),
            ("story", self.story),
            ("ask", self.ask),
            ("reindex", self.reindex),  # admins only, so not in the public COMMANDS menu
        ):
            app.add_handler(CommandHandler(name, handler, filters=NEW_MESSAGE))
        app.add_handler(
            MessageHandler(NEW_MESSAGE & private & filters.COMMAND, self.unknown_command)
        )
        app.add_handler(MessageHandler(NEW_MESSAGE & private & filters.TEXT, self.private_text))
        app.add_handler(
            MessageHandler(NEW_MESSAGE & groups & filters.TEXT & ~filters.COMMAND, self.group_text)
        )
        app.add_handler(MessageHandler(NEW_MESSAGE & private & ~filters.TEXT, self.not_text))
        app.add_error_handler(self.on_error)


class StoryNumberOutOfRange(BadInput):
    """/story N with no article N in /sources."""

    def __init__(self, n: int, count: int) -> None:
        super().__init__(f"no story {n}")
        self.n = n
        self.count = count


def _story_refusal(err: StoryNumberOutOfRange | UnknownArticle) -> str:
    """One friendly line for a /story argument that names no article."""
    if isinstance(err, StoryNumberOutOfRange):
        if not err.count:
            return "I have no articles yet."
        return (
            f"There is no story {err.n}: /sources numbers the {render.count_articles(err.count)} "
            f"from 1 to {err.count}."
        )
    name = err.name if len(err.name) <= 60 else err.name[:59] + "…"
    return (
        f"I don't know a story called “{name}”. Send /story with its number in /sources, or its id."
    )


def _user_id(message: Message) -> int:
    """Who sent ``message`` (the chat, for a message with no sender, as in a channel)."""
    return message.from_user.id if message.from_user else message.chat_id


def _msg(update: Update) -> Message:
    # Every handler is filtered to new messages, so this is never None.
    assert update.message is not None
    return update.message


def _after_command(message: Message) -> str:
    """The text after a leading /command (keeps the question as typed)."""
    text = message.text or ""
    for entity, value in message.parse_entities([MessageEntity.BOT_COMMAND]).items():
        if entity.offset == 0:
            return text[len(value) :]
    parts = text.split(None, 1)
    return parts[1] if len(parts) == 2 else ""


_COMMAND_TEXT = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)")


def textual_command(text: str, bot_username: str | None) -> str | None:
    """The command name if ``text`` starts with one; "" if it is addressed to another bot."""
    m = _COMMAND_TEXT.match(text)
    if m is None:
        return None
    command, target = m.group(1).lower(), m.group(2)
    if target and target.lower() != (bot_username or "").lower():
        return ""
    return command


def addressed_question(message: Message, bot_id: int, bot_username: str | None) -> str | None:
    """The question in a group message meant for the bot, or None for ordinary chatter.

    A message is meant for the bot when it mentions the bot or replies to one of its messages.
    """
    text = message.text or ""
    mentioned = False
    for entity, value in message.parse_entities(
        [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
    ).items():
        if entity.type == MessageEntity.MENTION:
            is_us = bool(bot_username) and value[1:].lower() == (bot_username or "").lower()
        else:
            is_us = entity.user is not None and entity.user.id == bot_id
        if is_us:
            mentioned = True
            text = text.replace(value, " ", 1)
    if not mentioned and bot_username and not message.entities:
        # A server that does not tag mentions: find "@botname" in the text itself.
        pattern = re.compile(rf"(?<![\w@])@{re.escape(bot_username)}(?!\w)", re.IGNORECASE)
        text, found = pattern.subn(" ", text)
        mentioned = found > 0
    replied = message.reply_to_message
    if not mentioned and not (
        replied is not None and replied.from_user is not None and replied.from_user.id == bot_id
    ):
        return None
    return text


# --- building and running ----------------------------------------------------------------------


def build_application(
    settings: BotSettings,
    get_answerer: GetAnswerer,
    *,
    concurrent_updates: int = 32,
    warm_up: bool = False,
    reindex: Reindex | None = None,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB application: flood-limit aware, concurrent, with trustbot's handlers.

    ``warm_up`` loads the model at start-up (after Telegram accepted the token); ``reindex``
    backs the admins' /reindex command.
    """
    bot = TrustBot(settings, get_answerer, warm_up=warm_up, reindex=reindex)
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(concurrent_updates)
        .post_init(bot.post_init)
        .post_shutdown(bot.post_shutdown)
    )
    if settings.base_url:
        base = settings.base_url
        builder = builder.base_url(base).base_file_url(
            base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base
        )
    app = builder.build()
    bot.register(app)
    app.bot_data["trustbot"] = bot
    return app


def run(
    settings: BotSettings,
    get_answerer: GetAnswerer,
    *,
    warm_up: bool = True,
    reindex: Reindex | None = None,
) -> None:
    """Run until SIGINT/SIGTERM: long polling, or a webhook server when ``webhook_url`` is set.

    Telegram failures at start-up become ``TrustbotError``s whose messages never hold the token.
    """
    check_settings(settings)
    redactor = TokenRedactor([settings.token, settings.secret_token or ""])
    app = build_application(settings, get_answerer, warm_up=warm_up, reindex=reindex)
    try:
        if settings.webhook_url:
            path = urllib.parse.urlsplit(settings.webhook_url).path.strip("/")
            log.info(
                "webhook mode: listening on %s:%s/%s for %s",
                settings.listen,
                settings.port,
                path,
                settings.webhook_url,
            )
            app.run_webhook(
                listen=settings.listen,
                port=settings.port,
                url_path=path,
                webhook_url=settings.webhook_url,
                secret_token=settings.secret_token,
                allowed_updates=ALLOWED_UPDATES,
                bootstrap_retries=3,
            )
        else:
            log.info("long polling %s", _server(settings))
            app.run_polling(allowed_updates=ALLOWED_UPDATES, bootstrap_retries=3)
    except InvalidToken:
        raise TrustbotError(
            f"{_server(settings)} rejected the bot token: check TELEGRAM_BOT_TOKEN "
            "(@BotFather shows or revokes tokens)"
        ) from None
    except TelegramError as err:
        raise TrustbotError(
            f"cannot talk to {_server(settings)}: {redactor.redact(str(err))}; "
            "check the network and try again"
        ) from None


def _server(settings: BotSettings) -> str:
    return f"the Bot API server at {settings.base_url}" if settings.base_url else "Telegram"


def serve(bot_settings: BotSettings, settings: Settings, *, debug: bool = False) -> None:
    """``trustbot bot``: check settings, set up redacted logs, load the index, run."""
    from trustbot.live import LiveAnswerer, Reindexer

    check_settings(bot_settings)
    configure_logging([bot_settings.token, bot_settings.secret_token or ""], debug=debug)
    started = time.monotonic()
    # Answers come from whatever generation is live: `trustbot ingest` or /reindex while the bot
    # runs is picked up within a second or two, without a restart.
    live = LiveAnswerer.open(settings)
    log.info(
        "opened the index of %d article(s) in %s in %.1fs",
        len(live.current.articles),
        settings.index_dir,
        time.monotonic() - started,
    )
    run(bot_settings, live, reindex=Reindexer(settings, live))
