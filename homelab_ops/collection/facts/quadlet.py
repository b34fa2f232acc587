"""Facts about a host's quadlet units: who runs podman and where systemd is PID 1, and
which unit files in a directory belong to a stack.

Every file homelab-ops writes starts with ``# homelab-ops-stack: <stack>``, so a stack's
files are found by content, not by a name prefix another stack could share. The
testinfra checks run the same command and parser.
"""

from __future__ import annotations

from typing import Any

from pyinfra.api import FactBase, QuoteString, StringCommand

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
