"""``homelab-ops lab``: the sandbox homelab on this machine."""

from __future__ import annotations

import click

from homelab_ops.commands.base import App, command, emit


@click.group()
def lab() -> None:
    """The sandbox homelab on this machine (podman, BTRFS pools, sshd on 127.0.0.1, and
    the VM host lab-vm with systemd)."""


def _lab(app: App, with_vm: bool = True):
    from homelab_ops.lab import Lab
    from homelab_ops.models.lab import LabSpec

    return Lab(app.settings.lab_dir, None if with_vm else LabSpec(vm=None))


@command(lab, "up")
@click.option("--no-vm", is_flag=True,
              help="A quick lab without the VM host lab-vm (stops one that runs).")
def lab_up(app: App, no_vm: bool) -> None:
    """Build the lab (idempotent: a second run changes nothing)."""
    from homelab_ops.render import lab as render

    emit(app, _lab(app, with_vm=not no_vm).up(), render.status)


@command(lab, "down")
@click.option("--purge", is_flag=True, help="Also remove the cached VM image.")
def lab_down(app: App, purge: bool) -> None:
    """Remove exactly what `lab up` created (the cached VM image stays unless --purge)."""
    from homelab_ops.render import lab as render

    emit(app, _lab(app).down(purge=purge), render.removed)


@command(lab, "status")
def lab_status_cmd(app: App) -> None:
    """Show what of the lab exists and runs."""
    from homelab_ops.render import lab as render

    emit(app, _lab(app).status(), render.status)
