"""Live reload: the answerer of the index generation that is live now, for long-running front ends.

``trustbot bot`` and ``trustbot chat`` keep one ``LiveAnswerer`` and call it for every question. A
writer (``ingest``, ``remove``, ``index build``, ``/reindex``) commits a new generation by
replacing ``index/manifest.json``; the next call after that (each call stats the manifest)
loads the new generation in full and only then swaps it in. So a question is answered from the
old generation or from the new one, never from half of one, and a generation that fails to load
is logged and skipped while the old one keeps answering.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from trustbot.answer import Answerer
from trustbot.config import Settings
from trustbot.errors import TrustbotError
from trustbot.store import MANIFEST, load_index, read_manifest

if TYPE_CHECKING:
    from trustbot.embed import Embedder
    from trustbot.ingest import LifecycleReport

log = logging.getLogger(__name__)

# Seconds between looks at the manifest. A look is one stat() call, microseconds beside answering
# a question, so by default every question looks: an answer never lags a finished write.
CHECK_EVERY = 0.0

_Signature = tuple[int, int, int] | None


def _signature(index_dir: Path) -> _Signature:
    # The manifest is replaced by rename, so a new one has a new inode even within one mtime tick.
    try:
        st = os.stat(index_dir / MANIFEST)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class LiveAnswerer:
    """A zero-argument callable that returns the current ``Answerer`` (see the module docstring).

    Thread-safe: while one caller loads a new generation, the others keep getting the current
    answerer without waiting.
    """

    def __init__(
        self,
        settings: Settings,
        answerer: Answerer,
        *,
        check_every: float = CHECK_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.index_dir = settings.index_dir
        self.check_every = check_every
        self._current = answerer
        self._clock = clock
        self._lock = threading.Lock()
        self._checked = clock()
        self._seen: _Signature = None

    @classmethod
    def open(cls, settings: Settings, *, check_every: float = CHECK_EVERY) -> LiveAnswerer:
        """Open the live index like ``Answerer.open`` (refusing a stale or foreign index)."""
        # Note the manifest before loading: a swap during the load is then seen and checked.
        seen = _signature(settings.index_dir)
        live = cls(settings, Answerer.open(settings), check_every=check_every)
        live._seen = seen
        return live

    def __call__(self) -> Answerer:
        """The answerer of the live generation (reloaded first if the manifest changed)."""
        if self._clock() - self._checked >= self.check_every and self._lock.acquire(blocking=False):
            try:
                self._check()
            finally:
                self._lock.release()
        return self._current

    @property
    def current(self) -> Answerer:
        """The answerer now in use, without looking for a new generation."""
        return self._current

    def refresh(self) -> bool:
        """Look for a new generation now; True if one was loaded and swapped in."""
        with self._lock:
            return self._check()

    def _check(self) -> bool:
        self._checked = self._clock()
        signature = _signature(self.index_dir)
        if signature == self._seen:
            return False
        self._seen = signature
        old = self._current
        try:
            if (
                read_manifest(self.index_dir, entries=False).get("generation")
                == old.index.generation
            ):
                return False
            started = time.monotonic()
            index = load_index(self.index_dir, old.embedder)
        except TrustbotError as err:
            # Tried again only when the manifest changes again: no retry storm on a bad index.
            log.error("still answering from %s: %s", old.index.generation, err)
            return False
        self._current = Answerer(index, old.embedder)
        log.info(
            "now answering from %s: %d article(s), %d sentences (loaded in %.2fs)",
            index.generation,
            len(index.articles),
            len(index.rows),
            time.monotonic() - started,
        )
        return True


class Reindexer:
    """The bot's /reindex: re-scan the corpus folder, update the index, serve the new one.

    Blocking: call it in a thread. The full model (for embedding passages, where questions may
    use a lighter encoder) is loaded on the first call, not at start-up.
    """

    def __init__(self, settings: Settings, live: LiveAnswerer) -> None:
        self.settings = settings
        self.live = live
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()

    def __call__(self) -> LifecycleReport:
        """Re-scan and update the index; the live answerer switches to it before this returns."""
        from trustbot.embed import make_embedder
        from trustbot.ingest import reindex

        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings.model_path, self.settings.cache_dir)
            report = reindex(self.settings, self._embedder)
        self.live.refresh()
        return report
