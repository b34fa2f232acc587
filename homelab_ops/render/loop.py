"""Text a person reads about the loop: the cycle report, decisions, controls, queue.
Pure functions from data to lines, so the CLI only echoes them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from homelab_ops.models.decision import CycleReport


def cycle(r: CycleReport) -> list[str]:
    if r.skipped:
        return [f"cycle not run: {r.skipped}; nothing was done"]
    mode = " (dry run: nothing changed on any host)" if r.dry_run else ""
    lines = [f"cycle {r.cycle}{mode}", "observed:"]
    for host, h in r.hosts.items():
        state = (f"{h['containers']} containers, health {h['score']}" if h["reachable"]
                 else "unreachable")
        lines.append(f"  {host}: {state} (observed {h['observed'][11:19]})")
    for d in r.interrupted:
        lines.append(f"interrupted: decision #{d} never finished (an earlier cycle died "
                     "during it); its finding is judged again below")
    for line in r.resolved:
        lines.append(f"resolved: {line}")
    if not r.planned:
        lines.append("decided: nothing to do — no findings")
    else:
        lines.append("decided:")
    for p in r.planned:
        f = p.finding
        act = p.playbook or "no playbook"
        lines.append(f"  {p.verdict.upper():9} {f.host}: {f.message} -> {act} "
                     f"(confidence {p.confidence:.0%}, {p.risk} risk)")
        lines.append(f"            why: {p.reason}")
        held = [g for g in p.gates if not g.ok]
        if held:
            lines.append("            gates: " + "; ".join(f"{g.gate}: {g.detail}"
                                                          for g in held))
        if p.held_by is not None and p.held_by.change:
            lines.append(f"            to act: {p.held_by.change}")
    if r.actions:
        lines.append("done:")
    for a in r.actions:
        snap = f", snapshot {a.snapshot}" if a.snapshot else ""
        err = f": {a.error}" if a.error else ""
        detail = "".join(f", {k} {v}" for k, v in a.detail.items() if k == "bytes_freed")
        lines.append(f"  {a.outcome.upper():9} {a.host}: {a.playbook} {a.target}{snap}"
                     f"{detail}{err}")
    if r.halted:
        lines.append(f"halted: {r.halted}")
    for n in r.notifications:
        lines.append(f"notified: {n['title']}")
    lines.append("phases: " + ", ".join(f"{k} {v:.1f}s" for k, v in r.phases.items()))
    return lines


def decisions(rows: Iterable[dict[str, Any]]) -> list[str]:
    lines = []
    for d in rows:
        outcome = f" -> {d['outcome']}" if d.get("outcome") else ""
        lines.append(f"#{d['id']} {_ts(d['ts'])} {d['verdict']:9} {d['host']}: "
                     f"{d['action']} {d['subject']} ({d['finding']}, {d['confidence']:.0%}, "
                     f"{d['risk']} risk){outcome}")
        lines.append(f"    {d['reason']}")
        if d.get("outcome_reason"):  # e.g. the verification's and the rollback's verdicts
            lines.append(f"    -> {d['outcome_reason']}")
    return lines or ["no decisions match"]


def why(service: str, rows: list[dict[str, Any]], now: float) -> list[str]:
    """The newest decisions about ``service`` and what would have to change for the
    loop to act on it (from the newest one)."""
    if not rows:
        return [f"no decisions about {service}: the loop has found nothing wrong with it"]
    lines = [f"{service}: the last {len(rows)} decision(s), newest first"]
    for d in rows:
        outcome = f" -> {d['outcome']}" if d.get("outcome") else ""
        lines.append(f"  #{d['id']} {_ts(d['ts'])} {d['verdict']:9} {d['action']} "
                     f"({d['finding']}, {d['confidence']:.0%}){outcome}: {d['reason']}")
        if skill := (d.get("detail") or {}).get("skill"):
            lines.append(f"      picked by the recommender: {skill['why']}")
        if d.get("outcome_reason"):
            lines.append(f"      -> {d['outcome_reason']}")
    lines.append(f"to act: {_to_act(rows[0], now)}")
    return lines


def _to_act(d: dict[str, Any], now: float) -> str:
    held = d["detail"].get("held_by")
    if d["verdict"] in ("executed", "notified"):
        return (f"nothing: it acted ({d['action']}, {d['outcome'] or 'no outcome yet'}); "
                "the next cycle acts again if the problem comes back, under its gates")
    if d["verdict"] == "dropped":
        return "nothing: its finding went away"
    if not held:
        return "the decision records no holding gate: " + d["reason"]
    until = held.get("until")
    if until is not None and until <= now:
        return (f"{held['gate']} ended at {_ts(until)}: the next cycle acts if the "
                "finding still holds")
    left = f" (in {_span(until - now)})" if until is not None else ""
    return f"{held['gate']}: {held['change'] or held['detail']}{left}"


def _span(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def incidents(data: dict[str, Any]) -> list[str]:
    lines = []
    for i in data["incidents"]:
        end = (f"resolved {_ts(i['resolved'])}, time to recover {_span(i['mttr_s'])}"
               if i["state"] == "resolved" else i["state"])
        esc = f", escalated {_ts(i['escalated'])}" if i["escalated"] else ""
        last = f" ({i['last_outcome']})" if i["last_outcome"] else ""
        lines.append(f"#{i['id']} {_ts(i['opened'])} {i['host']}: {i['subject']} "
                     f"({i['finding']}): {i['actions']} action(s){last}{esc}; {end}")
    lines += [incident_week(w) for w in data["weeks"]]
    return lines or ["no incidents"]


def incident_week(w: dict[str, Any]) -> str:
    """One week's share auto-resolved vs escalated (`incidents`, `decisions`)."""
    mttr = _span(w["median_mttr_s"]) if w["median_mttr_s"] is not None else "-"
    still = f", {w['open']} still open" if w["open"] else ""
    return (f"week {w['week']}: {w['incidents']} incident(s), {w['auto_resolved']} "
            f"({w['auto_resolved_pct']:g} %) auto-resolved, {w['escalated']} "
            f"({w['escalated_pct']:g} %) escalated{still}, median time to recover {mttr}")


def controls(state: dict[str, Any]) -> list[str]:
    c = state["control"]
    mode = ("stopped" if c["stopped"] else "paused" if c["paused"] else "running")
    lines = [f"loop: {mode}" + (f" since {_ts(c['since'])} ({c['reason']})"
                                if c["since"] else "")]
    breaker = "OPEN" if c["breaker_open"] else "closed"
    lines.append(f"circuit breaker: {breaker} ({c['consecutive_failures']} failed actions "
                 f"in a row, opens at {state['breaker_failures']})")
    for row in state["cooldowns"]:
        lines.append(f"cooldown: {row['host']}: {row['why']}")
    for row in state["budgets"]:
        lines.append(f"restart budget: {row['host']}: {row['service']}: {row['used']} of "
                     f"{row['budget']} used")
    lines.append(f"approvals waiting: {state['pending']}")
    return lines


def queue(rows: Iterable[dict[str, Any]]) -> list[str]:
    lines = [f"#{a['id']} {_ts(a['ts'])} {a['status']:8} {a['host']}: {a['action']} "
             f"{a['subject']} ({a['finding']})" + (f" — {a['note']}" if a["note"] else "")
             for a in rows]
    return lines or ["the approval queue is empty"]


def _ts(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
