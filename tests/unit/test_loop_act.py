"""ACT's own gates, with recording stand-ins for the playbook runner and the snapshot
(the real ones run in tests/lab): no action without its pre-action snapshot, nothing
after a stop, the decision written before the playbook runs, one outcome each."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from homelab_ops.loop import controls, cycle, decide
from homelab_ops.loop import log as decision_log
from homelab_ops.loop.act import Actor, act
from homelab_ops.loop.snapshot import Snapshot
from homelab_ops.models.decision import ActionRecord, CycleReport, GateResult, Planned
from homelab_ops.models.finding import Finding
from homelab_ops.models.settings import LoopSettings, Settings
from homelab_ops.render import loop as render
from homelab_ops.store import Store


class Ran(BaseModel):
    ok: bool = True
    changed: bool = True
    error: str | None = None
    detail: dict[str, Any] = {}
    seconds: float = 0.0


class Runner:
    """Records what would have run; fails when told to."""

    def __init__(self, store: Store, fail: bool = False) -> None:
        self.store, self.fail, self.calls = store, fail, []

    def run_playbook(self, inventory, host, name, params, dry_run=False):
        # the decision must already be in the log when the playbook starts
        assert decision_log.entries(self.store)[-1].outcome is None
        self.calls.append((host, name, dict(params)))
        return Ran(ok=not self.fail, error="boom" if self.fail else None)

    def verify(self, inventory, host, name, params):
        return Ran(ok=True)


def _planned(subject: str) -> Planned:
    f = Finding(code="container_down", subject=subject, host="nas", message="down")
    return Planned(finding=f, playbook="restart", params={"service": subject},
                   confidence=0.97, risk="low", matrix="executed", verdict="executed",
                   reason="r")


def _actor(store: Store, runner: Runner, snaps: list[bool], loop: LoopSettings) -> Actor:
    it = iter(snaps)

    def snapshotter(actor, p):
        ok = next(it)
        return Snapshot(ok=ok, names=[f"data/x:{p.finding.subject}.t_pre-action"] if ok else [],
                        error=None if ok else "no subvolume")

    return Actor(store, Settings(loop=loop), inventory=None, cycle="c", observations={},
                 runner=runner, snapshotter=snapshotter)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=6), st.booleans(),
       st.integers(-1, 5), st.booleans())
def test_property_no_action_without_snapshot_and_none_after_stop(snaps, fail, stop_at,
                                                                 allow) -> None:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s.db") as store:
        runner = Runner(store, fail)
        loop = LoopSettings(act_without_snapshot=allow, breaker_failures=99)
        actor = _actor(store, runner, snaps, loop)
        ran_for = []
        for i in range(len(snaps)):
            if i == stop_at:
                controls.set_control(store, "stop", "test", 1.0)
            before = len(runner.calls)
            record = act(actor, _planned(f"s{i}"))
            if len(runner.calls) > before:
                ran_for.append(i)
                assert isinstance(record, ActionRecord)
            else:  # held back: the final verdict, and the gate that held it
                assert record.verdict in ("refused", "skipped") and record.held_by
        for i in ran_for:
            assert snaps[i] or allow  # never without a snapshot unless settings allow
            assert stop_at < 0 or i < stop_at  # nothing after a stop
        entries = decision_log.entries(store)
        outcomes = [d for d in entries if d.ref is not None]
        assert len(outcomes) == len(ran_for)  # one outcome per action that ran
        assert {d.outcome for d in outcomes} <= {"failed" if fail else "success"}
        assert decision_log.verify(store).ok


def test_a_refused_action_says_why_and_returns_its_final_verdict(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        runner = Runner(store)
        final = act(_actor(store, runner, [False], LoopSettings()), _planned("wiki"))
        assert final.verdict == "refused" and final.held_by.gate == "snapshot"
        assert "act_without_snapshot" in final.held_by.change
        assert runner.calls == []
        d = decision_log.entries(store)[-1]
        assert d.verdict == "refused" and "no pre-action snapshot" in d.reason
        assert any(g["gate"] == "snapshot" and not g["ok"] for g in d.detail["gates"])
        assert d.detail["held_by"]["gate"] == "snapshot"


def _sit(store: Store, loop: LoopSettings, now: float) -> decide.Situation:
    log = decision_log.entries(store)
    return decide.Situation(now=now, settings=Settings(loop=loop), log=log,
                            control=controls.control_state(log, loop.breaker_failures),
                            tallies=decide.tallies(log, now))


def test_the_cycle_report_shows_the_final_verdict_of_a_refused_action(tmp_path) -> None:
    """The decider said execute; the snapshot gate refused it: the report says refused."""
    with Store(tmp_path / "s.db") as store:
        loop = LoopSettings()
        actor = _actor(store, Runner(store), [False], loop)
        report = CycleReport(cycle="c", started=0.0, planned=[_planned("whoami")])
        cycle._act(actor, report, _sit(store, loop, time.time()))
        [p] = report.planned
        assert p.verdict == "refused" and not report.actions
        text = "\n".join(render.cycle(report))
        assert "REFUSED" in text and "EXECUTED" not in text and "to act:" in text


def test_a_refusal_is_held_like_a_cooldown_and_not_recorded_every_cycle(tmp_path) -> None:
    """A stateless container with no snapshot target: refused once; the next cycles
    hold the restart (saying so) and write no new row while the hold is the same;
    once the hold ends the restart is tried again."""
    f = Finding(code="container_down", subject="whoami", host="nas", message="down")
    book = {"restart": decide_entry()}
    with Store(tmp_path / "s.db") as store:
        loop = LoopSettings(cooldown_minutes={"restart": 30})
        now = time.time()
        first = decide.plan(f, None, book, _sit(store, loop, now))
        assert first.acts
        actor = _actor(store, Runner(store), [False], loop)
        assert act(actor, first).verdict == "refused"
        rows = len(decision_log.entries(store))
        for minutes in (1, 5, 20):  # three later cycles inside the hold
            p = decide.plan(f, None, book, _sit(store, loop, now + minutes * 60))
            assert p.verdict == "skipped" and "held after the refusal" in p.reason
            assert p.held_by.gate == "cooldown" and p.held_by.until == pytest.approx(
                now + 1800, abs=5)
            _actor(store, Runner(store), [], loop).record(p)
        assert len(decision_log.entries(store)) == rows + 1  # one row for the whole hold
        later = decide.plan(f, None, book, _sit(store, loop, now + 31 * 60))
        assert later.acts  # the hold ended: tried again


def test_a_changed_or_told_decision_is_recorded_again(tmp_path) -> None:
    with Store(tmp_path / "s.db") as store:
        actor = _actor(store, Runner(store), [], LoopSettings())
        base = _planned("db").model_copy(update={
            "verdict": "skipped", "held_by": GateResult(gate="cooldown", ok=False,
                                                        until=100.0)})
        ids = [actor.record(base), actor.record(base),
               actor.record(base.model_copy(update={"held_by": GateResult(
                   gate="cooldown", ok=False, until=200.0)})),
               actor.record(base.model_copy(update={"verdict": "alerted"}), True),
               actor.record(base.model_copy(update={"verdict": "alerted"}), True)]
        assert ids[0] == ids[1] and len(set(ids)) == 4
        # the next cycle's actor knows the newest row from the log: not told again,
        # the same alert is not written again
        again = _actor(store, Runner(store), [], LoopSettings())
        assert again.record(base.model_copy(update={"verdict": "alerted"})) == ids[4]


def decide_entry():
    from tests.unit.test_loop_decide import Entry

    return Entry("restart", "low", ("container_down",))
