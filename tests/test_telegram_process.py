"""`trustbot bot` as a real process against the stand-in Bot API: answers, signals, secrets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

import pytest

from .conftest import Workspace, trustbot
from .fake_bot_api import (
    BOT_USERNAME,
    STICKER,
    TOKEN,
    FakeBotAPI,
    message,
    parse_telegram_html,
    text_update,
)

CEO = "Who is the chief executive?"
CEO_SENTENCE = "Nick Broughton, who became chief executive of the trust last autumn, said:"
SECRET_PART = TOKEN.split(":", 1)[1]


class BotProcess:
    """``python -m trustbot ... bot`` with its stderr in a file (never a full pipe)."""

    def __init__(self, ws: Workspace, api: FakeBotAPI, log: Path, *args: str, **env: str) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTBOT_")}
        full_env.update(
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TRUSTBOT_TELEGRAM_BASE_URL": api.base_url,
                "NO_PROXY": "127.0.0.1,localhost",
                "PYTHONUNBUFFERED": "1",
            }
        )
        full_env.update(env)
        self.log = log
        self._err: IO[bytes] = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trustbot", *ws.args(), *args],
            stdin=subprocess.DEVNULL,
            stdout=self._err,
            stderr=self._err,
            env=full_env,
        )

    def wait_ready(self, api: FakeBotAPI, timeout: float = 90) -> None:
        api.wait_for(
            lambda: bool(api.commands) or self.proc.poll() is not None,
            timeout,
            "the bot to start",
        )
        assert self.proc.poll() is None, self.output()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._err.close()
        return code, time.monotonic() - started

    def output(self) -> str:
        if not self._err.closed:
            self._err.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")


def shown(api: FakeBotAPI, chat: int, n: int = 1) -> list[str]:
    return [parse_telegram_html(c.text) for c in api.wait_messages(chat, n, timeout=30)]


@pytest.mark.slow
def test_bot_process_answers_and_stops_cleanly_on_sigterm(
    seed_index: Workspace, api: FakeBotAPI, tmp_path: Path
) -> None:
    bot = BotProcess(seed_index, api, tmp_path / "bot.log", "--debug", "bot")
    try:
        bot.wait_ready(api)
        assert {c["command"] for c in api.commands} >= {"ask", "help", "sources", "start"}

        # A private question: "typing…" first, then the cited HTML answer.
        api.push(text_update(501, CEO))
        answer = shown(api, 501)[0]
        assert CEO_SENTENCE in answer and "[1]" in answer and "Sources" in answer
        assert api.calls_to(501)[0].method == "sendChatAction"

        # A group: chatter and other bots are ignored; /ask@bot is answered as a reply.
        group = -100_777
        api.push(text_update(group, "who is the chief executive of lunch?", chat_type="group"))
        api.push(text_update(group, f"/ask@other_bot {CEO}", chat_type="group"))
        ask = api.push(text_update(group, f"/ask@{BOT_USERNAME} {CEO}", chat_type="group"))
        assert CEO_SENTENCE in shown(api, group)[0]
        reply = json.loads(api.sent(group)[0].params["reply_parameters"])
        assert reply["message_id"] == ask["message"]["message_id"]

        # A sticker and hostile HTML do not break it.
        api.push({"message": message(502, extra=STICKER)})
        hostile = "<b>Who</b> is </i>the <script>chief</script> & executive?"
        api.push(text_update(503, hostile))
        assert "only read text" in shown(api, 502)[0]
        assert shown(api, 503)

        # A burst of 20 chats.
        chats = list(range(600, 620))
        started = time.monotonic()
        for chat in chats:
            api.push(text_update(chat, CEO))
        api.wait_for(lambda: all(api.sent(c) for c in chats), 30, "20 answers")
        burst = time.monotonic() - started
        print(f"process: 20-chat burst answered in {burst:.2f}s")
        assert burst < 10
        time.sleep(0.5)
        assert len(api.sent(group)) == 1  # the chatter stayed unanswered
        assert not [c for c in api.calls if c.status == 400]
    finally:
        code, took = bot.stop(signal.SIGTERM)
    log = bot.output()
    print(f"process: stopped {took:.2f}s after SIGTERM")
    assert code == 0, log
    assert took < 5
    assert TOKEN not in log and SECRET_PART not in log
    assert f"bot @{BOT_USERNAME} is running" in log
    assert "Traceback" not in log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, update: dict[str, Any], secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, json.dumps(update).encode(), headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 15
    while True:
        try:
            with opener.open(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except urllib.error.URLError:
            # setWebhook may come a moment before the server listens.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.slow
def test_webhook_mode_checks_the_secret_and_stops_on_sigint(
    seed_index: Workspace, api: FakeBotAPI, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram-hook"
    secret = "s3cret-Token_for-tests"
    bot = BotProcess(
        seed_index,
        api,
        tmp_path / "bot.log",
        "bot",
        "--webhook-url",
        url,
        "--port",
        str(port),
        TRUSTBOT_WEBHOOK_SECRET=secret,
    )
    try:
        bot.wait_ready(api)
        api.wait_for(lambda: bool(api.webhook), 10, "setWebhook")
        assert api.webhook["url"] == url and api.webhook["secret_token"] == secret
        update = {"update_id": 1, **text_update(701, CEO)}
        assert post(url, update, None) == 403
        assert post(url, update, "wrong") == 403
        assert post(url, update, secret) == 200
        assert CEO_SENTENCE in shown(api, 701)[0]
        assert len(api.sent(701)) == 1
    finally:
        code, took = bot.stop(signal.SIGINT)
    log = bot.output()
    assert code == 0, log
    assert took < 5
    assert secret not in log and TOKEN not in log


@pytest.mark.slow
def test_a_rejected_token_is_one_clear_line_without_the_token(
    seed_index: Workspace, api: FakeBotAPI, tmp_path: Path
) -> None:
    wrong = "987654321:AAWrongWrongWrongWrongWrongWrong123"
    for debug in ((), ("--debug",)):
        bot = BotProcess(
            seed_index, api, tmp_path / "bot.log", *debug, "bot", TELEGRAM_BOT_TOKEN=wrong
        )
        code = bot.proc.wait(60)
        bot._err.close()
        log = bot.output()
        assert code == 1, log
        assert "rejected the bot token" in log
        assert wrong not in log and wrong.split(":")[1] not in log
        if not debug:
            assert "Traceback" not in log


@pytest.mark.parametrize(
    ("env", "args", "expect"),
    [
        ({}, [], "no Telegram bot token"),
        ({"TELEGRAM_BOT_TOKEN": "not a token"}, [], "malformed"),
        ({"TELEGRAM_BOT_TOKEN": "12345:abc def"}, [], "malformed"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN}, ["--webhook-url", "https://bot.example.org/h"], "secret"),
        (
            {"TELEGRAM_BOT_TOKEN": TOKEN},
            ["--webhook-url", "ftp://x", "--secret-token", "abc"],
            "https://",
        ),
        ({"TELEGRAM_BOT_TOKEN": TOKEN}, ["--token-file", "/nonexistent/token"], "token file"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN}, ["--allow-chat", "abc"], "numeric"),
    ],
)
def test_bad_settings_fail_fast_with_exit_2(
    env: dict[str, str], args: list[str], expect: str
) -> None:
    env = {"TELEGRAM_BOT_TOKEN": "", **env}
    started = time.monotonic()
    run = trustbot("--index", "/nonexistent/index", "bot", *args, env=env, timeout=60)
    assert run.code == 2, run.err
    assert expect in run.err
    assert "Traceback" not in run.err
    assert "abc def" not in run.err and "not a token" not in run.err
    assert time.monotonic() - started < 15


def test_a_malformed_token_file_is_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("oops-this-is-not-it\n")
    run = trustbot("bot", "--token-file", str(token_file), env={"TELEGRAM_BOT_TOKEN": ""})
    assert run.code == 2 and "malformed" in run.err
    assert "oops-this-is-not-it" not in run.err
