"""A place of snapshots, as a value: a directory on the host itself or on a machine
reached with ``ssh``, with the commands that act there. Reading what is in it is a
fact, run by the operations (``operations.btrfs.subvolumes``), so the layout that
resolves places from host data needs no pyinfra host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pyinfra.api import OperationError, QuoteString, StringCommand

from homelab_ops.collection.facts.btrfs import over_ssh
from homelab_ops.collection.lib import naming
from homelab_ops.models.backup import SSH_DEST_PATTERN

_PATH = re.compile(r"^(/[A-Za-z0-9._+@-]{1,64}){1,24}$")
_DEST = re.compile(SSH_DEST_PATTERN)


def checked_path(path: str) -> str:
    """An absolute path safe to hand to a command (no '..', no odd characters)."""
    if not _PATH.match(path) or any(part in (".", "..") for part in path.split("/")):
        raise OperationError(f"refusing unsafe path {path!r}")
    return path


def checked_name(name: str) -> naming.SnapshotName:
    snap = naming.parse(name)
    if snap is None:
        raise OperationError(f"not a snapshot name: {name!r}")
    return snap


@dataclass(frozen=True)
class Place:
    """A directory of snapshots: on the host itself, or reached with ``ssh <ssh>``.

    ``mount``: a filesystem that must be mounted for the place to count (a backup
    target's pool). ``strict``: the place is created by us only as its last path
    component; when even the folder around it is missing, it is unreachable (an
    unmounted disk), never empty."""

    dir: str
    ssh: str | None = None
    ssh_config: str | None = None
    mount: str | None = None
    strict: bool = False

    def __post_init__(self) -> None:
        checked_path(self.dir)
        if self.ssh is not None and not _DEST.match(self.ssh):
            raise OperationError(f"refusing unsafe ssh destination {self.ssh!r}")
        if self.ssh_config is not None:
            checked_path(self.ssh_config)
        if self.mount is not None and self.mount != "/":
            checked_path(self.mount)

    def fact_kwargs(self) -> dict[str, Any]:
        return {"directory": self.dir, "ssh": self.ssh, "ssh_config": self.ssh_config,
                "mount": self.mount, "strict": self.strict}

    def unreachable(self) -> StringCommand:
        """A command that fails with the reason: the operation fails on the host like
        any failed command (earlier operations, e.g. the local snapshot, still ran)."""
        around = self.dir.rsplit("/", 1)[0] or "/"
        if self.ssh:
            message = f"cannot reach {self.ssh} to read {self.dir}" + (
                f" (or {around} is missing there)" if self.strict else "")
        else:
            why = ([f"{self.mount} is not mounted"] if self.mount else []) + (
                [f"{around} is missing"] if self.strict else [])
            message = f"cannot read {self.dir}: {' or '.join(why) or 'unreadable'}"
        message += ": refusing to guess"
        return StringCommand("echo", QuoteString(message), ">&2", ";", "exit", "1")

    def make(self) -> StringCommand:
        """Create the folder, only its last path component, and only on a mounted
        ``mount``: never a tree on the root filesystem under an unplugged disk."""
        checks: list[Any] = []
        if self.mount:
            checks = ["mountpoint", "-q", QuoteString(self.mount), "&&"]
        return self.run(*checks, "{", "[", "-d", QuoteString(self.dir), "]", "||", "mkdir",
                        QuoteString(self.dir), ";", "}")

    def path(self, name: str) -> str:
        checked_name(name)
        return f"{self.dir}/{name}"

    def run(self, *bits: Any) -> StringCommand:
        return over_ssh(StringCommand(*bits), self.ssh, self.ssh_config)
