"""Quadlet unit files: the facts that find a stack's files on a host and the operation
that writes exactly the declared set (units, or a stack's secret environment files).

Every file homelab-ops writes starts with ``# homelab-ops-stack: <stack>``, so a stack's
files are found by content, not by a name prefix another stack could share. The facts
live here, beside the one operation that needs them, and are plain pyinfra facts: the
testinfra checks run the same command and parser.
"""

from __future__ import annotations

import hashlib
import posixpath
from io import StringIO
from typing import Any

from pyinfra import host
from pyinfra.api import FactBase, FileUploadCommand, QuoteString, StringCommand, operation

from homelab_ops.models.stack import NAME_RE, STACK_MARKER

SUFFIXES = (".container", ".network", ".volume", ".env")


class QuadletHost(FactBase):
    """Who runs podman here and whether systemd is PID 1: picks the quadlet directory
    (root or rootless) and the backend (systemd units or plain ``podman run``)."""

    def command(self) -> str:
        return 'id -u; printf "%s\\n" "$HOME"; cat /proc/1/comm 2>/dev/null || echo none'

    def process(self, output: list[str]) -> dict[str, Any]:
        return {"uid": int(output[0]), "home": output[1], "systemd": output[2] == "systemd"}


class StackFiles(FactBase):
    """File name -> sha256 of the files in ``directory`` that belong to ``stack``."""

    default = dict

    def command(self, directory: str, stack: str) -> StringCommand:
        if not NAME_RE.match(stack):
            raise ValueError(f"invalid stack name {stack!r}")
        globs = " ".join(f"*{s}" for s in SUFFIXES)
        return StringCommand(
            "cd", QuoteString(directory), "2>/dev/null && for f in", globs,
            '; do [ -f "$f" ] && head -n 1 -- "$f" | grep -qxF', QuoteString(STACK_MARKER + stack),
            '&& sha256sum -- "$f"; done; true',
        )

    def process(self, output: list[str]) -> dict[str, str]:
        return {name: digest for digest, _, name in (line.partition("  ") for line in output)}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@operation()
def stack_files(directory: str, stack: str, contents: dict[str, str], private: bool = False):
    """Make ``directory`` hold exactly ``contents`` (file name -> text) of ``stack``:
    write what differs, remove the stack's files that are no longer declared.

    Texts are uploaded, never put on a command line, so secret files stay out of every
    log. ``private`` (secrets): the directory is 0700 before anything is written into
    it and files are 0600. Each text must start with the stack's marker line."""
    for name, text in contents.items():
        if not text.startswith(STACK_MARKER + stack + "\n") or "/" in name:
            raise ValueError(f"{name}: not a file of stack {stack}")
    live = host.get_fact(StackFiles, directory=directory, stack=stack)
    stale = [name for name, text in sorted(contents.items()) if live.get(name) != digest(text)]
    if stale:
        yield StringCommand("mkdir", "-p", QuoteString(directory))
        if private:
            yield StringCommand("chmod", "700", QuoteString(directory))
    for name in stale:
        path = posixpath.join(directory, name)
        yield FileUploadCommand(StringIO(contents[name]), path)
        yield StringCommand("chmod", "600" if private else "644", QuoteString(path))
    for name in sorted(set(live) - set(contents)):
        yield StringCommand("rm", "-f", "--", QuoteString(posixpath.join(directory, name)))
