"""ACT's own gates, with recording stand-ins for the playbook runner and the snapshot
(the real ones run in tests/lab): no action without its pre-action snapshot, nothing
after a stop, the decision written before the playbook runs, one outcome each."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from homelab_ops.loop import controls
from homelab_ops.loop import log as decision_log
from homelab_ops.loop.act import Actor, act
from homelab_ops.loop.snapshot import Snapshot
from homelab_ops.models.decision import Planned
from homelab_ops.models.finding import Finding
from homelab_ops.models.settings import LoopSettings, Settings
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
                assert record is not None
        for i in ran_for:
            assert snaps[i] or allow  # never without a snapshot unless settings allow
            assert stop_at < 0 or i < stop_at  # nothing after a stop
        entries = decision_log.entries(store)
        outcomes = [d for d in entries if d.ref is not None]
        assert len(outcomes) == len(ran_for)  # one outcome per action that ran
        assert {d.outcome for d in outcomes} <= {"failed" if fail else "success"}
        assert decision_log.verify(store).ok


def test_a_refused_action_says_why(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        runner = Runner(store)
        assert act(_actor(store, runner, [False], LoopSettings()), _planned("wiki")) is None
        assert runner.calls == []
        d = decision_log.entries(store)[-1]
        assert d.verdict == "refused" and "no pre-action snapshot" in d.reason
        assert any(g["gate"] == "snapshot" and not g["ok"] for g in d.detail["gates"])
