"""Run a read-only skill in process, through the click command tree: exactly its argv
(split from the template, the resolved name one element of it), never a shell.

The command must exist in this version's tree (``command_path``): a catalogue entry for
a routine this install lacks fails with one line instead of a click usage error. The
tree is the one this process is running (the root of the current click context), so
nothing here imports the CLI module.
"""

from __future__ import annotations

import io
from contextlib import nullcontext, redirect_stdout

import click

from homelab_ops.errors import HomelabError


def command_path(argv: list[str] | tuple[str, ...], root: click.Command
                 ) -> list[str] | None:
    """The subcommand names ``argv`` (``homelab-ops ...``) walks down the CLI tree from
    ``root``, or None when its first command does not exist or a group is left without
    one."""
    node = root
    path: list[str] = []
    for token in argv[1:]:
        if not isinstance(node, click.Group):
            break
        sub = node.get_command(click.Context(node), token)
        if sub is None:
            break
        node, path = sub, [*path, token]
    if not path or (isinstance(node, click.Group) and not node.invoke_without_command):
        return None
    return path


def run_argv(argv: tuple[str, ...], global_args: list[str], capture: bool = False
             ) -> tuple[int, str]:
    """Invoke ``argv`` in this process, from inside a running command; (exit code,
    captured stdout when ``capture``)."""
    cli = click.get_current_context().find_root().command
    if argv[:1] != ("homelab-ops",) or command_path(argv, cli) is None:
        raise HomelabError(f"command not available in this version: {' '.join(argv[:3])}")
    out = io.StringIO()
    with redirect_stdout(out) if capture else nullcontext():
        try:
            rv = cli.main(args=[*global_args, *argv[1:]], prog_name="homelab-ops",
                          standalone_mode=False)
        except click.exceptions.Exit as exc:
            rv = exc.exit_code
    return (rv if isinstance(rv, int) else 0), out.getvalue()

