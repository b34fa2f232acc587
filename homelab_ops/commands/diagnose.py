"""``homelab-ops diagnose SERVICE | audit | netcheck SERVICE``: the read-only routines
(``recommend --run`` runs them by these command lines). They never change a host."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_ops.commands.base import App, command, emit, inventory_option, resolve_inventory


@command(None, "diagnose")
@click.argument("service")
@inventory_option
def diagnose_cmd(app: App, service: str, inventory: Path | None) -> None:
    """Diagnose one service: its state, exit code, OOM kills, healthcheck log,
    restarts, recent events, memory trend and leak prediction, its stack's drift and
    its last log lines; names the cause in one line when the evidence says so."""
    from homelab_ops.diagnose.service import diagnose
    from homelab_ops.render import diagnose as render

    inv = resolve_inventory(app, inventory)
    with app.store() as store:
        result = diagnose(inv, store, app.settings, service)
    emit(app, result.model_dump(mode="json"), render.diagnosis)


@command(None, "audit")
@inventory_option
@click.option("--host", "hosts", multiple=True,
              help="Only these inventory hosts (repeatable; default: every host).")
def audit_cmd(app: App, inventory: Path | None, hosts: tuple[str, ...]) -> int:
    """Security audit of what runs: ports published beyond loopback, web services
    without authelia in front, secret files others may read, privileged containers.
    Exit 0 when clean, 1 with findings, 2 when a host could not be audited."""
    from homelab_ops.diagnose.audit import audit
    from homelab_ops.inventory import only_hosts
    from homelab_ops.render import diagnose as render

    report = audit(only_hosts(resolve_inventory(app, inventory), hosts))
    emit(app, report.model_dump(mode="json"), render.audit)
    return 1 if report.findings else 2 if report.failures else 0


@command(None, "netcheck")
@click.argument("service")
@inventory_option
def netcheck_cmd(app: App, service: str, inventory: Path | None) -> int:
    """The networks a service is on and, for each peer there, its DNS name and whether
    the service reaches it (checked inside its network namespace with its own tools).
    Exit 1 when a peer is unreachable or its name does not resolve to it, 2 when no
    peer could be checked (the container lacks a shell or the tools: it says which)."""
    from homelab_ops.diagnose.netcheck import netcheck
    from homelab_ops.render import diagnose as render

    result = netcheck(resolve_inventory(app, inventory), service)
    emit(app, result.model_dump(mode="json"), render.netcheck)
    bad = [p for p in result.peers if p.reachable is False or p.dns_ok is False]
    told = [p for p in result.peers if p.reachable is not None]
    return 1 if bad else 2 if result.peers and not told else 0


