"""Questions about containers: top memory/CPU, is X running, overview, restarts, events."""

from __future__ import annotations

from homelab_ops.query.fmt import ago, clock, iso_ts, size
from homelab_ops.query.handlers import Answer, Context, label, no_observation

TOP = 5
EVENT_WINDOW = 24 * 3600


def top_memory(ctx: Context, slots: dict[str, str]) -> Answer:
    return _top(ctx, "mem_bytes", "memory", size)


def top_cpu(ctx: Context, slots: dict[str, str]) -> Answer:
    return _top(ctx, "cpu_pct", "CPU", lambda v: f"{v:.1f} %")


def _top(ctx: Context, key: str, what: str, show) -> Answer:
    if not ctx.latest:
        return no_observation()
    rows = sorted(((c[key], h, c["name"]) for h, c in ctx.containers()
                   if c.get(key) is not None), reverse=True)[:TOP]
    if not rows:
        return Answer([f"No container reports its {what} use."], [], ctx.observed_at,
                      ["observations"])
    lines = [f"Top {what} users:"]
    lines += [f"  {i}. {label(ctx, h, n)}: {show(v)}" for i, (v, h, n) in enumerate(rows, 1)]
    data = [{"host": h, "service": n, key: v} for v, h, n in rows]
    return Answer(lines, data, ctx.observed_at, ["observations"])


def service_running(ctx: Context, slots: dict[str, str]) -> Answer:
    name = slots["service"]
    found = [(h, c) for h, c in ctx.containers() if c["name"] == name]
    lines, data = [], []
    for host, c in found:
        started = iso_ts(c.get("started_at"))
        state = "running" if c["state"] == "running" else f"NOT running ({c['state']})"
        health = f", {c['health']}" if c.get("health") else ""
        since = (f" since {clock(started, ctx.now)}"
                 if started and c["state"] == "running" else "")
        where = f" on {host}" if ctx.many_hosts else ""
        lines.append(f"{name} is {state}{health}{where}{since}.")
        data.append({"host": host, "service": name, "state": c["state"],
                     "running": c["state"] == "running", "health": c.get("health"),
                     "started_at": c.get("started_at"),
                     "restart_count": c.get("restart_count", 0)})
    return Answer(lines, data, ctx.observed_at, ["observations"])


def service_status(ctx: Context, slots: dict[str, str]) -> Answer:
    if not ctx.latest:
        return no_observation()
    lines, data = [], []
    for host, doc in ctx.latest.items():
        cs = doc.get("containers", [])
        running = [c for c in cs if c["state"] == "running"]
        down = [c for c in cs if c["state"] != "running"]
        unhealthy = [c for c in running if c.get("health") == "unhealthy"]
        prefix = f"{host}: " if ctx.many_hosts else ""
        if not doc.get("reachable", True):
            lines.append(f"{prefix}host unreachable ({doc.get('error')})")
        else:
            lines.append(f"{prefix}{len(running)} of {len(cs)} containers running"
                         f"{f', {len(unhealthy)} unhealthy' if unhealthy else ''}.")
        lines += [f"  down: {c['name']} ({c['state']})" for c in down]
        lines += [f"  unhealthy: {c['name']}" for c in unhealthy]
        data.append({"host": host, "total": len(cs),
                     "running": sorted(c["name"] for c in running),
                     "down": sorted(c["name"] for c in down),
                     "unhealthy": sorted(c["name"] for c in unhealthy)})
    return Answer(lines, data, ctx.observed_at, ["observations"])


def last_restart(ctx: Context, slots: dict[str, str]) -> Answer:
    """From the event history (restarts dated by the container's new start time);
    without a recorded restart, say how long it has been up instead."""
    name = slots["service"]
    lines, data = [], []
    for host, c in ctx.containers():
        if c["name"] != name:
            continue
        where = f" on {host}" if ctx.many_hosts else ""
        restarts = ctx.store.events(host=host, subject=name, kinds=["restarted"], limit=1)
        started = iso_ts(c.get("started_at"))
        count = c.get("restart_count", 0)
        if restarts:
            ts = restarts[0].ts
            lines.append(f"{name}{where} was last restarted at {clock(ts, ctx.now)} "
                         f"({ago(ts, ctx.now)}); restart count {count}.")
        elif started:
            lines.append(f"{name}{where} has no restart on record; it is up since "
                         f"{clock(started, ctx.now)} ({ago(started, ctx.now)}).")
        else:
            lines.append(f"{name}{where} has no restart on record and is {c['state']}.")
        data.append({"host": host, "service": name,
                     "last_restart": restarts[0].ts if restarts else None,
                     "started_at": c.get("started_at"), "restart_count": count})
    return Answer(lines, data, ctx.observed_at, ["observations", "events"])


def recent_events(ctx: Context, slots: dict[str, str]) -> Answer:
    service = slots.get("service")
    events = ctx.store.events(subject=service, since=ctx.now - EVENT_WINDOW, limit=20)
    about = f" for {service}" if service else ""
    if not events:
        lines = [f"No events{about} in the last 24 hours."]
    else:
        lines = [f"Events{about} in the last 24 hours (newest first):"]
        lines += [f"  {clock(e.ts, ctx.now)} {label(ctx, e.host, e.subject or e.host)} "
                  f"{e.kind.replace('_', ' ')}{_detail(e.kind, e.detail)}" for e in events]
    data = [{"ts": e.ts, "host": e.host, "subject": e.subject, "kind": e.kind,
             "detail": e.detail} for e in events]
    return Answer(lines, data, ctx.observed_at, ["events"])


def _detail(kind: str, detail: dict) -> str:
    if kind == "health_changed":
        return f" ({detail.get('old')} -> {detail.get('new')})"
    if kind == "stopped" and detail.get("exit_code") is not None:
        return f" (exit {detail['exit_code']})"
    return ""


HANDLERS = {"top_memory": top_memory, "top_cpu": top_cpu, "service_running": service_running,
            "service_status": service_status, "last_restart": last_restart,
            "recent_events": recent_events}
