"""A stand-in Telegram Bot API server for tests: stdlib only, on 127.0.0.1, port 0.

It answers the methods trustbot uses with valid Bot API objects, serves ``getUpdates`` from a
queue the test fills (honouring ``offset``, waiting at most ~1 s), records every call, and checks
``sendMessage`` the way Telegram does: HTML must parse (known tags only, balanced, known
entities) and the parsed text must be 1-4096 UTF-16 units, or the answer is a 400. Faults can be
injected per method (a 429 with ``retry_after``, a 5xx, ...).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "123456789:AAHfakeTOKENfor-trustbot_tests0123456"
BOT_ID = 123456789
BOT_USERNAME = "trustbot_test_bot"

ALLOWED_TAGS = {
    "b": set(),
    "strong": set(),
    "i": set(),
    "em": set(),
    "u": set(),
    "ins": set(),
    "s": set(),
    "strike": set(),
    "del": set(),
    "a": {"href"},
    "code": {"class"},
    "pre": set(),
    "blockquote": {"expandable"},
    "tg-spoiler": set(),
    "span": {"class"},
    "tg-emoji": {"emoji-id"},
}
ALLOWED_ENTITIES = {"lt", "gt", "amp", "quot"}


class HTMLRejected(ValueError):
    """What Telegram calls "Can't parse entities"."""


class _TelegramHTML(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            raise HTMLRejected(f'unsupported start tag "{tag}"')
        for name, _ in attrs:
            if name not in ALLOWED_TAGS[tag]:
                raise HTMLRejected(f'unsupported attribute "{name}" in tag "{tag}"')
        if tag == "a" and not dict(attrs).get("href"):
            raise HTMLRejected("a link without href")
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise HTMLRejected(f'unsupported self-closing tag "{tag}"')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise HTMLRejected(f'unmatched end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data:
            raise HTMLRejected("unescaped '<'")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in ALLOWED_ENTITIES:
            raise HTMLRejected(f"unsupported entity &{name};")
        self.text.append({"lt": "<", "gt": ">", "amp": "&", "quot": '"'}[name])

    def handle_charref(self, name: str) -> None:
        code = int(name[1:], 16) if name.lower().startswith("x") else int(name)
        self.text.append(chr(code))

    def handle_comment(self, data: str) -> None:
        raise HTMLRejected("comments are not supported")

    def handle_decl(self, decl: str) -> None:
        raise HTMLRejected("declarations are not supported")

    def unknown_decl(self, data: str) -> None:
        raise HTMLRejected("declarations are not supported")


def parse_telegram_html(html: str) -> str:
    """The plain text Telegram would show, or ``HTMLRejected``."""
    parser = _TelegramHTML()
    parser.feed(html)
    parser.close()
    if parser.stack:
        raise HTMLRejected(f'unclosed tag "{parser.stack[-1]}"')
    return "".join(parser.text)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    """One Bot API request the bot made."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200

    @property
    def chat_id(self) -> int | None:
        raw = self.params.get("chat_id")
        return int(raw) if raw is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))


@dataclass
class Fault:
    status: int
    description: str
    retry_after: int | None = None
    count: int = 1


