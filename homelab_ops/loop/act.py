"""ACT: for each decision that acts — re-check pause/stop/breaker, take the tagged
pre-action snapshot, write the decision, run the playbook through pyinfra, verify it,
append the outcome. The decision is written before the playbook runs, so a cycle
killed mid-action leaves a decision without an outcome that the next cycle reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyinfra.api import Inventory

from homelab_ops.loop import controls, snapshot
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

    def playbooks(self) -> Any:
        if self.runner is None:
            from homelab_ops.loop import playbooks

            self.runner = playbooks
        return self.runner

    def control(self) -> controls.ControlState:
        """Read fresh: `ops stop` from another process applies before the next action."""
        return controls.control_state(decision_log.entries(self.store),
                                      self.settings.loop.breaker_failures)

    def record(self, p: Planned, verdict: str | None = None, reason: str | None = None,
               extra_gates: list[GateResult] | None = None, **detail: Any) -> int:
        f = p.finding
        gates = [*p.gates, *(extra_gates or [])]
        return decision_log.append(self.store, Decision(
            ts=self.clock(), cycle=self.cycle, host=f.host, subject=f.subject,
            finding=f.code, action=p.playbook or "none", verdict=verdict or p.verdict,
            confidence=p.confidence, risk=p.risk, reason=reason or p.reason,
            detail={"message": f.message, "evidence": f.evidence, "clarity": f.clarity,
                    "matrix": p.matrix, "gates": [g.model_dump() for g in gates],
                    "params": p.params, "approval": p.approval, "dry_run": self.dry_run,
                    **detail}))

    def outcome(self, decision: int, p: Planned, outcome: str, reason: str,
                **detail: Any) -> int:
        f = p.finding
        return decision_log.append(self.store, Decision(
            ts=self.clock(), cycle=self.cycle, host=f.host, subject=f.subject,
            finding=f.code, action=p.playbook or "none", verdict=p.verdict,
            confidence=p.confidence, risk=p.risk, reason=reason, outcome=outcome,
            ref=decision, detail=detail))


def act(actor: Actor, p: Planned) -> ActionRecord | None:
    """Run one acting decision. Returns None when a gate held it back (recorded)."""
    playbooks = actor.playbooks()
    assert p.playbook is not None
    f, started = p.finding, time.monotonic()
    halted = actor.control().halted
    if halted:
        actor.record(p, "skipped", f"not run: the loop is {halted}",
                     [GateResult(gate="halted", ok=False, detail=halted)])
        return None
    snap = (actor.snapshotter or _snapshot)(actor, p)
    gate = GateResult(gate="snapshot", ok=snap.ok,
                      detail=", ".join(snap.names) if snap.ok else snap.error or "")
    if not snap.ok and not actor.settings.loop.act_without_snapshot:
        actor.record(p, "refused", f"no pre-action snapshot: {snap.error}", [gate],
                     snapshot=None)
        return None
    snap_s = time.monotonic() - started
    decision = actor.record(p, extra_gates=[gate], snapshot=snap.names or None)
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
