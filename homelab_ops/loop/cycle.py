"""One autonomous cycle: OBSERVE -> ORIENT -> DECIDE -> ACT -> LEARN, under the
single-cycle lock, each phase timed. Every finding ends as a decision in the log
(acted on, notified, queued, alerted, refused or skipped, with the reason).

A remediation that fails is a recorded outcome; only the tool itself failing raises.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from pyinfra.api import Inventory

from homelab_ops.errors import HomelabError
from homelab_ops.inventory import distinct_hosts
from homelab_ops.loop import controls, decide, detect, incidents, sdnotify
from homelab_ops.loop import log as decision_log
from homelab_ops.loop.act import Actor, act, latest_decisions
from homelab_ops.loop.playbooks import handling
from homelab_ops.models.decision import ActionRecord, CycleReport, Decision, GateResult, Planned
from homelab_ops.models.finding import Finding
from homelab_ops.models.inventory import host_value
from homelab_ops.models.observation import Observation
from homelab_ops.models.prediction import PredictionReport
from homelab_ops.models.settings import Settings
from homelab_ops.recommend.learn import for_finding
from homelab_ops.store import Store

HISTORY_OBSERVATIONS = 12
RESTART_WINDOW_S = 86400.0


def run_cycle(inventory: Inventory, store: Store, settings: Settings, *,
              dry_run: bool = False) -> CycleReport:
    """A whole cycle; a second cycle while one runs returns at once, acting on nothing.
    Under systemd it tells its unit it started and pings the watchdog as it goes."""
    report = CycleReport(cycle=_cycle_id(), started=time.time(), dry_run=dry_run)
    sdnotify.ready(f"cycle {report.cycle} started")
    inventory = distinct_hosts(inventory)
    try:
        with controls.cycle_lock(settings.state_dir):
            _run(report, inventory, store, settings)
    except controls.Busy as busy:
        report.skipped = str(busy)
    return report


def _run(report: CycleReport, inventory: Inventory, store: Store, settings: Settings) -> None:
    phase = _Phases(report)
    with phase("observe"):
        observations, predictions = _observe(inventory, store, settings)
        # quadlet containers of failed units are gone from podman: seen from history
        observations = {h: detect.with_failed_units(o, _recent(store, o)[1:])
                        for h, o in observations.items()}
    with phase("orient"):
        log = decision_log.entries(store)
        report.interrupted = _close_interrupted(store, log, report.cycle)
        findings = _findings(inventory, store, settings, observations, predictions, log)
        resolved = _track_incidents(store, findings, observations, report.cycle, settings,
                                    time.time())
        log = decision_log.entries(store)
        sit = decide.Situation(
            now=time.time(), settings=settings, log=log,
            control=controls.control_state(log, settings.loop.breaker_failures),
            tallies=decide.tallies(log, time.time()), pending=_pending(store),
            incidents=incidents.incidents(log),
            skills={code: for_finding(store, code, handling(code))
                    for code in {f.code for f in findings}})
    report.findings = findings
    report.resolved = resolved
    with phase("decide"):
        report.planned = _plan(store, findings, observations, sit)
    actor = Actor(store, settings, inventory, report.cycle, observations, report.dry_run,
                  last=latest_decisions(sit.log))
    with phase("act"):
        _act(actor, report, sit)
    with phase("learn"):
        acted = sorted({a.host for a in report.actions if a.outcome != "dry-run"})
        if acted:
            _refresh(inventory, store, settings, acted)
    for host, obs in observations.items():
        report.hosts[host] = {"reachable": obs.reachable, "containers": len(obs.containers),
                              "observed": obs.ts.isoformat(),
                              "score": obs.health.score if obs.health else None}


# -- OBSERVE ---------------------------------------------------------------------------
def _observe(inventory: Inventory, store: Store, settings: Settings
             ) -> tuple[dict[str, Observation], PredictionReport]:
    """A fresh observation of every host, reusing one younger than the settings'
    ``fresh_observation_seconds`` (with its cached predictions) instead of probing
    twice."""
    from homelab_ops.observe import observe
    from homelab_ops.predict.run import cached_predictions, predict_all

    latest = {h: Observation.model_validate(d) for h, d in store.latest_observations().items()}
    names = [h.name for h in inventory]
    limit = settings.loop.fresh_observation_seconds
    fresh = all(h in latest and time.time() - latest[h].ts.timestamp() <= limit
                for h in names)
    if fresh:
        return {h: latest[h] for h in names}, cached_predictions(store, settings)[0]
    observed = {o.host: o for o in observe(inventory, store, settings)}
    return observed, predict_all(store, settings)


def _refresh(inventory: Inventory, store: Store, settings: Settings,
             hosts: list[str]) -> None:
    """LEARN: observe the hosts acted on again, so status, predictions and `ask` see
    the result at once (observing clears the query cache)."""
    from homelab_ops.inventory import inventory_from_entries
    from homelab_ops.observe import observe
    from homelab_ops.predict.run import predict_all

    entries = [(h.name, h.data.dict()) for h in inventory if h.name in hosts]
    observe(inventory_from_entries(entries, "cycle"), store, settings)
    predict_all(store, settings)


# -- ORIENT ----------------------------------------------------------------------------
def _close_interrupted(store: Store, log: list[Decision], cycle: str) -> list[int]:
    """Give every action a dead cycle left without an outcome the outcome
    ``interrupted``; its finding is judged afresh this cycle (acted on again only if
    it still holds)."""
    closed = []
    for d in decision_log.unfinished(log, cycle):
        if d.detail.get("dry_run"):
            continue
        decision_log.append(store, Decision(
            ts=time.time(), cycle=cycle, host=d.host, subject=d.subject, finding=d.finding,
            action=d.action, verdict=d.verdict, confidence=d.confidence, risk=d.risk,
            reason=f"the cycle {d.cycle} stopped during this action; its result is unknown",
            outcome="interrupted", ref=d.id))
        closed.append(d.id or 0)
    return closed


def _track_incidents(store: Store, findings: list[Finding],
                     observations: dict[str, Observation], cycle: str,
                     settings: Settings, now: float) -> list[str]:
    """Write this cycle's incident rows; the messages of the incidents it resolved
    that a person was told about (one nobody heard of ends quietly)."""
    from homelab_ops.loop.notices import told

    log = decision_log.entries(store)
    found = incidents.incidents(log)
    reachable = {h for h, o in observations.items() if o.reachable}
    rows = incidents.transitions(found, findings, reachable, now, settings.loop, cycle)
    for row in rows:
        decision_log.append(store, row)
    return [f"{r.host}: {r.reason}" for r in rows if r.action == "resolved"
            and told(log, r.host, r.subject, found[(r.host, r.subject)].opened)]


def _findings(inventory: Inventory, store: Store, settings: Settings,
              observations: dict[str, Observation], predictions: PredictionReport,
              log: list[Decision]) -> list[Finding]:
    from homelab_ops.backup.status import backup_status
    from homelab_ops.health import backup_findings

    now = time.time()
    backups = backup_status(store, now)
    drift = _drift(inventory, store)
    found = []
    for host, obs in observations.items():
        history = detect.History(
            recent=_recent(store, obs), restarts=_restarts(store, host, now, log),
            backup_targets=_backup_targets(inventory, host))
        backup = [f.model_copy(update={"clarity": 0.9}) for f in
                  backup_findings(backups, host)] if obs.reachable else []
        found += detect.detect(obs, history, predictions, settings, backup,
                               drift.get(host, []))
    files = {(d["host"], d["stack"]): d["detail"].get("stack_file")
             for d in store.deployments()}
    return [_with_stack_file(f, files) for f in found]


def _with_stack_file(f: Finding, files: dict[tuple[str, str], str | None]) -> Finding:
    """A finding about a deployed stack's container names its stack file, so the
    playbook is verified with that stack's health checks."""
    stack = f.evidence.get("stack")
    path = files.get((f.host, stack)) if stack else None
    return f.model_copy(update={"evidence": {**f.evidence, "stack_file": path}}) \
        if path and "stack_file" not in f.evidence else f


