"""The read-only routines' results: a diagnosis, the security audit, a network check."""

from __future__ import annotations

from typing import Any

import click


def failures(d: dict[str, Any]) -> None:
    for f in d.get("failures", []):
        click.echo(f"host {f['host']}: {f['error']}")


def diagnosis(d: dict[str, Any]) -> None:
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
    failures(d)


def _when(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def audit(d: dict[str, Any]) -> None:
    for f in d["findings"]:
        click.echo(f"{f['severity'].upper():<6} {f['host']}: {f['subject']}: {f['message']}")
        click.echo(f"       fix: {f['fix']}")
    hosts = ", ".join(d["hosts"]) or "no host"
    verdict = f"{len(d['findings'])} finding(s)" if d["findings"] else "no findings"
    click.echo(f"audited {hosts}: {d['containers']} running container(s), "
               f"{d['secret_files']} secret file(s): {verdict}")
    failures(d)


def netcheck(d: dict[str, Any]) -> None:
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
    failures(d)
