"""``homelab-ops diagnose SERVICE | audit | netcheck SERVICE``: the read-only routines
(``recommend --run`` runs them by these command lines). They never change a host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from homelab_ops.commands.base import App, command, emit, inventory_option, resolve_inventory


def _failures(d: dict[str, Any]) -> None:
    for f in d.get("failures", []):
        click.echo(f"host {f['host']}: {f['error']}")


@command(None, "diagnose")
@click.argument("service")
@inventory_option
def diagnose_cmd(app: App, service: str, inventory: Path | None) -> None:
    """Diagnose one service: its state, exit code, OOM kills, healthcheck log,
    restarts, recent events, memory trend and leak prediction, its stack's drift and
    its last log lines; names the cause in one line when the evidence says so."""
    from homelab_ops.diagnose.service import diagnose

    inv = resolve_inventory(app, inventory)
    with app.store() as store:
        result = diagnose(inv, store, app.settings, service)
    emit(app, result.model_dump(mode="json"), _show_diagnosis)


def _show_diagnosis(d: dict[str, Any]) -> None:
    c = d["container"]
    click.echo(f"{d['service']} on {d['host']}: "
               + (f"CAUSE: {d['cause']}" if d["cause"] else "no cause found"))
    code = d["last_exit_code"] if d["last_exit_code"] is not None else c["exit_code"]
    click.echo(f"  state {c['state']}, health {c['health'] or '-'}, restarts "
               f"{c['restart_count']} (podman), {d['restarts_1h']} in 1 h (events), last exit "
               f"code {'-' if code is None else code}, OOM-killed {c['oom_killed']}, "
               f"{d['ooms_1h']} OOM kills in 1 h")
    for f in d["findings"][1:]:
        click.echo(f"  also: {f['message']}")
    if d["leak"]:
        click.echo(f"  memory: {d['leak']['basis']}")
    for run in d["health_log"][-3:]:
        click.echo(f"  healthcheck exit {run['exit_code']}: {run['output'] or '(no output)'}")
    for e in d["events"][:5]:
        detail = f" exit code {e['exit_code']}" if e.get("exit_code") is not None else ""
        click.echo(f"  event {e['kind']}{detail} at {_when(e['ts'])}")
    for line in d["drift"]:
        click.echo(f"  drift: {line}")
    if d["log_tail"]:
        click.echo("  last log lines:")
        for line in d["log_tail"][-10:]:
            click.echo(f"    {line}")
    for note in d["notes"]:
        click.echo(f"  note: {note}")
    _failures(d)


def _when(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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

    report = audit(only_hosts(resolve_inventory(app, inventory), hosts))
    emit(app, report.model_dump(mode="json"), _show_audit)
    return 1 if report.findings else 2 if report.failures else 0


def _show_audit(d: dict[str, Any]) -> None:
    for f in d["findings"]:
        click.echo(f"{f['severity'].upper():<6} {f['host']}: {f['subject']}: {f['message']}")
        click.echo(f"       fix: {f['fix']}")
    hosts = ", ".join(d["hosts"]) or "no host"
    verdict = f"{len(d['findings'])} finding(s)" if d["findings"] else "no findings"
    click.echo(f"audited {hosts}: {d['containers']} running container(s), "
               f"{d['secret_files']} secret file(s): {verdict}")
    _failures(d)


@command(None, "netcheck")
@click.argument("service")
@inventory_option
def netcheck_cmd(app: App, service: str, inventory: Path | None) -> int:
    """The networks a service is on and, for each peer there, its DNS name and whether
    the service reaches it (checked inside its network namespace with its own tools).
    Exit 1 when a peer is unreachable or its name does not resolve to it, 2 when no
    peer could be checked (the container lacks a shell or the tools: it says which)."""
    from homelab_ops.diagnose.netcheck import netcheck

    result = netcheck(resolve_inventory(app, inventory), service)
    emit(app, result.model_dump(mode="json"), _show_netcheck)
    bad = [p for p in result.peers if p.reachable is False or p.dns_ok is False]
    told = [p for p in result.peers if p.reachable is not None]
    return 1 if bad else 2 if result.peers and not told else 0


def _show_netcheck(d: dict[str, Any]) -> None:
    nets = {n["name"]: n for n in d["networks"]}
    click.echo(f"{d['service']} on {d['host']}"
               + (f" (tools inside: {', '.join(d['tools'])})" if d["tools"] else ""))
    for a in d["attachments"]:
        n = nets.get(a["network"], {})
        flags = ", ".join(f for f, on in (("DNS", n.get("dns_enabled")),
                                          ("internal", n.get("internal"))) if on)
        click.echo(f"  network {a['network']}: {a['address'] or '-'}"
                   + (f" ({flags})" if flags else ""))
    for p in d["peers"]:
        if p["reachable"] is None:
            verdict = "not checked" if not p["note"] else p["note"]
        else:
            verdict = "reachable" if p["reachable"] else "UNREACHABLE"
        dns = ", ".join(p["dns_names"]) or "-"
        if p["dns_ok"] is not None:
            dns += " (resolves)" if p["dns_ok"] else (
                f" (RESOLVES TO {p['resolved'] or 'nothing'}"
                + (f": {p['dns_said']}" if p["dns_said"] else "") + ")")
        ports = " ".join(f"{x['port']}:{x['result']}" for x in p["ports"])
        ping = "" if p["ping"] is None else f" ping {'ok' if p['ping'] else 'no answer'}"
        click.echo(f"  peer {p['peer']} on {p['network']} at {p['address'] or '-'}: {verdict};"
                   f" DNS {dns}{ping}" + (f" ports {ports}" if ports else "")
                   + (f" ({p['note']})" if p["note"] and p["reachable"] is not None else ""))
    for note in d["notes"]:
        click.echo(f"  note: {note}")
    _failures(d)
