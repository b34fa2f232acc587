"""``cycle``, ``decisions``, ``why``, ``incidents``, ``ops`` and ``queue``: the
autonomous loop's commands."""

from __future__ import annotations

import re
import time
from pathlib import Path

import click

from homelab_ops.commands.base import App, command, emit, inventory_option, resolve_inventory
from homelab_ops.errors import HomelabError


def _echo(lines: list[str]) -> None:
    click.echo("\n".join(lines))


@command(None, "cycle")
@click.option("--dry-run", is_flag=True, help="Decide and record, change nothing on any host.")
@inventory_option
def cycle_cmd(app: App, dry_run: bool, inventory: Path | None) -> int:
    """One autonomous cycle: observe, orient, decide, act (under every gate), learn.
    Exits non-zero only when the tool itself failed, not when a remediation did."""
    from homelab_ops.loop.cycle import run_cycle
    from homelab_ops.metrics import refresh as refresh_metrics
    from homelab_ops.render import loop as render

    inv = resolve_inventory(app, inventory)
    with app.store() as store:
        report = run_cycle(inv, store, app.settings, dry_run=dry_run)
        refresh_metrics(store, app.settings, report)
    emit(app, report.model_dump(mode="json"), lambda _: _echo(render.cycle(report)))
    return 0


@click.group(invoke_without_command=True)
@click.option("--since", default="24h", show_default=True, help="How far back (30m, 24h, 7d).")
@click.option("--host", help="Only this host.")
@click.option("--service", help="Only this service (container or mountpoint).")
@click.option("--verdict", type=click.Choice(["executed", "notified", "queued", "alerted",
                                              "refused", "skipped", "dropped"]))
@click.option("--outcome", type=click.Choice(["success", "failed", "interrupted", "dry-run"]))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def decisions(ctx: click.Context, since: str, host: str | None, service: str | None,
              verdict: str | None, outcome: str | None, as_json: bool) -> None:
    """The decision log: every decision with its reason, gates and outcome."""
    if ctx.invoked_subcommand is not None:
        return
    from homelab_ops.loop import incidents, log
    from homelab_ops.render import loop as render

    app: App = ctx.obj
    app.json = as_json
    start = time.time() - _seconds(since)
    with app.store() as store:
        rows = log.query(store, since=start, host=host, service=service, verdict=verdict,
                         outcome=outcome)
        weeks = incidents.weekly([i for i in incidents.opened_since(
            log.entries(store), start, service) if host is None or i.host == host])
    emit(app, rows, lambda r: _echo(render.decisions(r) + [
        f"incidents {render.incident_week(w.model_dump())}" for w in weeks]))


@command(decisions, "verify")
def decisions_verify(app: App) -> int:
    """Check the hash chain of the decision log; exit 1 naming the first bad row."""
    from homelab_ops.loop import log

    with app.store() as store:
        check = log.verify(store)
    emit(app, check.model_dump(), lambda c: click.echo(
        f"decision log ok: {c['rows']} rows, chain intact" if c["ok"]
        else f"decision log BROKEN at row {c['bad_row']}: {c['problem']}"))
    return 0 if check.ok else 1


@command(None, "why")
@click.argument("service")
@click.option("--host", help="Only decisions on this host.")
@click.option("--last", default=5, show_default=True, type=click.IntRange(1, 1000),
              help="How many of the newest decisions to show.")
def why_cmd(app: App, service: str, host: str | None, last: int) -> None:
    """Why the loop did (or did not) act on SERVICE: its newest decisions, and what
    would have to change for the loop to act."""
    from homelab_ops.loop import log
    from homelab_ops.render import loop as render

    with app.store() as store:
        rows = log.query(store, host=host, service=service)[:last]
    now = time.time()
    emit(app, {"service": service, "decisions": rows,
               "to_act": render.why(service, rows, now)[-1] if rows else None},
         lambda d: _echo(render.why(service, d["decisions"], now)))


