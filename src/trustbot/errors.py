"""Typed errors whose messages are written for users.

The core raises these; only the front ends (CLI, bot) turn them into output and exit codes.
"""

from __future__ import annotations


class TrustbotError(Exception):
    """Any failure a user can act on. ``str(err)`` is a one-line message with what to do."""

    exit_code = 1


class BadInput(TrustbotError):
    """The user gave us something we cannot use (bad question, bad file, bad option)."""

    exit_code = 2


class UnknownArticle(BadInput):
    """An article named to ask of (a story scope) that the index does not hold."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no article {name!r} in the index; `trustbot index status` lists the articles"
        )
        self.name = name


class CorpusError(BadInput):
    """The corpus folder or an article file cannot be read."""


class IndexMissing(TrustbotError):
    """There is no index yet."""


class IndexStale(TrustbotError):
    """The index does not match the corpus or the model; it must be rebuilt."""


class IndexCorrupt(TrustbotError):
    """An index file is unreadable or inconsistent."""


class ModelError(TrustbotError):
    """The embedding model cannot be loaded or does not match what the index was built with."""


class IndexLocked(TrustbotError):
    """Another process is writing the index."""
