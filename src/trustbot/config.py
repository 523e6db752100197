"""Settings built from CLI flags and ``TRUSTBOT_*`` environment variables.

This is the only module that reads ``os.environ``; everything else gets explicit arguments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from trustbot.errors import BadInput

DEFAULT_CORPUS = Path("corpus")
DEFAULT_INDEX = Path("index")
MAX_QUESTION_CHARS = 1000


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where derived, re-creatable files live (the ONNX query encoder): ``TRUSTBOT_CACHE_DIR``,
    else ``$XDG_CACHE_HOME/trustbot``, else ``~/.cache/trustbot``."""
    env = _env(environ)
    if env.get("TRUSTBOT_CACHE_DIR"):
        return Path(env["TRUSTBOT_CACHE_DIR"])
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trustbot"


@dataclass(frozen=True)
class Settings:
    """Where the corpus and index live and which model embeds them."""

    corpus_dir: Path = DEFAULT_CORPUS
    index_dir: Path = DEFAULT_INDEX
    # A local sentence-transformers model folder; None means the bundled all-MiniLM-L6-v2.
    model_path: Path | None = None
    debug: bool = False
    # Seconds an index writer waits for another writer to finish before giving up.
    lock_timeout: float = 60.0
    # Derived files (the ONNX query encoder); None: questions use sentence-transformers.
    cache_dir: Path | None = field(default_factory=default_cache_dir)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        corpus_dir: str | Path | None = None,
        index_dir: str | Path | None = None,
        model_path: str | Path | None = None,
        debug: bool | None = None,
    ) -> Settings:
        """Flags win over the environment, which wins over the defaults."""
        env = _env(environ)
        corpus = corpus_dir or env.get("TRUSTBOT_CORPUS_DIR") or DEFAULT_CORPUS
        index = index_dir or env.get("TRUSTBOT_INDEX_DIR") or DEFAULT_INDEX
        model = model_path or env.get("TRUSTBOT_MODEL") or None
        dbg = debug if debug is not None else env.get("TRUSTBOT_DEBUG", "") not in ("", "0")
        try:
            lock_timeout = float(env.get("TRUSTBOT_LOCK_TIMEOUT") or 60.0)
        except ValueError:
            raise BadInput("TRUSTBOT_LOCK_TIMEOUT must be a number of seconds") from None
        return cls(
            corpus_dir=Path(corpus),
            index_dir=Path(index),
            model_path=Path(model) if model else None,
            debug=dbg,
            lock_timeout=lock_timeout,
            cache_dir=default_cache_dir(env),
        )


def _id_set(raw: str | None, name: str) -> frozenset[int]:
    if not raw:
        return frozenset()
    ids: set[int] = set()
    for part in raw.replace(";", ",").replace(" ", ",").split(","):
        if not part:
            continue
        try:
            ids.add(int(part))
        except ValueError:
            raise BadInput(
                f"{name} must be a comma-separated list of numeric ids, got {part!r}"
            ) from None
    return frozenset(ids)


@dataclass(frozen=True)
class BotSettings:
    """Telegram bot settings (token, server, access control, limits)."""

    token: str = ""
    base_url: str | None = None
    allowed_chats: frozenset[int] = field(default_factory=frozenset)
    allowed_users: frozenset[int] = field(default_factory=frozenset)
    admin_users: frozenset[int] = field(default_factory=frozenset)
    # Questions per user per minute before the bot asks them to slow down.
    rate_limit_per_minute: int = 10
    workers: int = 2
    # Webhook mode (``trustbot bot --webhook-url``); None means long polling.
    webhook_url: str | None = None
    listen: str = "127.0.0.1"
    port: int = 8080
    secret_token: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> BotSettings:
        """Read ``TELEGRAM_BOT_TOKEN`` and ``TRUSTBOT_TELEGRAM_*``; explicit overrides win."""
        env = _env(environ)
        values: dict[str, object] = {
            "token": env.get("TELEGRAM_BOT_TOKEN", "").strip(),
            "base_url": env.get("TRUSTBOT_TELEGRAM_BASE_URL") or None,
            "allowed_chats": _id_set(env.get("TRUSTBOT_ALLOWED_CHATS"), "TRUSTBOT_ALLOWED_CHATS"),
            "allowed_users": _id_set(env.get("TRUSTBOT_ALLOWED_USERS"), "TRUSTBOT_ALLOWED_USERS"),
            "admin_users": _id_set(env.get("TRUSTBOT_ADMIN_USERS"), "TRUSTBOT_ADMIN_USERS"),
            "webhook_url": env.get("TRUSTBOT_WEBHOOK_URL") or None,
            "listen": env.get("TRUSTBOT_WEBHOOK_LISTEN") or "127.0.0.1",
            "secret_token": env.get("TRUSTBOT_WEBHOOK_SECRET") or None,
        }
        port = env.get("TRUSTBOT_WEBHOOK_PORT")
        if port:
            try:
                values["port"] = int(port)
            except ValueError:
                raise BadInput("TRUSTBOT_WEBHOOK_PORT must be a port number") from None
        rate = env.get("TRUSTBOT_RATE_LIMIT_PER_MINUTE")
        if rate:
            try:
                values["rate_limit_per_minute"] = int(rate)
            except ValueError:
                raise BadInput("TRUSTBOT_RATE_LIMIT_PER_MINUTE must be a whole number") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def crash_hook(environ: Mapping[str, str] | None = None) -> str | None:
    """``TRUSTBOT_TEST_HOOK``: where an index write pauses or dies, for the crash-safety tests.

    The value is ``POINT:kill[:N]`` (SIGKILL itself the Nth time it reaches POINT) or
    ``POINT:sleep:SECONDS``; see ``durable.checkpoint`` for the points.
    """
    return _env(environ).get("TRUSTBOT_TEST_HOOK") or None
