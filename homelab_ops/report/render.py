"""The report's renderings. The words and tables of every section are laid out once here
(``sections``), from the model; the Markdown and HTML templates only arrange them, and
the HTML adds the charts. The JSON rendering is the model's own dump."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import jinja2

from homelab_ops.models.report import Report
from homelab_ops.report import build

TEMPLATES = Path(__file__).with_name("templates")


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Section:
    id: str
    title: str
    lines: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)  # inline SVG (HTML only)


def to_json(report: Report) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2)


def to_markdown(report: Report) -> str:
    return _template("report.md.j2", autoescape=False).render(
        r=report, sections=sections(report, charts=False), ts=ts)


def to_html(report: Report) -> str:
    """One self-contained page: inline CSS and SVG, no script, no link, no font."""
    return _template("report.html.j2", autoescape=True).render(
        r=report, sections=sections(report, charts=True), ts=ts)


def _template(name: str, autoescape: bool) -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=autoescape,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["cell"] = _md_cell
    env.filters["md"] = _md_text
    return env.get_template(name)


def _md_text(text: str) -> str:
    """Text from the store in Markdown: one line, and no raw HTML (names and messages
    come from hosts, and Markdown viewers pass HTML through)."""
    return " ".join(html.escape(text, quote=False).split())


def _md_cell(text: str) -> str:
    """A Markdown table cell: a pipe would end the cell."""
    return _md_text(text).replace("|", "\\|")


def ts(value: float | None) -> str:
    return "-" if value is None else datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M")


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def sections(r: Report, charts: bool) -> list[Section]:
    from homelab_ops.report import charts as draw

    out = [_attention(r), _health(r), _disks(r), _leaks(r), _activity(r), _backups(r),
           _drift(r), _top(r)]
    if charts:
        by_id = {s.id: s for s in out}
        if r.hosts:
            by_id["health"].charts.append(draw.health_chart(r.hosts))
        by_id["disks"].charts += [draw.disk_chart(d, r.until) for d in r.disks
                                  if d.prediction.status in ("fills", "over_threshold")
                                  ][:draw.MAX_DISK_CHARTS]
        by_id["leaks"].charts += [draw.leak_chart(m) for m in r.leaks]
        by_id["activity"].charts.append(draw.actions_chart(r.activity.per_day))
    return out


def _attention(r: Report) -> Section:
    lines = [f"{a.severity.upper()} ({a.topic}): {a.message}" for a in r.attention]
    return Section("attention", "Look at first",
                   lines or ["Nothing needs a person this week."])


def _health(r: Report) -> Section:
    s = Section("health", "Health", tables=[Table(
        ["host", "score now", "lowest", "average", "observations", "unreachable"],
        [[h.host, _num(h.score_now, "{}"), _num(h.score_min, "{}"), _num(h.score_avg),
          str(h.observations), str(h.unreachable)] for h in r.hosts])])
    for h in r.hosts:
        if h.lowered_by:
            s.tables.append(Table(["reason", "observations", "worst penalty"],
                                  [[x.message, str(x.observations), f"-{x.worst_penalty}"]
                                   for x in h.lowered_by[:10]],
                                  caption=f"what lowered {h.host}"))
    if not r.hosts:
        s.lines.append("No observations in this period.")
    return s


def _disks(r: Report) -> Section:
    return Section("disks", "Disks: days to full", tables=[Table(
        ["host", "filesystem", "used %", "prediction", "basis"],
        [[d.prediction.host, d.prediction.mountpoint, _num(d.prediction.used_pct),
          build.disk_eta(d.prediction) if d.prediction.status in ("fills", "over_threshold")
          else d.prediction.status.replace("_", " "), d.prediction.basis]
         for d in r.disks])], lines=[] if r.disks else ["No filesystem history."])


def _leaks(r: Report) -> Section:
    return Section("leaks", "Memory: suspected leaks", tables=[Table(
        ["host", "container", "rate", "now MB", "limit MB", "basis"],
        [[m.prediction.host, m.prediction.container, build.leak_rate(m.prediction),
          _num(m.prediction.current_mb), _num(m.prediction.limit_mb), m.prediction.basis]
         for m in r.leaks])] if r.leaks else [],
        lines=[] if r.leaks else ["No container is suspected of leaking memory."])


def _activity(r: Report) -> Section:
    a = r.activity
    verdicts = ", ".join(f"{k} {v}" for k, v in a.by_verdict.items()) or "none"
    outcomes = ", ".join(f"{k} {v}" for k, v in a.by_outcome.items()) or "none"
    log = "verified" if a.log_ok else f"DOES NOT VERIFY: {a.log_problem}"
    lines = [f"Decisions: {verdicts}.", f"Outcomes: {outcomes}.",
             f"Circuit breaker trips: {a.breaker_trips}; approvals waiting: "
             f"{a.pending_approvals}; loop now: {a.halted or 'running'}.",
             f"Incidents: {_share(a)}.",
             f"Decision log (hash chain): {log}."]
    tables = [Table(["#", "time", "host", "verdict", "action", "subject", "finding",
                     "outcome", "snapshot", "why"],
                    [[str(d.id), ts(d.ts), d.host, d.verdict, d.action, d.subject, d.finding,
                      d.outcome or "-", ", ".join(d.snapshot) or "-",
                      d.outcome_reason or d.reason] for d in a.decisions])]
    if a.incident_weeks:
        tables.append(Table(
            ["week", "incidents", "auto-resolved", "escalated", "still open",
             "median time to recover"],
            [[w.week, str(w.incidents), f"{w.auto_resolved} ({w.auto_resolved_pct:g} %)",
              f"{w.escalated} ({w.escalated_pct:g} %)", str(w.open),
              _num(None if w.median_mttr_s is None else w.median_mttr_s / 60, "{:.0f} min")]
             for w in a.incident_weeks], caption="incidents: auto-resolved vs escalated"))
    if a.controls:
        tables.append(Table(["time", "control", "reason"],
                            [[ts(c.ts), c.action, c.reason] for c in a.controls],
                            caption="pauses, stops and breaker trips"))
    if not a.decisions:
        lines.append("No decisions in this period.")
    return Section("activity", "What the cycle did", lines, tables)


def _share(a) -> str:
    """The window's incidents in one phrase: auto-resolved vs escalated."""
    total = sum(w.incidents for w in a.incident_weeks)
    if not total:
        return "none opened"
    auto = sum(w.auto_resolved for w in a.incident_weeks)
    esc = sum(w.escalated for w in a.incident_weeks)
    return (f"{total} opened, {auto} ({100 * auto / total:.0f} %) auto-resolved, "
            f"{esc} ({100 * esc / total:.0f} %) escalated")


