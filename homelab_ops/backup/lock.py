"""One backup run at a time: an exclusive, non-blocking flock on a file in the state
directory. The kernel drops the lock when the process dies, so a killed run never leaves
a stale lock behind (unlike a pid file or a lock directory)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from homelab_ops.errors import HomelabError


class BackupBusy(HomelabError):
    """Another backup run holds the lock."""

    exit_code = 75  # EX_TEMPFAIL: a timer may simply try again later


@contextmanager
def backup_lock(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "backup.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupBusy(f"another backup run is in progress (lock {path})") from None
        yield
    finally:
        os.close(fd)
