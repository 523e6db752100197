"""A running `trustbot bot` answers from newly ingested articles without a restart, forgets removed
ones, and re-scans the corpus on an admin's /reindex (real process, real model, stand-in API)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from .conftest import SEED, make_workspace, trustbot, write_barn_owls
from .fake_bot_api import TOKEN, FakeBotAPI, parse_telegram_html, text_update
from .test_telegram_process import BotProcess

pytestmark = pytest.mark.slow

ADMIN = 4242
OWLS_Q = "How many nest boxes hold breeding pairs?"
OWLS_A = "eleven of them now hold"
BATS = "Pipistrelle bats roost in the church tower, where the survey counted 212 of them in June.\n"
BATS_Q = "How many bats roost in the church tower?"


class Chat:
    """One private chat with the bot: each ``say`` waits for the bot's next messages."""

    def __init__(self, api: FakeBotAPI, chat_id: int) -> None:
        self.api = api
        self.chat_id = chat_id

    def say(self, text: str, replies: int = 1) -> str:
        seen = len(self.api.sent(self.chat_id))
        self.api.push(text_update(self.chat_id, text, user_id=self.chat_id))
        calls = self.api.wait_messages(self.chat_id, seen + replies, timeout=120)
        shown = [parse_telegram_html(c.text) for c in calls[seen : seen + replies]]
        return " ".join(" ".join(shown).split())


def test_a_running_bot_follows_ingest_remove_and_reindex(api: FakeBotAPI, tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, SEED)
    assert trustbot(*ws.args(), "index", "build").code == 0
    bot = BotProcess(
        ws, api, tmp_path / "bot.log", "bot", "--admin", str(ADMIN), TRUSTBOT_LOCK_TIMEOUT="30"
    )
    user, admin = Chat(api, 501), Chat(api, ADMIN)
    try:
        bot.wait_ready(api)
        assert "reindex" not in {c["command"] for c in api.commands}
        assert OWLS_A not in user.say(OWLS_Q)

        # `trustbot ingest` while the bot runs: the next question is answered from it.
        owls = write_barn_owls(tmp_path, "owls.txt")
        run = trustbot(*ws.args(), "ingest", str(owls))
        assert run.code == 0, run.err
        assert OWLS_A in user.say(OWLS_Q)
        assert "Nick Broughton" in user.say("Who is the chief executive of the trust?")

        # Removed: not cited again by the very next question.
        assert trustbot(*ws.args(), "remove", "owls").code == 0
        assert OWLS_A not in user.say(OWLS_Q)

        # A file dropped into the corpus folder is indexed on an admin's /reindex only.
        (ws.corpus / "bats.txt").write_text(BATS, encoding="utf-8")
        (ws.corpus / "broken.txt").write_bytes(b"\xff\xfe\x00\x01")
        assert "admins only" in user.say("/reindex")
        assert "212" not in user.say(BATS_Q)
        report = admin.say("/reindex", replies=2)
        assert "Re-indexing" in report
        assert "1 added" in report and "0 removed" in report
        assert "broken.txt" in report  # the bad file is named, the rest indexed
        assert "212 of them" in user.say(BATS_Q)
        status = json.loads(trustbot(*ws.args(), "index", "status", "--json").out)
        assert [i["id"] for i in status["items"]] == ["bats", "southern-health"]
    finally:
        code, _ = bot.stop(signal.SIGTERM)
    log = bot.output()
    assert code == 0, log
    assert "now answering from gen-" in log
    assert "Traceback" not in log and TOKEN not in log
