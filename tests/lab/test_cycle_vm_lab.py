"""The autonomous cycle against real faults on lab-vm (the systemd quadlet backend):
a unit systemd gave up on after its start limit is reset, restarted with systemctl and
verified; a unit file edited by hand is redeployed from its stack file. Each action
takes its pre-action snapshot on lab-vm's own data pool first.

One stack (a database: a named volume on the VM's data pool, a healthcheck run by
podman's systemd timer) is shared by both tests, with the module's own state
directory, settings and inventory (lab-vm only); cleanup leaves lab-vm as it was."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest

from homelab_ops.inventory import inventory_from_entries
from homelab_ops.lab import lab_hosts
from homelab_ops.lab.vm import Vm, guest_pool
from homelab_ops.loop.cycle import run_cycle
from homelab_ops.models.settings import load_settings
from homelab_ops.store import Store
from tests.conftest import run_cli
from tests.lab.test_vm_lab import QUADLET, remove_stack

pytestmark = [pytest.mark.lab, pytest.mark.vm]
SECRET_ENV = "LOOPVM_DB_PASSWORD"


class VmRig:
    """The module's world on lab-vm: a stack with one database, a state directory, a
    settings file and an inventory backing up the VM's ``containers`` subvolume (where
    podman keeps named volumes there) into this module's own snapshot folder."""

    def __init__(self, lab, vm: Vm, tmp: Path) -> None:
        self.vm, self.tmp = vm, tmp
        self.tag = uuid.uuid4().hex[:6]
        self.stack = f"lv{self.tag}"
        self.db = f"{self.stack}-db"
        self.unit = f"{self.db}.service"
        self.snapdir = f"{guest_pool('data')}/.loopvm/{self.tag}"
        self.state = tmp / "state"
        self.state.mkdir()
        data = dict(lab_hosts(lab.paths.root))["lab-vm"]
        backup = {"volumes": [{"subvolume": "containers", "pool": "data",
                               "snapshot_dir": f".loopvm/{self.tag}"}]}
        self.entries = [("lab-vm", {**data, "backup": backup})]
        self.inventory = tmp / "inventory.py"
        self.inventory.write_text(
            f"import json\nhosts = [tuple(h) for h in json.loads({json.dumps(self.entries)!r})]\n")
        # probe on every cycle (faults come between cycles); no cooldown, backoff or
        # budget between the two tests' actions on the same service: each test is
        # about one action, not about spacing them
        self.config = tmp / "settings.toml"
        self.config.write_text(
            "[loop]\nfresh_observation_seconds = 0\ncooldown_minutes = {}\n"
            "service_cooldown_minutes = 0\nbackoff_base_minutes = 0\n"
            "backoff_cap_minutes = 0\n")
        self.file = tmp / "stack.yaml"
        self.file.write_text(json.dumps({
            "name": self.stack, "hosts": ["lab-vm"],
            "secrets": {"pw": {"env": SECRET_ENV}},
            "services": {"db": {"pattern": "database", "params": {"password": "pw"}}}}))

    def cycle(self):
        inv = inventory_from_entries(self.entries, self.inventory)
        with Store.open(self.state) as store:
            return run_cycle(inv, store, load_settings(self.config, self.state))

    def cli(self, *args: str, check: bool = True):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTAINERS_")}
        return run_cli("--state-dir", str(self.state), "--config", str(self.config), *args,
                       env=env, check=check)

    def snapshots(self) -> list[str]:
        return sorted(self.vm.ssh("ls", "-1", self.snapdir, check=False).stdout.split())

    def outcome_of(self, decision: int) -> dict:
        """The outcome row the cycle appended for ``decision`` (its action, checks)."""
        with Store.open(self.state) as store:
            [row] = [json.loads(r["detail"]) for r in store.decision_rows()
                     if r["ref"] == decision]
        return row

    def decisions(self, verdicts: tuple[str, ...] = ("executed", "notified")) -> list[dict]:
        with Store.open(self.state) as store:
            return [d for d in store.decisions(limit=1000)
                    if d["subject"] == self.db and d["verdict"] in verdicts]

    def journal(self) -> str:
        return self.vm.ssh("journalctl", "-u", self.unit, "--no-pager", "-o", "cat").stdout

    def refused_starts(self) -> int:
        """How often systemd refused to start the unit on its start limit."""
        return self.journal().count("Start request repeated too quickly")

    def unit_show(self, prop: str) -> str:
        return self.vm.ssh("systemctl", "show", "-P", prop, self.unit).stdout.strip()

    def active(self) -> str:
        return self.vm.ssh("systemctl", "is-active", self.unit, check=False).stdout.strip()

    def cleanup(self) -> None:
        remove_stack(self.vm, self.stack)
        self.vm.ssh("sh", "-c", f'for s in {self.snapdir}/*; do [ -d "$s" ] && '
                    f'btrfs subvolume delete "$s"; done; rmdir {self.snapdir}; '
                    f"rmdir {guest_pool('data')}/.loopvm 2>/dev/null; true", check=False)

    def leftovers(self) -> str:
        """What of this module is still on lab-vm (nothing, after ``cleanup``)."""
        label = f"label=homelab-ops.stack={self.stack}"
        return self.vm.ssh("sh", "-c", f"ls -d {QUADLET}/{self.stack}-* "
                           f"/etc/systemd/system/{self.unit}.d {self.snapdir} 2>/dev/null; "
                           f"podman ps -aq --filter {label}; "
                           f"podman volume ls -q --filter {label}", check=False).stdout.strip()


