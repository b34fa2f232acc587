"""Run local commands as argument lists (never shell strings) with readable failures."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence

from homelab_ops.errors import HomelabError


class CommandError(HomelabError):
    """A command exited non-zero; the message carries its last line of stderr."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        last = next((ln for ln in reversed(stderr.strip().splitlines()) if ln.strip()), "")
        super().__init__(f"`{' '.join(argv[:3])}` failed ({returncode}): {last}".rstrip(": "))


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    input: str | bytes | None = None,
    timeout: float | None = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with ``env`` added to the current environment; capture text output.
    ``input`` may be bytes (an image tarball); the output is text either way."""
    full_env = {**os.environ, **env} if env else None
    raw = isinstance(input, bytes)
    try:
        proc = subprocess.run(
            list(argv),
            env=full_env,
            input=input,
            capture_output=True,
            text=not raw,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:  # the child is killed: one clear line, no traceback
        raise CommandError(argv, -1, f"timed out after {timeout:.0f}s") from None
    if raw:
        proc = subprocess.CompletedProcess(
            proc.args, proc.returncode, proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"))
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr)
    return proc