def _backups(r: Report) -> Section:
    b = r.backups
    tables = [Table(["host", "subvolume", "schedule", "last good", "snapshot", "age h",
                     "state"],
                    [[v.host, v.subvolume, v.schedule, ts(v.last_ok), v.snapshot or "-",
                      _num(v.age_hours), "STALE" if v.stale else "fresh"] for v in b.volumes],
                    caption="freshness"),
              Table(["host", "subvolume", "tested", "result"],
                    [[t.host, t.subvolume, ts(t.ts), "ok" if t.ok else f"FAILED {t.error or ''}"
                      .strip()] for t in b.restore_tests], caption="restore tests")]
    if b.early_rotations:
        tables.append(Table(["time", "host", "backup", "why", "pruned"],
                            [[ts(e.ts), e.host, e.subject, e.reason, str(len(e.pruned))]
                             for e in b.early_rotations], caption="early rotations"))
    lines = [] if b.volumes else ["No backups recorded."]
    return Section("backups", "Backups", lines, tables)


def _drift(r: Report) -> Section:
    return Section("drift", "Drift found and repaired", tables=[Table(
        ["found", "host", "service", "action", "repaired", "what"],
        [[ts(d.found), d.host, d.service, d.action, "yes" if d.repaired else "no", d.message]
         for d in r.drift])] if r.drift else [],
        lines=[] if r.drift else ["No drift found."])


def _top(r: Report) -> Section:
    return Section("top", "Top resource users", tables=[Table(
        ["host", "container", "memory avg MB", "memory max MB", "CPU avg %"],
        [[u.host, u.container, _num(u.mem_mb_avg), _num(u.mem_mb_max),
          _num(u.cpu_pct_avg, "{:.2f}")] for u in r.top_users])],
        lines=[] if r.top_users else ["No container memory recorded."])