@pytest.fixture(scope="module")
def rig(lab, tmp_path_factory):
    assert lab.spec.vm is not None, "the session's lab must have its VM"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SECRET_ENV, uuid.uuid4().hex)  # the cycle's redeploy reads it too
        r = VmRig(lab, Vm(lab.paths, lab.spec.vm), tmp_path_factory.mktemp("cyclevm"))
        try:
            r.cli("deploy", str(r.file), "--force", "-i", str(r.inventory))
            assert r.active() == "active"
            # the cycle that ran before anything broke: it sees the database running
            # (the container a failed unit no longer has is known from it) and acts
            # on nothing of this stack
            first = r.cycle()
            assert not [a for a in first.actions if a.target == r.db], first.actions
            yield r
        finally:
            r.cleanup()
        assert r.leftovers() == ""


def test_a_start_limited_quadlet_unit_is_reset_restarted_and_verified(rig: VmRig) -> None:
    """The database's container killed until systemd stops restarting it (its unit is
    ``failed`` on its start limit, and refuses a plain start); one cycle finds
    it down, snapshots its volume's subvolume on lab-vm, clears the failed state,
    starts it with systemctl and verifies it healthy.

    A drop-in lowers the start limit to 2 starts in 15 min: systemd's default (5 in
    10 s) cannot be reached under TCG, where one podman start takes seconds. With 2,
    systemd restarts it at most twice before giving up, under the loop's crash-loop
    count (3 restarts in 24 h), so the finding is the unit being down, not a loop."""
    vm, unit = rig.vm, rig.unit
    drop_in = f"/etc/systemd/system/{unit}.d"
    vm.ssh("sh", "-c", f"mkdir -p {drop_in} && printf '[Unit]\\nStartLimitIntervalSec=900\\n"
           f"StartLimitBurst=2\\n' > {drop_in}/start-limit.conf && systemctl daemon-reload")
    try:
        deadline = time.monotonic() + 300
        while vm.ssh("systemctl", "is-failed", "--quiet", unit, check=False).returncode:
            assert time.monotonic() < deadline, "systemd never gave up on " + unit
            state = vm.ssh("podman", "inspect", "--format", "{{.State.Status}}", rig.db,
                           check=False).stdout.strip()
            if state == "running":
                vm.ssh("podman", "kill", rig.db, check=False)
            time.sleep(1)
        # systemd gave up on its start limit, and a plain start is refused by it
        # without running anything. Its Result stays the last run's (exit-code: a
        # start-limit-hit is only recorded over a success), so systemctl's own message
        # blames "the control process"; the journal and the unchanged main process say
        # what really happened.
        assert rig.refused_starts() == 1, rig.journal()
        ran = rig.unit_show("ExecMainStartTimestampMonotonic")
        assert vm.ssh("systemctl", "start", unit, check=False).returncode != 0
        assert rig.refused_starts() == 2, rig.journal()
        assert rig.unit_show("ExecMainStartTimestampMonotonic") == ran
        assert rig.active() == "failed"
        # quadlet runs it with --rm: the container is gone, only the unit tells
        assert vm.ssh("podman", "container", "exists", rig.db, check=False).returncode == 1

        report = rig.cycle()
        [p] = [p for p in report.planned if p.finding.subject == rig.db]
        # a database is medium risk (settings loop.medium_risk_patterns): notified,
        # then executed
        assert (p.finding.code, p.playbook, p.risk, p.verdict) == (
            "container_down", "restart", "medium", "notified"), p.reason
        [a] = [a for a in report.actions if a.target == rig.db]
        assert a.outcome == "success", a
        ops = [o.rsplit(" | ", 1)[-1] for o in a.detail["operations"]]
        assert ops[:2] == [f"Clear {unit}'s failed state", f"Restart {unit}"], ops
    finally:
        vm.ssh("sh", "-c", f"rm -rf {drop_in}; systemctl daemon-reload", check=False)
    assert rig.active() == "active"
    [snap] = rig.snapshots()
    assert snap.startswith("containers.") and snap.endswith("_pre-action")
    assert snap in (a.snapshot or "")
    assert vm.ssh("btrfs", "property", "get", "-ts", f"{rig.snapdir}/{snap}", "ro"
                  ).stdout.strip() == "ro=true"
    [d] = rig.decisions()
    assert d["outcome"] == "success" and d["host"] == "lab-vm" and d["detail"]["snapshot"]
    checks = rig.outcome_of(d["id"])["verification"]["checks"]
    assert f"{rig.db} running and healthy: ok" in checks, checks
    assert rig.cli("decisions", "verify").returncode == 0