def _recent(store: Store, obs: Observation) -> list[Observation]:
    out, before = [obs], obs.ts.timestamp()
    for _ in range(HISTORY_OBSERVATIONS - 1):
        doc = store.previous_observation(obs.host, before)
        if doc is None:
            break
        prev = Observation.model_validate(doc)
        out.append(prev)
        before = prev.ts.timestamp()
    return out


def _restarts(store: Store, host: str, now: float, log: list[Decision]) -> dict[str, int]:
    """Restarts per container in the last 24 h, without those the loop's own restart or
    redeploy made: they are no crash loop (the restart budget counts those)."""
    own = decision_log.action_spans(log, host)
    counts: dict[str, int] = {}
    for e in store.events(host=host, kinds=("restarted",), since=now - RESTART_WINDOW_S,
                          limit=10_000):
        if not any(a <= e.ts <= b for a, b in own.get(e.subject, ())):
            counts[e.subject] = counts.get(e.subject, 0) + 1
    return counts


def _backup_targets(inventory: Inventory, host: str) -> list[str]:
    """Mountpoints of the host's pools that receive backup copies."""
    data = next((h.data.dict() for h in inventory if h.name == host), {})
    target = host_value(data, "backup").get("target") or {}
    pools = host_value(data, "btrfs_pools")
    return [pools[target["pool"]]] if target.get("pool") in pools else []