@dataclass
class FakeBotAPI:
    """The server's state; the HTTP handler calls ``handle``."""

    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)
    chats: dict[int, dict[str, Any]] = field(default_factory=dict)
    max_poll_wait: float = 1.0

    def __post_init__(self) -> None:
        self.cond = threading.Condition()
        self._next_update = 1
        self._next_message = 1000
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # --- running --------------------------------------------------------------------------
    def start(self) -> FakeBotAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                self._answer(body)

            def do_GET(self) -> None:
                self._answer(b"")

            def _answer(self, body: bytes) -> None:
                status, payload = api.handle(self.path, self.headers.get("Content-Type", ""), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client hanging up mid-poll at shutdown is normal

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    @property
    def base_url(self) -> str:
        """PTB's ``base_url``: everything up to and including ``/bot``."""
        return f"http://127.0.0.1:{self.port}/bot"

    # --- test controls --------------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue one update (``update_id`` is assigned) for ``getUpdates``."""
        with self.cond:
            update = {"update_id": self._next_update, **update}
            self._next_update += 1
            self.updates.append(update)
            for key in ("message", "edited_message", "channel_post"):
                if key in update:
                    chat = update[key]["chat"]
                    self.chats[chat["id"]] = chat
            self.cond.notify_all()
        return update

    def fail(
        self,
        method: str,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with an error."""
        with self.cond:
            self.faults.setdefault(method, []).append(
                Fault(status, description, retry_after, count)
            )

    def sent(self, chat_id: int | None = None, method: str = "sendMessage") -> list[Call]:
        """Successful calls of ``method`` (to ``chat_id``), in order."""
        with self.cond:
            return [
                c
                for c in self.calls
                if c.method == method
                and c.status == 200
                and (chat_id is None or c.chat_id == chat_id)
            ]

    def calls_to(self, chat_id: int) -> list[Call]:
        with self.cond:
            return [c for c in self.calls if c.chat_id == chat_id]

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition"
    ) -> None:
        """Block until ``predicate()`` holds (re-checked on every call), or fail the test."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {what}; calls: "
                        + ", ".join(f"{c.method}->{c.chat_id}:{c.status}" for c in self.calls)
                    )
                self.cond.wait(min(left, 0.2))

    def wait_messages(self, chat_id: int, n: int = 1, timeout: float = 20.0) -> list[Call]:
        self.wait_for(
            lambda: len(self.sent(chat_id)) >= n, timeout, f"{n} message(s) to chat {chat_id}"
        )
        return self.sent(chat_id)

    def wait_consumed(self, timeout: float = 10.0) -> None:
        """Wait until the bot has fetched every queued update."""
        self.wait_for(
            lambda: any(
                c.method == "getUpdates"
                and int(c.params.get("offset") or 0) > self._next_update - 1
                for c in self.calls
            ),
            timeout,
            "the bot to fetch all updates",
        )

    # --- protocol -------------------------------------------------------------------------
    def handle(self, path: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        parsed = urllib.parse.urlparse(path)
        prefix = "/bot"
        if not parsed.path.startswith(prefix) or "/" not in parsed.path[len(prefix) :]:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        token, method = parsed.path[len(prefix) :].split("/", 1)
        params = self._params(parsed.query, content_type, body)
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        with self.cond:
            call = Call(method, params, time.monotonic())
            status, payload = self._fault(method)
            if status == 200:
                status, payload = self._dispatch(method, params)
            call.status = status
            if method != "getUpdates" or status != 200:
                self.calls.append(call)
            self.cond.notify_all()
        if method == "getUpdates" and status == 200:
            payload = self._get_updates(params, call)
        return status, payload

    @staticmethod
    def _params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(query))
        if body and "json" in content_type:
            params.update(json.loads(body))
        elif body and "multipart" not in content_type:
            params.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        return params

    def _fault(self, method: str) -> tuple[int, dict[str, Any]]:
        queue = self.faults.get(method)
        if not queue:
            return 200, {}
        fault = queue[0]
        fault.count -= 1
        if fault.count <= 0:
            queue.pop(0)
        payload: dict[str, Any] = {
            "ok": False,
            "error_code": fault.status,
            "description": fault.description,
        }
        if fault.retry_after is not None:
            payload["parameters"] = {"retry_after": fault.retry_after}
        return fault.status, payload

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Trustbot Test",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _dispatch(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        def ok(result: Any) -> tuple[int, dict[str, Any]]:
            return 200, {"ok": True, "result": result}

        if method == "getMe":
            return ok(self._bot_user())
        if method == "getUpdates":
            return ok([])  # filled in outside the lock
        if method in ("deleteWebhook", "sendChatAction", "close", "logOut"):
            if method == "deleteWebhook":
                self.webhook = {}
            return ok(True)
        if method == "setWebhook":
            self.webhook = dict(params)
            return ok(True)
        if method == "getWebhookInfo":
            return ok(
                {
                    "url": self.webhook.get("url", ""),
                    "has_custom_certificate": False,
                    "pending_update_count": 0,
                }
            )
        if method == "setMyCommands":
            self.commands = json.loads(params.get("commands", "[]"))
            return ok(True)
        if method == "sendMessage":
            return self._send_message(params)
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}

    def _send_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        text = str(params.get("text", ""))
        if params.get("parse_mode") == "HTML":
            try:
                shown = parse_telegram_html(text)
            except HTMLRejected as err:
                return 400, {
                    "ok": False,
                    "error_code": 400,
                    "description": f"Bad Request: can't parse entities: {err}",
                }
        else:
            shown = text
        if not shown.strip():
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: message text is empty",
            }
        if utf16_len(shown) > 4096:
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: message is too long",
            }
        chat_id = int(params["chat_id"])
        chat = self.chats.get(chat_id, {"id": chat_id, "type": "private", "first_name": "User"})
        message = {
            "message_id": self._next_message,
            "date": int(time.time()),
            "chat": chat,
            "from": self._bot_user(),
            "text": shown,
        }
        self._next_message += 1
        return 200, {"ok": True, "result": message}

    def _get_updates(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), self.max_poll_wait)
        deadline = time.monotonic() + wait
        with self.cond:
            # Confirmed updates are forgotten, as Telegram does.
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and time.monotonic() < deadline:
                self.cond.wait(deadline - time.monotonic())
            result = list(self.updates)
            self.calls.append(call)
            self.cond.notify_all()
        return {"ok": True, "result": result}