def test_a_unit_file_edited_by_hand_is_redeployed_by_the_cycle(rig: VmRig) -> None:
    """The database's quadlet unit edited on lab-vm: the cycle finds the drift,
    notifies (medium risk), snapshots, redeploys from the stack file (the unit written
    back and its service restarted) and verifies no drift is left."""
    vm, unit_file = rig.vm, f"{QUADLET}/{rig.db}.container"
    before = rig.snapshots()
    vm.ssh("sh", "-c", f"echo 'Environment=EDITED=by-hand' >> {unit_file}")
    report = rig.cycle()
    [p] = [p for p in report.planned if p.finding.subject == rig.db]
    assert (p.finding.code, p.playbook, p.risk, p.verdict) == (
        "drift", "redeploy", "medium", "notified"), p.reason
    [a] = [a for a in report.actions if a.target == rig.db]
    assert a.outcome == "success", a
    assert "EDITED" not in vm.ssh("cat", unit_file).stdout
    assert rig.active() == "active"
    [snap] = sorted(set(rig.snapshots()) - set(before))
    assert snap.endswith("_pre-action") and snap in (a.snapshot or "")
    drift = json.loads(rig.cli("drift", str(rig.file), "--json", "-i",
                               str(rig.inventory)).stdout)
    assert drift == []
    [d] = [d for d in rig.decisions() if d["action"] == "redeploy"]
    assert d["outcome"] == "success"
    checks = rig.outcome_of(d["id"])["verification"]["checks"]
    assert any("no drift left" in c and c.endswith(": ok") for c in checks), checks
    # nothing new: the redeploy's own restart of the unit is no crash loop
    again = rig.cycle()
    assert not [a for a in again.actions if a.target == rig.db], [
        (p.finding.code, p.finding.message) for p in again.planned]