def _drift(inventory: Inventory, store: Store) -> dict[str, list[Finding]]:
    """Drift of every deployed stack, one finding per container that differs (a
    stopped container is the container detectors' business). A stack that cannot be
    checked is itself a finding, never a crash."""
    from homelab_ops.collection.lib.secrets import read_secrets
    from homelab_ops.stacks import run
    from homelab_ops.stacks.load import load_stack

    files = sorted({d["detail"]["stack_file"] for d in store.deployments()
                    if d["detail"].get("stack_file")})
    out: dict[str, list[Finding]] = {}
    for path in files:
        try:
            declared = load_stack(Path(path))
            diffs = run.drift(inventory, declared, read_secrets(declared))
        except HomelabError as exc:
            for host in {d["host"] for d in store.deployments()
                         if d["detail"].get("stack_file") == path}:
                out.setdefault(host, []).append(Finding(
                    code="stack_unavailable", subject=path, host=host, clarity=0.5,
                    message=f"drift of {path} not checked: {exc}"))
            continue
        digests = {c.name: c.digest() for c in declared.containers}
        by_subject: dict[tuple[str, str], list[Any]] = {}
        for d in diffs:
            if d.kind == "stopped":
                continue
            name = d.subject.rsplit(".", 1)[0] if d.kind.startswith("unit_") else d.subject
            by_subject.setdefault((d.host, name), []).append(d)
        for (host, name), items in by_subject.items():
            out.setdefault(host, []).append(Finding(
                code="drift", subject=name, host=host, clarity=0.95,
                message=f"{name} differs from stack {declared.name}: "
                        + ", ".join(sorted({d.kind for d in items})),
                evidence={"stack": declared.name, "stack_file": path,
                          "spec_digest": digests.get(name),
                          "kinds": sorted({d.kind for d in items}),
                          "differences": [d.line() for d in items]}))
    return out


def _pending(store: Store) -> dict[tuple[str, str, str], int]:
    return {(a["host"], a["finding"], a["subject"]): a["id"]
            for a in store.approvals("pending")}


# -- DECIDE ----------------------------------------------------------------------------
def _plan(store: Store, findings: list[Finding], observations: dict[str, Observation],
          sit: decide.Situation) -> list[Planned]:
    from homelab_ops.loop.playbooks import PLAYBOOKS

    held = {f.key: f for f in findings}
    planned, approved_keys = [], set()
    for a in store.approvals("approved"):
        key = (a["host"], a["finding"], a["subject"])
        p = decide.plan_approved(a, held.get(key), sit)
        if p is None:
            store.set_approval(a["id"], "dropped", time.time(),
                               "the finding no longer holds")
            _record_dropped(store, a, sit)
            continue
        planned.append(p)
        approved_keys.add(key)
    for f in findings:
        if f.key not in approved_keys:
            planned.append(decide.plan(f, observations.get(f.host), PLAYBOOKS, sit))
    return planned


