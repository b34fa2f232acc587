"""``homelab-ops lab``: the sandbox homelab on this machine."""

from __future__ import annotations

import click

from homelab_ops.commands.base import App, command, emit


@click.group()
def lab() -> None:
    """The sandbox homelab on this machine (podman, BTRFS pools, sshd on 127.0.0.1)."""


def _lab(app: App):
    from homelab_ops.lab import Lab

    return Lab(app.settings.lab_dir)


@command(lab, "up")
def lab_up(app: App) -> None:
    """Build the lab (idempotent: a second run changes nothing)."""
    from homelab_ops.render import lab_status

    emit(app, _lab(app).up(), lab_status)


@command(lab, "down")
def lab_down(app: App) -> None:
    """Remove exactly what `lab up` created."""
    result = _lab(app).down()
    emit(app, result, lambda d: click.echo(
        f"removed lab at {d['lab_dir']}" if d["removed"] else f"no lab at {d['lab_dir']}"))


@command(lab, "status")
def lab_status_cmd(app: App) -> None:
    """Show what of the lab exists and runs."""
    from homelab_ops.render import lab_status

    emit(app, _lab(app).status(), lab_status)
