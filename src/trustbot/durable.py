"""Durable writes: atomic file replacement, fsync of files and folders, the index's writer lock
and the named points where the crash-safety tests pause or kill a write.

``store`` builds its generations and manifest with these; ``ingest`` uses the lock and
``fsync_dir`` for the corpus folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from trustbot.config import crash_hook
from trustbot.errors import IndexLocked

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT = 60.0


def atomic_write(path: Path, data: bytes, before_replace: Callable[[], None] | None = None) -> None:
    """Replace ``path`` with ``data`` all at once (a temporary file, fsynced, then renamed);
    ``before_replace`` runs just before the rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (new or renamed files) durable."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_tree(folder: Path) -> None:
    """Make every file and folder under ``folder`` durable."""
    # The manifest may only point at files whose contents are on disk: after a power cut a
    # renamed-but-unsynced file can come back empty.
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
        else:
            fsync_dir(path)
    fsync_dir(folder)


_hook_hits: dict[str, int] = {}


def checkpoint(point: str) -> None:
    """A named moment of a write where the crash-safety tests pause or kill the process.

    Points, in order: ``article-embedded`` (after each article's vectors are saved),
    ``generation-written`` (new generation complete, manifest not yet touched),
    ``manifest-written`` (new manifest in a temporary file, not yet swapped in) and
    ``manifest-replaced`` (swapped in, old files not yet cleaned up). Does nothing unless
    ``TRUSTBOT_TEST_HOOK`` names the point (see ``config.crash_hook``).
    """
    hook = crash_hook()
    if not hook or hook.split(":")[0] != point:
        return
    _, action, *arg = [*hook.split(":"), ""]
    _hook_hits[point] = _hook_hits.get(point, 0) + 1
    if action == "kill" and _hook_hits[point] >= int(arg[0] or 1):
        log.warning("test hook: kill -9 at %s", point)
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "sleep" and _hook_hits[point] == 1:
        log.warning("test hook: sleeping at %s", point)
        time.sleep(float(arg[0] or 3600))


# Which index folders this thread holds the writer lock of: ``ingest`` holds it across its corpus
# changes and the index write, and ``write_index`` inside it must not wait for itself.
_held = threading.local()


@contextlib.contextmanager
def write_lock(index_dir: Path, timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the index's writer lock; wait up to ``timeout`` seconds for another writer.

    Re-entrant within a thread. The lock is an ``flock`` on ``index/.lock``, so the kernel
    releases it when its holder dies, even by ``kill -9``.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    key = str(index_dir.resolve())
    held: set[str] = _held.__dict__.setdefault("paths", set())
    if key in held:
        yield
        return
    with (index_dir / ".lock").open("a") as fh:
        deadline = time.monotonic() + timeout
        waiting = False
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexLocked(
                        f"another trustbot process has been writing the index in {index_dir} "
                        f"for over {timeout:g}s; wait for it to finish and try again"
                    ) from None
                if not waiting:
                    log.warning("waiting for another trustbot process to finish writing the index")
                    waiting = True
                time.sleep(0.1)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