def _record_dropped(store: Store, approval: dict[str, Any], sit: decide.Situation) -> None:
    decision_log.append(store, Decision(
        ts=sit.now, cycle="", host=approval["host"], subject=approval["subject"],
        finding=approval["finding"], action=approval["action"], verdict="dropped",
        reason=f"approved action #{approval['id']} dropped: its finding no longer holds",
        detail={"approval": approval["id"]}))


# -- ACT -------------------------------------------------------------------------------
def _act(actor: Actor, report: CycleReport, sit: decide.Situation) -> None:
    """Record every decision and run the acting ones; the report ends with each
    decision's final verdict (one held back at the moment of acting says so)."""
    from homelab_ops.loop import notices

    notes = notices.Notices(actor.store, actor.settings, sit)
    actor.tell = notes.decided
    notes.before(report.planned)
    notes.resolved(report.resolved)
    for i, p in enumerate(report.planned):
        sdnotify.alive(f"cycle {report.cycle}: act {i + 1} of {len(report.planned)}")
        if report.halted:
            p = report.planned[i] = decide.held(
                p, "skipped", f"not run: the cycle halted ({report.halted})",
                GateResult(gate="halted", ok=False, detail=report.halted,
                           change=decide.RESUME))
        if not p.acts:
            decision = actor.record(p, notes.decided(p))
            if p.verdict == "queued":
                _enqueue(actor, p, decision, sit)
            continue
        record = act(actor, p)
        done = isinstance(record, ActionRecord)
        if p.approval is not None:
            actor.store.set_approval(p.approval, "done" if done else "approved",
                                     time.time(), record.outcome if done else "held")
        if not done:
            report.planned[i] = record
            if actor.control().stopped:
                report.halted = "stopped by `homelab-ops ops stop`"
            continue
        report.actions.append(record)
        notes.acted(p, record)
        if record.rollback is not None and not record.rollback.ok:
            _escalate_rollback(actor, p, record, sit)
        if record.outcome == "failed":
            _check_breaker(actor, report, notes)
    report.notifications = notes.send()
    report.notice_events, report.notice_messages = notes.events, notes.messages


def _enqueue(actor: Actor, p: Planned, decision: int, sit: decide.Situation) -> None:
    """One open approval per problem: a finding already waiting is not queued twice."""
    if p.finding.key in sit.pending or p.playbook is None:
        return
    sit.pending[p.finding.key] = actor.store.add_approval(
        decision=decision, host=p.finding.host, subject=p.finding.subject,
        finding=p.finding.code, action=p.playbook, params=p.params, ts=time.time())


def _escalate_rollback(actor: Actor, p: Planned, record: ActionRecord,
                       sit: decide.Situation) -> None:
    """A rollback that failed leaves the service in an unknown state: queue the action
    for a person and alert (the FAILED line is already in the cycle's digest); it is
    the incident's escalation, never a silent stop."""
    why = record.rollback.error if record.rollback else ""
    gate = GateResult(gate="rollback", ok=False, detail=f"the rollback failed: {why}",
                      change="a person restores the service (its pre-action and "
                      "pre-rollback snapshots are kept) and fixes the stack file")
    final = decide.held(p, "queued", f"{p.playbook} of {p.finding.subject} failed and "
                        f"its rollback failed too: escalated ({why})", gate)
    _enqueue(actor, final, actor.record(final, True), sit)


def _check_breaker(actor: Actor, report: CycleReport, notes) -> None:
    state = actor.control()
    if state.breaker_open and not report.halted:
        report.halted = (f"circuit breaker open after {state.consecutive_failures} failed "
                         "actions in a row: the loop is paused until `homelab-ops ops resume`")
        decision_log.append(actor.store, Decision(
            ts=time.time(), cycle=actor.cycle, action="breaker", verdict="control",
            reason=report.halted))
        notes.breaker(report.halted)


# -- plumbing --------------------------------------------------------------------------
class _Phases:
    def __init__(self, report: CycleReport) -> None:
        self.report = report

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        sdnotify.alive(f"cycle {self.report.cycle}: {name}")
        started = time.monotonic()
        try:
            yield
        finally:
            self.report.phases[name] = round(time.monotonic() - started, 3)


def _cycle_id() -> str:
    return datetime.now().strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
