"""One ``apply`` at a time per (portal, pipeline) on this machine: an advisory ``flock``.

Two runs of one upsert pipeline that read the portal at the same moment would both create what is
missing. The lock is taken before the portal's records are read and held until the report is
written; a second run waits for it up to ``--lock-timeout`` seconds, then stops before sending
anything. The lock files live in the system's temp folder (``b24sync-locks-<uid>``), named by a hash
of the portal (its address without the webhook code) and the pipeline's absolute path; a lock dies
with its process, so a killed run never leaves one behind. Runs on other machines are not seen: in
CI, a concurrency group does that (docs/ci.md).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from b24sync.errors import UsageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock: no lock there
    fcntl = None  # type: ignore[assignment]

DEFAULT_LOCK_TIMEOUT = 60.0
"""Seconds a second run waits for the first: a CI job queued behind a short run still goes through."""
_POLL = 0.2


def lock_folder() -> Path:
    """Where the lock files are: one folder per user in the temp folder."""
    user = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir(), f"b24sync-locks-{user}")


@contextmanager
def run_lock(
    target: str,
    pipeline: str,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    *,
    folder: Path | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Path | None]:
    """Hold the lock of (``target``, ``pipeline``); a ``UsageError`` after ``timeout`` seconds of waiting."""
    if fcntl is None:
        yield None
        return
    where = folder or lock_folder()
    name = hashlib.sha256(f"{target}\n{os.path.abspath(pipeline)}".encode()).hexdigest()[:24]
    path = where / f"{name}.lock"
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise UsageError(f"cannot open the run lock {path}: {error.strerror or error}") from None
    try:
        deadline = clock() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if clock() >= deadline:
                    holder = _holder(descriptor)
                    raise UsageError(
                        f"another b24sync apply of {pipeline} to {target} is running{holder}; waited "
                        f"{timeout:g} s for it (--lock-timeout): let it finish, or give a longer "
                        "--lock-timeout; nothing was sent"
                    ) from None
                sleep(min(_POLL, max(deadline - clock(), 0.0)))
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(descriptor)  # closing releases the lock


def _holder(descriptor: int) -> str:
    try:
        text = os.pread(descriptor, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {text})" if text.isdigit() else ""