def test_a_redeploy_that_breaks_a_quadlet_unit_is_rolled_back(rig: VmRig,
                                                               monkeypatch) -> None:
    """The stack file now publishes a port another process on lab-vm holds: the cycle's
    redeploy (drift) writes the new quadlet unit, whose service cannot start, its
    verification fails, and the cycle restores the volume from the pre-action snapshot
    on lab-vm's pool (the write the broken version made after it is gone, kept in a
    pre-rollback snapshot), writes the previous unit file back, reloads systemd and
    starts the unit again, verified healthy. The next cycles record one "no action:
    rolled back" instead of redeploying the bad file again."""
    from homelab_ops.loop import playbooks

    vm, unit_file = rig.vm, f"{QUADLET}/{rig.db}.container"
    good_file = rig.file.read_text()
    good_unit = vm.ssh("cat", unit_file).stdout
    volume = vm.ssh("podman", "volume", "inspect", "--format", "{{.Mountpoint}}",
                    f"{rig.db}-data").stdout.strip()
    assert volume, "the database's volume has no mountpoint on lab-vm"
    before_snaps = set(rig.snapshots())
    with Store.open(rig.state) as store:
        seen = store.db.execute("SELECT COALESCE(MAX(id), 0) FROM deployments").fetchone()[0]
    port = 20000 + int(rig.tag, 16) % 20000
    squatter = f"squat-{rig.tag}"
    vm.ssh("sh", "-c", f"echo 'the state before the action' > {volume}/before.txt")
    try:
        vm.ssh("systemd-run", f"--unit={squatter}", "busybox", "httpd", "-f", "-p",
               f"127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while f"127.0.0.1:{port} " not in vm.ssh("ss", "-Hltn").stdout:
            assert time.monotonic() < deadline, f"nothing listens on {port} on lab-vm"
            time.sleep(1)
        spec = json.loads(good_file)
        spec["services"]["db"]["params"]["publish_port"] = port
        rig.file.write_text(json.dumps(spec))
        real = playbooks._RUNNERS["redeploy"]

        def broken_writes(inventory, host, params, dry_run):
            # what the broken version wrote after the pre-action snapshot
            vm.ssh("sh", "-c", f"echo 'written by the broken deploy' > {volume}/after.txt")
            return real(inventory, host, params, dry_run)

        monkeypatch.setitem(playbooks._RUNNERS, "redeploy", broken_writes)

        report = rig.cycle()
        [p] = [p for p in report.planned if p.finding.subject == rig.db]
        assert (p.finding.code, p.playbook, p.verdict) == ("drift", "redeploy", "notified")
        [a] = [a for a in report.actions if a.target == rig.db]
        assert a.outcome == "failed", a
        assert "address already in use" in rig.journal(), rig.journal()
        assert a.rollback is not None and a.rollback.ok, a.rollback
        assert a.rollback.verification and a.rollback.verification.ok
        assert a.rollback.bad == {rig.db: p.finding.evidence["spec_digest"]}
        # the previous unit file is in place, systemd runs it again, no port published
        assert vm.ssh("cat", unit_file).stdout == good_unit
        assert rig.active() == "active"
        assert rig.unit_show("NeedDaemonReload") == "no"
        assert str(port) not in vm.ssh("podman", "port", rig.db, check=False).stdout
        # the data is the pre-action state; the broken state is kept as a snapshot
        files = vm.ssh("ls", "-1", volume).stdout.split()
        assert "before.txt" in files and "after.txt" not in files, files
        new = sorted(set(rig.snapshots()) - before_snaps)
        assert [s.rsplit("_", 1)[1] for s in new] == ["pre-action", "pre-rollback"], new
        kept = f"{rig.snapdir}/{new[1]}/volumes/{rig.db}-data/_data/after.txt"
        assert vm.ssh("test", "-f", kept, check=False).returncode == 0, kept
        # both verdicts in the decision log, and in `decisions`
        [d] = [d for d in rig.decisions() if d["action"] == "redeploy"
               and d["outcome"] == "failed"]
        out = rig.outcome_of(d["id"])
        assert out["verification"]["ok"] is False
        assert out["rollback"]["ok"] is True and out["rollback"]["verification"]["ok"]
        # the spec that failed is recorded, never as a good deployment a later rollback
        # could return to; the re-applied one is
        with Store.open(rig.state) as store:
            rows = store.db.execute("SELECT ok, spec_digest FROM deployments WHERE "
                                    "stack = ? AND id > ? ORDER BY id",
                                    (rig.stack, seen)).fetchall()
        failed = [(ok, digest == a.rollback.bad[rig.db]) for ok, digest in rows]
        assert failed == [(0, True), (1, False)], failed
        shown = rig.cli("decisions", "--service", rig.db).stdout
        assert "rolled back to deployment #" in shown and "verified ok" in shown

        for _ in range(2):  # no flap: one recorded "no action" while the file is bad
            again = rig.cycle()
            assert not [a for a in again.actions if a.target == rig.db], again.actions
            [q] = [q for q in again.planned if q.finding.subject == rig.db]
            assert q.verdict == "skipped" and q.held_by and q.held_by.gate == "rolled_back"
        held = rig.decisions(("skipped",))
        assert len([d for d in held if (d["detail"].get("held_by") or {}).get("gate")
                    == "rolled_back"]) == 1, held
        assert "fix" in rig.cli("why", rig.db).stdout
        assert rig.active() == "active"
        assert rig.cli("decisions", "verify").returncode == 0
    finally:
        rig.file.write_text(good_file)
        vm.ssh("systemctl", "stop", squatter, check=False)
