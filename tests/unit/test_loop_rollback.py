"""The pure parts of rollback: which playbooks declare one, when ACT rolls back (and
records both verdicts, escalating a rollback that failed), where a restored directory
comes from inside the pre-action snapshot, and the gate that stops a rolled-back spec
from being redeployed again (the real restore runs in tests/lab/test_cycle_lab.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ops.collection.operations import btrfs
from homelab_ops.loop import decide, incidents, rollback
from homelab_ops.loop.act import Actor, act
from homelab_ops.loop.snapshot import Snapshot
from homelab_ops.models.decision import Decision, Planned, Rollback, Verification
from homelab_ops.models.finding import Finding
from homelab_ops.models.settings import LoopSettings, Settings
from homelab_ops.store import Store
from tests.unit.test_loop_act import Ran
from tests.unit.test_playbooks import FakeHost, _commands


def test_the_playbooks_that_change_data_or_definition_declare_their_rollback() -> None:
    from homelab_ops.loop.playbooks import PLAYBOOKS

    assert {n for n, p in PLAYBOOKS.items() if p.rollback} == {"redeploy"}
    assert rollback.can("redeploy")
    assert not any(rollback.can(n) for n in ("restart", "restart-leaking", "free-disk",
                                             "rotate-snapshots", None, "nope"))


@pytest.mark.parametrize(("ran", "verified", "playbook", "dry", "expect"), [
    (True, True, "redeploy", False, False),  # worked: nothing to undo
    (True, False, "redeploy", False, True),  # verification failed
    (False, None, "redeploy", False, True),  # the run failed half-way
    (False, False, "redeploy", True, False),  # a dry run changed nothing
    (True, False, "restart", False, False),  # a restart has nothing to undo
])
def test_when_to_roll_back(ran, verified, playbook, dry, expect) -> None:
    assert rollback.should(ran, verified, playbook, dry) is expect


class Runner:
    def __init__(self, verified: bool) -> None:
        self.verified = verified

    def run_playbook(self, inventory, host, name, params, dry_run=False):
        return Ran(ok=True)

    def verify(self, inventory, host, name, params):
        return Verification(ok=self.verified, checks=["db running: FAILED"],
                            error=None if self.verified else "db running: FAILED",
                            seconds=0.0)


def _redeploy() -> Planned:
    f = Finding(code="drift", subject="lb-db", host="nas", message="differs",
                evidence={"stack": "lb", "spec_digest": "bad1"})
    return Planned(finding=f, playbook="redeploy", params={"service": "lb-db"},
                   confidence=0.9, risk="medium", matrix="notified", verdict="notified",
                   reason="r")


def _act(store: Store, verified: bool, undone_ok: bool):
    calls = []

    def rollbacker(actor, p, point, snap, paths):
        calls.append(point)
        return Rollback(ok=undone_ok, spec="deployment #3 of stack lb", bad={"lb-db": "bad1"},
                        verification=Verification(ok=undone_ok, checks=[], seconds=0.0),
                        error=None if undone_ok else "deploy: boom")

    actor = Actor(store, Settings(loop=LoopSettings()), inventory=None, cycle="c",
                  observations={}, runner=Runner(verified), rollbacker=rollbacker,
                  snapshotter=lambda a, p: Snapshot(ok=True, names=["data/c:c.t_pre-action"]))
    return act(actor, _redeploy()), calls


def test_a_failed_verification_rolls_back_and_records_both_verdicts(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        record, calls = _act(store, verified=False, undone_ok=True)
        [out] = [d for d in store.decision_rows() if d["ref"] is not None]
    assert len(calls) == 1 and record.outcome == "failed"
    assert record.rollback is not None and record.rollback.ok
    assert "rolled back to deployment #3 of stack lb, verified ok" in out["reason"]
    assert '"rollback"' in out["detail"] and '"verification"' in out["detail"]


def test_a_verified_action_is_not_rolled_back(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        record, calls = _act(store, verified=True, undone_ok=True)
    assert calls == [] and record.outcome == "success" and record.rollback is None


def test_a_failed_rollback_is_said_and_escalates(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        record, _ = _act(store, verified=False, undone_ok=False)
    assert record.rollback is not None and not record.rollback.ok
    assert "ROLLBACK FAILED: deploy: boom" in (record.error or "")
    queued = Decision(ts=1.0, cycle="c", verdict="queued", reason="r",
                      detail={"held_by": {"gate": "rollback", "ok": False}})
    assert incidents._escalation(queued)


def _outcome(bad: dict[str, str], ts: float = 10.0) -> Decision:
    return Decision(ts=ts, cycle="c", host="nas", subject="lb-db", finding="drift",
                    action="redeploy", verdict="notified", reason="failed", outcome="failed",
                    ref=1, detail={"rollback": Rollback(ok=True, bad=bad).model_dump()})


@pytest.mark.parametrize(("log", "digest", "holds"), [
    ([_outcome({"lb-db": "bad1"})], "bad1", True),  # the same bad file: no redeploy
    ([_outcome({"lb-db": "bad1"})], "fixed", False),  # the file changed: act again
    ([_outcome({"lb-db": "bad1"})], None, False),
    ([_outcome({"lb-db": "bad1"}), _outcome({}, 20.0)], "bad1", False),  # newest counts
    ([], "bad1", False),
])
def test_a_rolled_back_spec_is_not_redeployed_until_the_file_changes(log, digest,
                                                                    holds) -> None:
    f = Finding(code="drift", subject="lb-db", host="nas", message="differs",
                evidence={"spec_digest": digest, "stack_file": "/s.yaml"})
    gate = decide.rolled_back_gate(f, log)
    assert gate.ok is not holds
    if holds:
        assert "/s.yaml" in gate.change and "bad1" in gate.detail


def test_a_restored_directory_comes_from_the_same_place_in_the_snapshot() -> None:
    data = {"btrfs_pools": {"data": "/mnt/data"}, "backup": {"volumes": [
        {"subvolume": "containers", "pool": "data", "snapshot_dir": ".snaps"}]}}
    live = "/mnt/data/containers/volumes/lb-db-data/_data"
    [(src, dst)] = rollback.pairs_for("nas", data, [live],
                                      ["data/containers:containers.20261203T0700_pre-action"])
    assert dst == live
    assert src == ("/mnt/data/.snaps/containers.20261203T0700_pre-action/volumes/"
                   "lb-db-data/_data")
    with pytest.raises(rollback._Failed, match="no pre-action snapshot"):
        rollback.pairs_for("nas", data, ["/elsewhere"], [])


def test_restore_commands_and_unsafe_paths() -> None:
    cmds = _commands(btrfs.restore_dir, FakeHost({}, {}), snapshot_dir="/m/.s/x/d",
                     path="/m/c/d")
    assert cmds[-1] == "cp -a --reflink=auto -- /m/.s/x/d/. /m/c/d"
    assert any(c.startswith("find /m/c/d -mindepth 1") for c in cmds)
    with pytest.raises(Exception, match="unsafe path"):
        _commands(btrfs.restore_dir, FakeHost({}, {}), snapshot_dir="/m/../x", path="/m")


def test_a_failed_rollback_is_queued_for_a_person_and_counts_as_the_escalation(
        tmp_path: Path) -> None:
    from homelab_ops.loop import controls, cycle
    from homelab_ops.loop import log as decision_log

    with Store(tmp_path / "s.db") as store:
        record, _ = _act(store, verified=False, undone_ok=False)
        actor = Actor(store, Settings(loop=LoopSettings()), inventory=None, cycle="c",
                      observations={})
        sit = decide.Situation(now=100.0, settings=actor.settings, log=[], tallies={},
                               control=controls.ControlState())
        cycle._escalate_rollback(actor, _redeploy(), record, sit)
        [approval] = store.approvals("pending")
        last = decision_log.entries(store)[-1]
    assert approval["action"] == "redeploy" and approval["subject"] == "lb-db"
    assert last.verdict == "queued" and last.detail["notify"]
    assert last.detail["held_by"]["gate"] == "rollback" and incidents._escalation(last)
