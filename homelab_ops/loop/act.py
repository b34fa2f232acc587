"""ACT: for each decision that acts — re-check pause/stop/breaker, take the tagged
pre-action snapshot, write the decision, run the playbook through pyinfra, verify it,
append the outcome. The decision is written before the playbook runs, so a cycle
killed mid-action leaves a decision without an outcome that the next cycle reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyinfra.api import Inventory

from homelab_ops.loop import controls, decide, snapshot
from homelab_ops.loop import log as decision_log
from homelab_ops.models.decision import ActionRecord, Decision, GateResult, Planned
from homelab_ops.models.observation import Observation
from homelab_ops.models.settings import Settings
from homelab_ops.store import Store


@dataclass
class Actor:
    """What acting needs, fixed for one cycle."""

    store: Store
    settings: Settings
    inventory: Inventory
    cycle: str
    observations: dict[str, Observation]
    dry_run: bool = False
    clock: Callable[[], float] = time.time
    # the playbook runner (``run_playbook`` and ``verify``) and the snapshot taker;
    # None means the real ones (property tests pass recording stand-ins)
    runner: Any = None
    snapshotter: Callable[[Actor, Planned], snapshot.Snapshot] | None = None
    # finding key -> (id, signature) of the newest decision recorded about it
    last: dict[tuple[str, str, str], tuple[int, tuple]] = field(default_factory=dict)
    # decides whether a held-back decision is told to a person (the cycle's notices)
    tell: Callable[[Planned], bool] = lambda p: False

    def __post_init__(self) -> None:
        if not self.last:
            self.last = latest_decisions(decision_log.entries(self.store))

    def playbooks(self) -> Any:
        if self.runner is None:
            from homelab_ops.loop import playbooks

            self.runner = playbooks
        return self.runner

    def control(self) -> controls.ControlState:
        """Read fresh: `ops stop` from another process applies before the next action."""
        return controls.control_state(decision_log.entries(self.store),
                                      self.settings.loop.breaker_failures)

    def record(self, p: Planned, notify: bool = False, **detail: Any) -> int:
        """Write the decision ``p`` (final: verdict, reason, gates). A decision that
        does not act and is the same as the newest one recorded for its finding (same
        verdict, action, holding gate and until) is not written again — a hold that
        lasts many cycles is one row, not one per cycle; its id is returned."""
        f = p.finding
        sig = _signature(p.verdict, p.playbook or "none", p.held_by)
        last = self.last.get(f.key)
        if not p.acts and not notify and last is not None and last[1] == sig:
            return last[0]
        held = p.held_by.model_dump() if p.held_by else None
        rowid = decision_log.append(self.store, Decision(
            ts=self.clock(), cycle=self.cycle, host=f.host, subject=f.subject,
            finding=f.code, action=p.playbook or "none", verdict=p.verdict,
            confidence=p.confidence, risk=p.risk, reason=p.reason,
            detail={"message": f.message, "evidence": f.evidence, "clarity": f.clarity,
                    "matrix": p.matrix, "gates": [g.model_dump() for g in p.gates],
                    "held_by": held, "params": p.params, "approval": p.approval,
                    "dry_run": self.dry_run, **({"notify": True} if notify else {}),
                    **detail}))
        self.last[f.key] = (rowid, sig)
        return rowid

    def outcome(self, decision: int, p: Planned, outcome: str, reason: str,
                **detail: Any) -> int:
        f = p.finding
        return decision_log.append(self.store, Decision(
            ts=self.clock(), cycle=self.cycle, host=f.host, subject=f.subject,
            finding=f.code, action=p.playbook or "none", verdict=p.verdict,
            confidence=p.confidence, risk=p.risk, reason=reason, outcome=outcome,
            ref=decision, detail=detail))


def act(actor: Actor, p: Planned) -> ActionRecord | Planned:
    """Run one acting decision. When a gate holds it back at the last moment (a stop,
    the breaker, no pre-action snapshot) the decision is recorded with its final
    verdict and returned instead of an ActionRecord."""
    playbooks = actor.playbooks()
    assert p.playbook is not None
    f, started = p.finding, time.monotonic()
    halted = actor.control().halted
    if halted:
        final = decide.held(p, "skipped", f"not run: the loop is {halted}", GateResult(
            gate="halted", ok=False, detail=halted, change=decide.RESUME))
        actor.record(final, actor.tell(final))
        return final
    snap = (actor.snapshotter or _snapshot)(actor, p)
    gate = GateResult(gate="snapshot", ok=snap.ok,
                      detail=", ".join(snap.names) if snap.ok else snap.error or "",
                      change="" if snap.ok else "back up a subvolume that holds its data "
                      "(the host's backup volumes), or allow acting without a snapshot "
                      "(settings loop.act_without_snapshot)")
    if not snap.ok and not actor.settings.loop.act_without_snapshot:
        final = decide.held(p, "refused", f"no pre-action snapshot: {snap.error}", gate)
        actor.record(final, actor.tell(final), snapshot=None)
        return final
    snap_s = time.monotonic() - started
    p = p.model_copy(update={"gates": [*p.gates, gate]})
    decision = actor.record(p, snapshot=snap.names or None)
    # the store and the state directory (its backup lock) are handed to playbooks that
    # record through the backup component; they never go into the log (params do)
    call = {**p.params, "store": actor.store, "state_dir": actor.settings.state_dir}
    result = playbooks.run_playbook(actor.inventory, f.host, p.playbook, call,
                                    dry_run=actor.dry_run)
    seconds = {"snapshot": round(snap_s, 3), "act": round(result.seconds, 3)}
    if actor.dry_run:
        actor.outcome(decision, p, "dry-run", "dry run: nothing changed",
                      action=result.model_dump(mode="json"))
        return ActionRecord(decision=decision, playbook=p.playbook, host=f.host,
                            target=f.subject, outcome="dry-run", seconds=seconds,
                            detail=result.detail)
    # what the run reports (e.g. the snapshots it must have kept) is what verify checks
    check = playbooks.verify(actor.inventory, f.host, p.playbook,
                             {**call, **result.detail}) if result.ok else None
    if check is not None:
        seconds["verify"] = round(check.seconds, 3)
    ok = result.ok and check is not None and check.ok
    error = result.error if not result.ok else None if ok else (
        check.error if check else None) or "verification failed"
    reason = (f"{p.playbook} of {f.subject} worked and was verified" if ok
              else f"{p.playbook} of {f.subject} failed: {error}")
    actor.outcome(decision, p, "success" if ok else "failed", reason,
                  action=result.model_dump(mode="json"),
                  verification=check.model_dump(mode="json") if check else None,
                  seconds=seconds, snapshot=snap.names or None)
    return ActionRecord(decision=decision, playbook=p.playbook, host=f.host,
                        target=f.subject, snapshot=", ".join(snap.names) or None,
                        outcome="success" if ok else "failed", error=error,
                        detail=result.detail, seconds=seconds)


def latest_decisions(log: list[Decision]) -> dict[tuple[str, str, str], tuple[int, tuple]]:
    """Finding key -> (id, signature) of the newest decision about it in the log."""
    out = {}
    for d in log:
        if d.ref is None and d.verdict not in ("control", "incident") and d.id is not None:
            gate = d.detail.get("held_by")
            out[(d.host, d.finding, d.subject)] = (d.id, _signature(
                d.verdict, d.action, GateResult(**gate) if gate else None))
    return out


def _signature(verdict: str, action: str, gate: GateResult | None) -> tuple:
    return (verdict, action, gate.gate if gate else None, gate.until if gate else None)


def _snapshot(actor: Actor, p: Planned) -> snapshot.Snapshot:
    if actor.dry_run:
        return snapshot.Snapshot(ok=True, names=["(dry run: not taken)"])
    started = time.monotonic()
    f = p.finding
    host = next((h for h in actor.inventory if h.name == f.host), None)
    if host is None:
        return snapshot.Snapshot(ok=False, error=f"{f.host} is not in the inventory")
    snap = snapshot.take(actor.store, actor.settings.state_dir, f.host, host.data.dict(),
                         data_paths(actor.observations.get(f.host), p),
                         datetime.fromtimestamp(actor.clock()))
    return snap.model_copy(update={"seconds": round(time.monotonic() - started, 3)})


def data_paths(obs: Observation | None, p: Planned) -> list[str]:
    """Where the affected data lives: the container's writable mounts, or the
    mountpoint."""
    if "mountpoint" in p.params:
        return [p.params["mountpoint"]]
    c = obs.container(p.finding.subject) if obs else None
    return [m.source for m in c.mounts if m.rw] if c else []