@command(None, "incidents")
@click.option("--since", default="7d", show_default=True, help="Opened within (24h, 7d).")
@click.option("--service", help="Only this service.")
def incidents_cmd(app: App, since: str, service: str | None) -> None:
    """Problems grouped into incidents (opened, actions, resolved or escalated) with
    their time to recover, and per week the share auto-resolved vs escalated."""
    from homelab_ops.loop import incidents, log
    from homelab_ops.render import loop as render

    with app.store() as store:
        every = incidents.opened_since(log.entries(store), time.time() - _seconds(since),
                                       service)
    data = {"incidents": [{**i.model_dump(), "state": i.state, "mttr_s": i.mttr}
                          for i in every],
            "weeks": [w.model_dump() for w in incidents.weekly(every)]}
    emit(app, data, lambda d: _echo(render.incidents(d)))


@click.group()
def ops() -> None:
    """Emergency controls: stop, pause, resume, status."""


def _control(app: App, action: str, reason: str) -> None:
    from homelab_ops.loop import controls

    with app.store() as store:
        d = controls.set_control(store, action, reason, time.time())
    emit(app, d.model_dump(), lambda _: click.echo(f"loop {action}: {reason}"))


@command(ops, "stop")
@click.option("--reason", default="stopped by a person", show_default=True)
def ops_stop(app: App, reason: str) -> None:
    """Stop acting now: a running cycle halts before its next action."""
    _control(app, "stop", reason)


@command(ops, "pause")
@click.option("--reason", default="paused by a person", show_default=True)
def ops_pause(app: App, reason: str) -> None:
    """Stop acting from the next action on (decisions are still recorded, as skipped)."""
    _control(app, "pause", reason)


@command(ops, "resume")
@click.option("--reason", default="resumed by a person", show_default=True)
def ops_resume(app: App, reason: str) -> None:
    """Act again; also closes the circuit breaker."""
    _control(app, "resume", reason)


@command(ops, "status")
def ops_status(app: App) -> None:
    """Pause/stop state, the breaker, the cooldowns and budgets in force."""
    from homelab_ops.loop import controls, log
    from homelab_ops.render import loop as render

    with app.store() as store:
        state = controls.overview(log.entries(store), app.settings.loop, time.time(),
                                  len(store.approvals("pending")))
    emit(app, state, lambda s: _echo(render.controls(s)))


@click.group()
def queue() -> None:
    """Actions waiting for a person: list, approve, reject."""


@command(queue, "list")
@click.option("--all", "show_all", is_flag=True, help="Also approved, done, rejected, dropped.")
def queue_list(app: App, show_all: bool) -> None:
    from homelab_ops.render import loop as render

    with app.store() as store:
        rows = store.approvals(None if show_all else "pending")
    emit(app, rows, lambda r: _echo(render.queue(r)))


def _decide(app: App, approval: int, status: str, verb: str) -> None:
    from homelab_ops.loop import controls

    with app.store() as store:
        if not store.set_approval(approval, status, time.time(), f"{status} by a person"):
            raise HomelabError(f"no open approval #{approval} (see `homelab-ops queue list`)")
        controls.set_control(store, verb, f"#{approval} {status} by a person", time.time())
    emit(app, {"id": approval, "status": status}, lambda d: click.echo(
        f"#{approval} {status}" + (": it runs on the next cycle if its finding still holds"
                                   if status == "approved" else "")))


@command(queue, "approve")
@click.argument("approval", type=int)
def queue_approve(app: App, approval: int) -> None:
    """Approve a queued action: the next cycle runs it if its finding still holds."""
    _decide(app, approval, "approved", "approve")


@command(queue, "reject")
@click.argument("approval", type=int)
def queue_reject(app: App, approval: int) -> None:
    """Reject a queued action: it never runs."""
    _decide(app, approval, "rejected", "reject")


def _seconds(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not m:
        raise click.BadParameter(f"{text!r}: use a number and a unit, e.g. 30m, 24h, 7d",
                                 param_hint="--since")
    return float(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m[2]]