# --- building updates ----------------------------------------------------------------------------

_ids = iter(range(1, 10**9))


def _entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram would attach: a leading bot command and @mentions."""
    import re

    out = []
    for m in re.finditer(
        r"(?:^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?)|(?:(?<!\w)@[A-Za-z0-9_]{4,})", text
    ):
        start16 = utf16_len(text[: m.start()])
        kind = "bot_command" if m.group().startswith("/") else "mention"
        out.append({"type": kind, "offset": start16, "length": utf16_len(m.group())})
    return out


def user(user_id: int, name: str = "Ada") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": name}


def message(
    chat_id: int,
    text: str | None = None,
    *,
    user_id: int | None = None,
    chat_type: str = "private",
    reply_to: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    entities: bool = True,
) -> dict[str, Any]:
    """A message object; group chats get negative ids by convention of the caller."""
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat["first_name"] = "Ada"
    else:
        chat["title"] = f"Group {chat_id}"
    msg: dict[str, Any] = {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": chat,
    }
    if chat_type != "channel":
        msg["from"] = user(user_id if user_id is not None else abs(chat_id))
    if text is not None:
        msg["text"] = text
        ents = _entities(text) if entities else []
        if ents:
            msg["entities"] = ents
    if reply_to is not None:
        msg["reply_to_message"] = reply_to
    if extra:
        msg.update(extra)
    return msg


def text_update(chat_id: int, text: str, **kw: Any) -> dict[str, Any]:
    return {"message": message(chat_id, text, **kw)}


def bot_message(chat_id: int, text: str, chat_type: str = "group") -> dict[str, Any]:
    """A message the bot sent earlier (for replies to the bot)."""
    msg = message(chat_id, text, chat_type=chat_type)
    msg["from"] = {
        "id": BOT_ID,
        "is_bot": True,
        "first_name": "Trustbot Test",
        "username": BOT_USERNAME,
    }
    return msg


STICKER = {
    "sticker": {
        "file_id": "CAACAgIAAxkBAAIBY2",
        "file_unique_id": "AgADYQADr8ZRGg",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
}
PHOTO = {
    "photo": [
        {"file_id": "AgACAgIAAxkBAAIBZ2", "file_unique_id": "AQADr8ZRGw", "width": 90, "height": 90}
    ]
}
VOICE = {"voice": {"file_id": "AwACAgIAAxkBAAIBa2", "file_unique_id": "AgADr8ZRGx", "duration": 2}}


class BotRunner:
    """A real PTB ``Application`` running ``run_polling`` in a thread, against a ``FakeBotAPI``."""

    def __init__(self, app: Any) -> None:
        import asyncio

        self.app = app
        self.loop = asyncio.new_event_loop()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="ptb-polling", daemon=True)

    def _run(self) -> None:
        import asyncio

        asyncio.set_event_loop(self.loop)
        try:
            self.app.run_polling(
                stop_signals=None, close_loop=False, allowed_updates=["message"], timeout=1
            )
        except BaseException as err:  # reported by stop()
            self.error = err

    def start(self, api: FakeBotAPI) -> BotRunner:
        seen = len(api.calls)
        self.thread.start()
        # post_init registers the command menu: after that the bot is polling.
        api.wait_for(
            lambda: any(c.method == "setMyCommands" for c in api.calls[seen:]), 20, "start-up"
        )
        return self

    def stop(self, timeout: float = 10.0) -> float:
        """Stop polling the way a signal would; return the seconds it took."""
        started = time.monotonic()
        self.loop.call_soon_threadsafe(self.app.stop_running)
        self.thread.join(timeout)
        took = time.monotonic() - started
        assert not self.thread.is_alive(), "the bot did not stop"
        self.loop.close()
        if self.error is not None:
            raise self.error
        return took
