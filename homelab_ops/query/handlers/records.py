"""Questions answered from the store's own records: backups, decisions, deployments.

These records are written as things happen, so the data is as fresh as the store:
``as_of`` is the newest record read (or the time of asking when there is none).
"""

from __future__ import annotations

from datetime import datetime

from homelab_ops.query.fmt import ago, clock
from homelab_ops.query.handlers import Answer, Context

BACKUP_ROWS = 500


def last_backup(ctx: Context, slots: dict[str, str]) -> Answer:
    """The newest successful run per host, subvolume and action (backup, snapshot,
    send, restore_test, ...), and any failure newer than it: a failed night after a
    good one must not read as "backed up"."""
    rows = ctx.store.backups(limit=BACKUP_ROWS)
    if not rows:
        return Answer(["No backup has been recorded yet (run `homelab-ops backup`)."], [],
                      ctx.now, ["backups"])
    groups: dict[tuple[str, str, str], dict] = {}
    for row in rows:  # newest first
        g = groups.setdefault((row["host"], row["subvolume"], row["action"]),
                              {"last_ok": None, "failed_since": 0, "last_attempt": row})
        if row["ok"] and g["last_ok"] is None:
            g["last_ok"] = row
        elif not row["ok"] and g["last_ok"] is None:
            g["failed_since"] += 1
    ok_rows = [g["last_ok"] for g in groups.values() if g["last_ok"]]
    lines = []
    if ok_rows:
        newest = max(ok_rows, key=lambda r: r["ts"])
        lines.append(f"Last successful {newest['action'].replace('_', ' ')}: "
                     f"{newest['subvolume']} on {newest['host']} at "
                     f"{clock(newest['ts'], ctx.now)} ({ago(newest['ts'], ctx.now)}).")
    else:
        lines.append("No backup has succeeded yet.")
    data = []
    for (host, subvolume, action), g in sorted(groups.items()):
        ok = g["last_ok"]
        state = (f"ok at {clock(ok['ts'], ctx.now)}" if ok else "never succeeded")
        if g["failed_since"]:
            state += f", {g['failed_since']} failed since"
        lines.append(f"  {action.replace('_', ' ')} {host}:{subvolume}: {state}")
        data.append({"host": host, "subvolume": subvolume, "action": action,
                     "last_ok_ts": ok["ts"] if ok else None,
                     "failed_since": g["failed_since"],
                     "last_attempt_ts": g["last_attempt"]["ts"]})
    return Answer(lines, data, rows[0]["ts"], ["backups"])


def decisions_today(ctx: Context, slots: dict[str, str]) -> Answer:
    """Every decision since local midnight: taken, queued, refused, with the reason."""
    midnight = datetime.fromtimestamp(ctx.now).replace(
        hour=0, minute=0, second=0, microsecond=0).timestamp()
    rows = ctx.store.decisions(since=midnight, limit=200)
    if not rows:
        return Answer(["The autonomous loop decided nothing today."], [], ctx.now,
                      ["decisions"])
    lines = [f"{len(rows)} decisions today (newest first):"]
    for d in rows:
        outcome = f" -> {d['outcome']}" if d.get("outcome") else ""
        lines.append(f"  {clock(d['ts'], ctx.now)} {d['verdict']} {d['action']} on "
                     f"{d['subject']} ({d['finding']}, confidence {d['confidence']:.0%}, "
                     f"{d['risk']} risk): {d['reason']}{outcome}")
    return Answer(lines, rows, rows[0]["ts"], ["decisions"])


def deployed_stacks(ctx: Context, slots: dict[str, str]) -> Answer:
    rows = ctx.store.deployments()
    if not rows:
        return Answer(["No stack has been deployed with homelab-ops yet."], [], ctx.now,
                      ["deployments"])
    stacks: dict[tuple[str, str], list[dict]] = {}
    for d in rows:
        stacks.setdefault((d["host"], d["stack"]), []).append(d)
    lines = [f"{len(stacks)} stacks deployed:"]
    for (host, stack), services in sorted(stacks.items()):
        parts = [f"{s['service']} ({s['pattern']}{'' if s['ok'] else ', FAILED'})"
                 for s in sorted(services, key=lambda s: s["service"])]
        newest = max(s["ts"] for s in services)
        lines.append(f"  {stack} on {host}, deployed {clock(newest, ctx.now)}: "
                     + ", ".join(parts))
    return Answer(lines, rows, rows[0]["ts"], ["deployments"])


HANDLERS = {"last_backup": last_backup, "decisions_today": decisions_today,
            "deployed_stacks": deployed_stacks}
