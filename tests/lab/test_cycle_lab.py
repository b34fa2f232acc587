"""The autonomous cycle against real faults on the lab's @local host (podman-run
backend): real killed containers, real pre-action BTRFS snapshots, a real local
notification receiver, real concurrent and SIGKILLed cycles.

Each test gets its own subvolume (its containers' data), its own store and its own
settings, so tests never see each other's decisions."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import btrfsutil
import pytest

from homelab_ops.backup import local
from homelab_ops.inventory import inventory_from_entries
from homelab_ops.lab import lab_hosts
from homelab_ops.lab.podman import podman
from homelab_ops.loop import log as decision_log
from homelab_ops.loop.cycle import run_cycle
from homelab_ops.models.observation import Observation
from homelab_ops.models.settings import load_settings
from homelab_ops.store import SeriesKey, Store
from tests.conftest import run_cli
from tests.lab.test_stack_lab import _remove_stack

pytestmark = pytest.mark.lab
MIB, DAY = 2**20, 86400.0


class Receiver:
    """A notification endpoint on 127.0.0.1 that keeps every JSON body it gets."""

    def __init__(self) -> None:
        got = self.got = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/"


class Rig:
    """One test's world: a subvolume for its containers' data, its state directory
    and settings, an inventory of @local backing that subvolume up."""

    def __init__(self, lab, tmp: Path, **loop) -> None:
        self.lab, self.tmp = lab, tmp
        self.tag = uuid.uuid4().hex[:6]
        self.data = lab.paths.pool_mount("data")
        self.sub = self.data / f"loop-{self.tag}"
        btrfsutil.create_subvolume(str(self.sub))
        self.snapdir = self.data / ".loop" / self.tag
        self.receiver = Receiver()
        self.state = tmp / "state"
        self.state.mkdir()
        backup = {"volumes": [{"subvolume": self.sub.name, "pool": "data",
                               "snapshot_dir": f".loop/{self.tag}"}]}
        data = dict(lab_hosts(lab.paths.root))["@local"]
        self.entries = [("@local", {**data, "backup": backup})]
        self.inventory_file = tmp / "inventory.py"
        self._write_inventory()
        # probe on every cycle: these tests break things between cycles seconds apart
        loop = {"fresh_observation_seconds": 0, **loop}
        loop_toml = "".join(f"{k} = {_toml(v)}\n" for k, v in loop.items())
        self.config = tmp / "settings.toml"
        self.config.write_text(
            f'protected_services = ["traefik", "authelia", "lp-{self.tag}-proxy"]\n'
            f'[notifications]\nurls = ["{self.receiver.url}"]\n[loop]\n{loop_toml}')
        self.names: list[str] = []

    def _write_inventory(self) -> None:
        self.inventory_file.write_text(
            f"import json\nhosts = [tuple(h) for h in json.loads({json.dumps(self.entries)!r})]\n")

    def cover(self, subvolume: str) -> None:
        """Back up one more subvolume of the data pool (snapshots in this test's dir)."""
        self.entries[0][1]["backup"]["volumes"].append(
            {"subvolume": subvolume, "pool": "data", "snapshot_dir": f".loop/{self.tag}"})
        self._write_inventory()

    def settings(self):
        return load_settings(self.config, self.state)

    def container(self, role: str, *cmd: str, health: str = "true", **kw) -> str:
        name = f"lp-{self.tag}-{role}"
        (self.sub / role).mkdir(exist_ok=True)
        podman(self.lab.paths, "run", "-d", "--name", name, "--label",
               "homelab-ops.stack=looptest", "-v", f"{self.sub / role}:/data",
               "--health-cmd", health, *kw.get("extra", ()), self.lab.spec.image, *cmd)
        self.names.append(name)
        return name

    def kill(self, name: str) -> None:
        podman(self.lab.paths, "kill", name)

    def state_of(self, name: str) -> str:
        return podman(self.lab.paths, "inspect", "--format", "{{.State.Status}}",
                      name).stdout.strip()

    def cycle(self, *args: str):
        inv = inventory_from_entries(self.entries, self.inventory_file)
        with Store.open(self.state) as store:
            return run_cycle(inv, store, self.settings(), **dict(a.split("=") for a in args))

    def cli(self, *args: str, check: bool = True):
        return run_cli("--state-dir", str(self.state), "--config", str(self.config), *args,
                       env=self.env(), check=check)

    def cli_cycle_cmd(self) -> list[str]:
        exe = Path(sys.executable).with_name("homelab-ops")
        return [str(exe), "--state-dir", str(self.state), "--config", str(self.config),
                "cycle", "-i", str(self.inventory_file), "--json"]

    def env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("CONTAINERS_")}

    def snapshots(self) -> list[str]:
        return sorted(local.subvolumes(self.snapdir)) if self.snapdir.exists() else []

    def decisions(self) -> list[dict]:
        with Store.open(self.state) as store:
            return store.decisions(limit=1000)

    def cleanup(self) -> None:
        for name in self.names:
            podman(self.lab.paths, "rm", "-f", "-t", "0", name, check=False)
        for snap in self.snapshots():
            btrfsutil.delete_subvolume(str(self.snapdir / snap))
        btrfsutil.delete_subvolume(str(self.sub))
        self.receiver.server.shutdown()


def _toml(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


@pytest.fixture
def rig(lab, tmp_path: Path, request):
    marker = request.node.get_closest_marker("loop")
    r = Rig(lab, tmp_path, **(marker.kwargs if marker else {}))
    yield r
    r.cleanup()


def _wait_running(rig: Rig, name: str) -> None:
    for _ in range(50):
        if rig.state_of(name) == "running":
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never ran")


def test_a_killed_container_is_restarted_verified_and_snapshotted_first(rig: Rig) -> None:
    name = rig.container("app")
    _wait_running(rig, name)
    rig.kill(name)
    report = rig.cycle()
    [p] = [p for p in report.planned if p.finding.subject == name]
    assert (p.finding.code, p.playbook, p.verdict) == ("container_down", "restart", "executed")
    [a] = report.actions
    assert a.outcome == "success", a
    assert rig.state_of(name) == "running"
    [snap] = rig.snapshots()
    assert snap.endswith("_pre-action") and btrfsutil.get_subvolume_read_only(
        str(rig.snapdir / snap))
    assert snap in (a.snapshot or "")
    [d] = [d for d in rig.decisions() if d["subject"] == name]
    assert d["outcome"] == "success" and d["detail"]["snapshot"]
    gates = {g["gate"]: g["ok"] for g in d["detail"]["gates"]}
    assert gates == {"protected": True, "halted": True, "window": True, "cooldown": True,
                     "grace": True, "backoff": True, "budget": True, "snapshot": True}
    # the second cycle acts on nothing new
    again = rig.cycle()
    assert not again.actions and not [p for p in again.planned if p.finding.subject == name]
    assert rig.cli("decisions", "verify").returncode == 0
    # and a hand-edited row is named
    db = sqlite3.connect(rig.state / "state.db")
    db.execute("DROP TRIGGER decisions_no_update")
    db.execute("UPDATE decisions SET reason = 'nothing happened' WHERE id = 1")
    db.commit()
    db.close()
    bad = rig.cli("decisions", "verify", check=False)
    assert bad.returncode == 1 and "row 1" in bad.stdout


def test_a_protected_service_is_alerted_never_restarted(rig: Rig) -> None:
    name = rig.container("proxy")
    _wait_running(rig, name)
    rig.kill(name)
    report = rig.cycle()
    [p] = [p for p in report.planned if p.finding.subject == name]
    assert p.verdict == "alerted" and "protected" in p.reason
    assert not report.actions and rig.state_of(name) != "running"
    assert rig.snapshots() == []  # nothing acted, nothing snapshotted
    assert any(name in json.dumps(m) for m in rig.receiver.got), rig.receiver.got
    sent = len(rig.receiver.got)
    rows = len(rig.decisions())
    rig.cycle()  # still down: the same alert is not sent again within renotify_hours
    assert len(rig.receiver.got) == sent and rig.state_of(name) != "running"
    assert len(rig.decisions()) == rows  # nor recorded again: the decision is unchanged
    why = rig.cli("why", name).stdout
    assert "protected service" in why and why.splitlines()[-1].startswith(
        "to act: protected: it is in settings protected_services")


@pytest.mark.loop(cooldown_minutes={}, service_cooldown_minutes=0, restart_budget=99)
def test_three_failed_remediations_trip_the_breaker_until_resume(rig: Rig) -> None:
    # containers whose command fails at once: a restart never makes them healthy
    names = [rig.container(f"bad{i}", "sh", "-c", "exit 3") for i in range(3)]
    time.sleep(1)
    report = rig.cycle()
    failed = [a for a in report.actions if a.outcome == "failed"]
    assert len(failed) == 3 and report.halted and "breaker" in report.halted
    status = json.loads(rig.cli("ops", "status", "--json").stdout)
    assert status["control"]["breaker_open"]
    nxt = rig.cycle()
    assert not nxt.actions and all(p.verdict != "executed" or p.playbook is None
                                   for p in nxt.planned)
    rig.cli("ops", "resume")
    status = json.loads(rig.cli("ops", "status", "--json").stdout)
    assert not status["control"]["breaker_open"]
    assert all(rig.state_of(n) != "running" for n in names)


@pytest.mark.loop(cooldown_minutes={"restart": 30})
def test_cooldown_then_the_budget_escalates_to_the_queue(rig: Rig) -> None:
    name = rig.container("flaky")
    _wait_running(rig, name)
    rig.kill(name)
    assert [a.outcome for a in rig.cycle().actions] == ["success"]
    rig.kill(name)
    second = rig.cycle()
    [p] = [p for p in second.planned if p.finding.subject == name]
    assert p.verdict == "skipped" and "cooldown" in p.reason
    assert not second.actions and rig.state_of(name) != "running"
    why = rig.cli("why", name).stdout.splitlines()
    rows = [ln.split()[3] for ln in why if ln.startswith("  #")]
    assert rows[:2] == ["skipped", "executed"], why
    assert "picked by the recommender: skill restart" in why[2]
    assert why[-1].startswith("to act: cooldown: wait until")


def test_a_stateless_container_is_refused_once_and_held(rig: Rig) -> None:
    """No writable mount, so no pre-action snapshot can cover it: the decider says
    execute, the snapshot gate refuses, the report says REFUSED (not EXECUTED); the
    next cycle holds the restart like a cooldown and neither records nor tells it
    again."""
    name = f"lp-{rig.tag}-whoami"
    podman(rig.lab.paths, "run", "-d", "--name", name, "--label",
           "homelab-ops.stack=looptest", rig.lab.spec.image, "sleep", "600")
    rig.names.append(name)
    _wait_running(rig, name)
    rig.kill(name)
    first = rig.cycle()
    [p] = [p for p in first.planned if p.finding.subject == name]
    assert (p.matrix, p.verdict, p.held_by.gate) == ("executed", "refused", "snapshot")
    assert not first.actions and rig.state_of(name) != "running"
    from homelab_ops.render import loop as render

    assert any(line.strip().startswith("REFUSED") and name in line
               for line in render.cycle(first))
    told = [m for m in rig.receiver.got if name in json.dumps(m)]
    assert len(told) == 1
    rows = rig.decisions()
    second, third = rig.cycle(), rig.cycle()
    for report in (second, third):
        [p] = [p for p in report.planned if p.finding.subject == name]
        assert p.verdict == "skipped" and "held after the refusal" in p.reason
    mine = [d for d in rig.decisions() if d["subject"] == name]
    assert [d["verdict"] for d in mine] == ["skipped", "refused"]  # one row per change
    assert len(rig.decisions()) == len(rows) + 1
    assert [m for m in rig.receiver.got if name in json.dumps(m)] == told


@pytest.mark.loop(cooldown_minutes={}, service_cooldown_minutes=0, restart_budget=2,
                  backoff_base_minutes=0, backoff_cap_minutes=0)
def test_the_restart_budget_escalates_to_the_queue_and_approval_runs_it(rig: Rig) -> None:
    name = rig.container("flaky")
    _wait_running(rig, name)
    for _ in range(2):
        rig.kill(name)
        assert [a.outcome for a in rig.cycle().actions] == ["success"]
    rig.kill(name)
    third = rig.cycle()
    [p] = [p for p in third.planned if p.finding.subject == name]
    assert p.verdict == "queued" and "budget" in p.reason and not third.actions
    [q] = json.loads(rig.cli("queue", "list", "--json").stdout)
    rig.cli("queue", "approve", str(q["id"]))
    fourth = rig.cycle()
    assert [a.outcome for a in fourth.actions] == ["success"]
    assert rig.state_of(name) == "running"
    assert json.loads(rig.cli("queue", "list", "--json").stdout) == []


@pytest.mark.loop(unhealthy_observations=1)
def test_slow_starting_containers_are_not_restarted_during_their_grace(rig: Rig) -> None:
    """Two containers that become healthy only after 20 s, longer than a cycle: one
    whose service declares a grace of 600 s (its healthcheck fails at once, so it is
    unhealthy meanwhile), one with a healthcheck start period of 60 s (it reports
    starting). Every cycle until both are healthy decides to wait; none restarts."""
    slow = "sleep 20; touch /tmp/ok; exec httpd -f -p 80"
    graced = rig.container("graced", "sh", "-c", slow, health="test -f /tmp/ok",
                           extra=("--label", "homelab-ops.grace=600",
                                  "--health-retries", "1"))
    period = rig.container("period", "sh", "-c", slow, health="test -f /tmp/ok",
                           extra=("--health-start-period", "60s"))
    started = {n: _started(rig, n) for n in (graced, period)}
    reports, seen, deadline = [], set(), time.time() + 120
    while time.time() < deadline:  # a cycle every 2 s until both are healthy
        reports.append(rig.cycle())
        with Store.open(rig.state) as store:
            obs = Observation.model_validate(store.latest_observations()["@local"])
        health = {n: obs.container(n).health for n in (graced, period)}
        seen |= {(n, h) for n, h in health.items()}
        if set(health.values()) == {"healthy"}:
            break
        time.sleep(2)
    assert len(reports) >= 2 and set(health.values()) == {"healthy"}
    assert (graced, "unhealthy") in seen and (period, "starting") in seen
    assert obs.container(period).health_start_period_s == 60  # read from podman
    waited = [p for r in reports for p in r.planned if p.finding.subject == graced]
    assert waited and all(p.verdict == "skipped" and p.held_by.gate == "grace"
                          for p in waited)
    assert not [a for r in reports for a in r.actions if a.target in started]
    assert {n: _started(rig, n) for n in started} == started  # zero restarts
    assert "grace" in rig.cli("why", graced).stdout.splitlines()[-1]


@pytest.mark.loop(unhealthy_observations=1)
def test_a_recovering_container_is_not_restarted(rig: Rig) -> None:
    """A container that logs "automatic recovery in progress" for 20 s while its
    healthcheck fails (no start period, no grace declared): it is unhealthy, and every
    cycle waits for the recovery instead of restarting it."""
    name = rig.container(
        "pg", "sh", "-c", "for i in $(seq 10); do echo 'LOG: database system was "
        "interrupted; automatic recovery in progress'; sleep 2; done; touch /tmp/ok; "
        "exec httpd -f -p 80", health="test -f /tmp/ok", extra=("--health-retries", "1"))
    started = _started(rig, name)
    reports, seen, deadline = [], set(), time.time() + 120
    while time.time() < deadline:
        reports.append(rig.cycle())
        with Store.open(rig.state) as store:
            c = Observation.model_validate(store.latest_observations()["@local"]
                                           ).container(name)
        seen.add(c.health)
        if c.health == "healthy":
            break
        time.sleep(2)
    assert c.health == "healthy" and "unhealthy" in seen
    waited = [p for r in reports for p in r.planned if p.finding.subject == name]
    assert waited and all(p.held_by.gate == "grace" and "recovering" in p.reason
                          for p in waited)
    assert not [a for r in reports for a in r.actions if a.target == name]
    assert _started(rig, name) == started  # zero restarts


def test_ten_faults_in_one_cycle_are_one_digest_and_then_quiet(rig: Rig) -> None:
    """Ten jobs nobody declared exited: ten alerts (confidence too low to act), one
    message reaching the receiver; the next cycle tells nothing again."""
    names = [f"lp-{rig.tag}-job{i}" for i in range(10)]
    for name in names:
        podman(rig.lab.paths, "run", "-d", "--name", name, rig.lab.spec.image, "true")
        rig.names.append(name)
    for name in names:
        for _ in range(50):
            if rig.state_of(name) == "exited":
                break
            time.sleep(0.1)
    before = len(rig.receiver.got)
    report = rig.cycle()
    mine = [p for p in report.planned if p.finding.subject in names]
    assert len(mine) == 10 and {p.verdict for p in mine} == {"alerted"}
    got = rig.receiver.got[before:]
    assert len(got) == 1 and all(n in got[0]["message"] for n in names), got
    assert report.notice_events >= 10 and len(report.notifications) == 1
    again = rig.cycle()
    assert len(rig.receiver.got) == before + 1 and again.notifications == []
    assert again.notice_events >= 10  # still ten things, told once


def test_a_container_sharing_a_network_namespace_is_restarted_with_it(rig: Rig) -> None:
    """A sidecar in the app's network namespace (``--network container:APP``): when the
    app is killed and restarted, the sidecar is restarted with it, after it, in the
    same action, and both are verified."""
    app = rig.container("app")
    _wait_running(rig, app)
    side = f"lp-{rig.tag}-side"
    podman(rig.lab.paths, "run", "-d", "--name", side, "--network", f"container:{app}",
           rig.lab.spec.image, "sleep", "600")
    rig.names.insert(0, side)  # removed before the app it needs
    _wait_running(rig, side)
    before = _started(rig, side)
    rig.kill(app)
    report = rig.cycle()
    [p] = [p for p in report.planned if p.finding.subject == app]
    assert p.params["dependents"] == [side]
    [a] = report.actions
    assert a.outcome == "success", a
    assert rig.state_of(app) == "running" and rig.state_of(side) == "running"
    assert _started(rig, side) != before  # restarted, in the app's new namespace
    with Store.open(rig.state) as store:
        [out] = [d for d in decision_log.entries(store) if d.ref == a.decision]
    checks = out.detail["verification"]["checks"]
    assert any(side in c for c in checks) and any(app in c for c in checks)


def _started(rig: Rig, name: str) -> str:
    return podman(rig.lab.paths, "inspect", "--format", "{{.State.StartedAt}}",
                  name).stdout.strip()


def test_a_disk_predicted_to_fill_is_freed_and_the_bytes_recorded(rig: Rig) -> None:
    """Three days of growth seeded through the store (as the predict lab test does),
    ending at the pool's real usage now; a dangling volume with real data in the pool
    is what free-disk can give back."""
    mnt = str(rig.data)
    (rig.sub / "payload.bin").write_bytes(os.urandom(64 * MIB))
    subprocess.run(["btrfs", "filesystem", "sync", mnt], check=True)
    st = os.statvfs(mnt)
    size, used = st.f_blocks * st.f_frsize, (st.f_blocks - st.f_bfree) * st.f_frsize
    now, per_day = time.time(), 0.01 * size
    with Store.open(rig.state) as store:
        for metric, value in (("used_bytes", lambda t: used - per_day * (now - t) / DAY),
                              ("size_bytes", lambda t: size)):
            key = SeriesKey("@local", "filesystem", mnt, metric)
            store.add_points(key, [(now - k * 6 * 3600, value(now - k * 6 * 3600))
                                   for k in range(12, 0, -1)])
    pct = 100 * used / size
    rig.config.write_text(rig.config.read_text().replace(
        "[notifications]", f'[thresholds]\ndisk_crit_pct_by_mount = {{ "{mnt}" = '
        f'{pct + 1.5:.2f} }}\n[notifications]'))
    junk = f"lp-{rig.tag}-junk"
    podman(rig.lab.paths, "volume", "create", junk)
    where = podman(rig.lab.paths, "volume", "inspect", "--format", "{{.Mountpoint}}",
                   junk).stdout.strip()
    Path(where, "cache.bin").write_bytes(os.urandom(32 * MIB))
    report = rig.cycle()
    [p] = [p for p in report.planned if p.finding.code == "disk_full"
           and p.finding.subject == mnt]
    assert p.playbook == "free-disk" and p.finding.evidence["status"] == "fills"
    assert p.verdict in ("executed", "notified"), p.reason
    [a] = [a for a in report.actions if a.playbook == "free-disk"]
    assert a.outcome == "success" and a.snapshot and "bytes_freed" in a.detail, a
    assert podman(rig.lab.paths, "volume", "exists", junk, check=False).returncode == 1
    with Store.open(rig.state) as store:
        [out] = [d for d in decision_log.entries(store)
                 if d.action == "free-disk" and d.outcome == "success"]
    assert out.detail["action"]["detail"]["bytes_freed"] == a.detail["bytes_freed"]


def test_two_cycles_at_the_same_moment_only_one_acts(rig: Rig) -> None:
    name = rig.container("app")
    _wait_running(rig, name)
    rig.kill(name)
    procs = [subprocess.Popen(rig.cli_cycle_cmd(), env=rig.env(), stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert sorted(bool(o["skipped"]) for o in outs) == [False, True]
    assert sum(len(o["actions"]) for o in outs) == 1
    assert "another cycle is running" in next(o["skipped"] for o in outs if o["skipped"])


def test_a_cycle_killed_during_act_is_reported_and_not_repeated(rig: Rig) -> None:
    # a healthcheck that only passes after a while keeps the restart's verification busy
    name = rig.container("slow", "sh", "-c", "sleep 8; touch /tmp/ok; exec httpd -f -p 80",
                         health="test -f /tmp/ok",
                         extra=("--health-start-period", "60s"))
    time.sleep(10)
    rig.kill(name)
    proc = subprocess.Popen(rig.cli_cycle_cmd(), env=rig.env(), stdout=subprocess.DEVNULL)
    deadline = time.time() + 120
    # kill it while it verifies the restart (the healthcheck passes only after 8 s)
    while time.time() < deadline:
        rows = rig.decisions() if (rig.state / "state.db").exists() else []
        if any(r["subject"] == name and r["verdict"] == "executed" for r in rows) \
                and rig.state_of(name) == "running":
            break
        time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError("the cycle never restarted the container")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    nxt = rig.cycle()
    assert len(nxt.interrupted) == 1
    [d] = [d for d in rig.decisions() if d["subject"] == name and d["verdict"] == "executed"]
    assert d["outcome"] == "interrupted"
    # the restart had gone through: the finding no longer holds, nothing is done twice
    assert not [a for a in nxt.actions if a.target == name]
    assert rig.state_of(name) == "running"
    assert rig.cli("decisions", "verify").returncode == 0


def test_a_dry_run_decides_and_records_but_changes_nothing(rig: Rig) -> None:
    name = rig.container("app")
    _wait_running(rig, name)
    rig.kill(name)
    out = json.loads(rig.cli("cycle", "-i", str(rig.inventory_file), "--dry-run",
                             "--json").stdout)
    assert out["dry_run"] and [a["outcome"] for a in out["actions"]] == ["dry-run"]
    assert rig.state_of(name) != "running" and rig.snapshots() == []
    [d] = [d for d in rig.decisions() if d["subject"] == name]
    assert d["detail"]["dry_run"] and d["outcome"] == "dry-run"
    # a dry run starts no cooldown: the real cycle acts at once
    assert [a.outcome for a in rig.cycle().actions] == ["success"]


def test_a_drifted_stack_service_is_redeployed_after_a_notice(
        rig: Rig, monkeypatch) -> None:
    """A deployed database recreated by hand with another environment: the cycle finds
    the drift, notifies (medium risk), snapshots the volume's subvolume, redeploys from
    the stack file and verifies with the stack's health checks and no drift left."""
    from homelab_ops.collection.lib.hosts import host_target
    from homelab_ops.collection.lib.plan import host_plan
    from homelab_ops.collection.lib.units import run_args
    from homelab_ops.stacks.load import load_stack

    monkeypatch.setenv("LOOP_DB_PASSWORD", uuid.uuid4().hex)
    rig.cover("containers")  # podman's named volumes live there
    stack = rig.tmp / "stack.yaml"
    name = f"lr{rig.tag}"
    stack.write_text(json.dumps({
        "name": name, "hosts": ["@local"], "secrets": {"pw": {"env": "LOOP_DB_PASSWORD"}},
        "services": {"db": {"pattern": "database", "params": {"password": "pw"}}}}))
    try:
        rig.cli("deploy", str(stack), "--force", "-i", str(rig.inventory_file))
        declared = load_stack(stack)
        target = host_target("@local", rig.entries[0][1],
                             {"uid": 0, "home": "/root", "systemd": False})
        db = host_plan(declared, target, {"pw": os.environ["LOOP_DB_PASSWORD"]}).containers[0]
        podman(rig.lab.paths, "rm", "--force", "--time", "0", db.name)
        podman(rig.lab.paths, *run_args(db.model_copy(
            update={"env": {**db.env, "POSTGRES_DB": "tampered"}})))

        report = rig.cycle()
        [p] = [p for p in report.planned if p.finding.subject == db.name]
        assert (p.finding.code, p.playbook, p.risk, p.verdict) == (
            "drift", "redeploy", "medium", "notified")
        [a] = report.actions
        assert a.outcome == "success", a
        assert any(db.name in json.dumps(m) for m in rig.receiver.got)
        [snap] = rig.snapshots()
        assert snap.startswith("containers.") and snap.endswith("_pre-action")
        live = podman(rig.lab.paths, "inspect", "--format", "{{range .Config.Env}}{{.}} "
                      "{{end}}", db.name).stdout
        assert "POSTGRES_DB=tampered" not in live and "POSTGRES_DB=" in live
        drift = json.loads(rig.cli("drift", str(stack), "--json", "-i",
                                   str(rig.inventory_file)).stdout)
        assert drift == []
        [d] = [d for d in rig.decisions() if d["subject"] == db.name]
        assert d["outcome"] == "success"
        with Store.open(rig.state) as store:
            [outcome] = [json.loads(r["detail"]) for r in store.decision_rows()
                         if r["ref"] == d["id"]]
        assert any("no drift left" in c for c in outcome["verification"]["checks"])
        with Store.open(rig.state) as store:  # the verified redeploy is a good deployment
            assert len(store.good_deployments("@local", name)) == 2
        again = rig.cycle()
        assert not again.actions
    finally:
        _remove_stack(rig.lab, name)
        podman(rig.lab.paths, "volume", "rm", "--force", f"{name}-db-data", check=False)


@pytest.mark.loop(cooldown_minutes={}, service_cooldown_minutes=0, backoff_base_minutes=0,
                  backoff_cap_minutes=0)
def test_a_redeploy_that_breaks_a_service_is_rolled_back(rig: Rig, monkeypatch) -> None:
    """The stack file now publishes a port another process holds: the cycle's redeploy
    (drift) removes the healthy database and cannot start the new one, its verification
    fails, and the cycle restores the volume from the pre-action snapshot (the write
    the broken version made after it is gone, kept in a pre-rollback snapshot) and
    deploys the stack as last deployed healthy, verified again. The next cycles record
    one "no action: rolled back" instead of redeploying the bad file again, with
    cooldown and backoff off."""
    from homelab_ops.lab.sshd import free_port
    from homelab_ops.loop import playbooks

    monkeypatch.setenv("LOOP_DB_PASSWORD", uuid.uuid4().hex)
    rig.cover("containers")
    stack = rig.tmp / "stack.yaml"
    name = f"lb{rig.tag}"
    db_name, port = f"{name}-db", free_port()
    spec = {"name": name, "hosts": ["@local"], "secrets": {"pw": {"env": "LOOP_DB_PASSWORD"}},
            "services": {"db": {"pattern": "database", "params": {"password": "pw"}}}}
    stack.write_text(json.dumps(spec))
    volume = rig.lab.paths.volumes / f"{name}-db-data" / "_data"
    squatter = None
    try:
        rig.cli("deploy", str(stack), "--force", "-i", str(rig.inventory_file))
        (volume / "before.txt").write_text("the state before the action\n")
        spec["services"]["db"]["params"]["publish_port"] = port
        stack.write_text(json.dumps(spec))
        squatter = subprocess.Popen([sys.executable, "-m", "http.server", str(port),
                                     "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        _wait_port(port)
        real = playbooks._RUNNERS["redeploy"]

        def broken_writes(inventory, host, params, dry_run):
            # what the broken version wrote after the pre-action snapshot
            (volume / "after.txt").write_text("written by the broken deploy\n")
            return real(inventory, host, params, dry_run)

        monkeypatch.setitem(playbooks._RUNNERS, "redeploy", broken_writes)

        report = rig.cycle()
        [p] = [p for p in report.planned if p.finding.subject == db_name]
        assert (p.finding.code, p.playbook, p.verdict) == ("drift", "redeploy", "notified")
        [a] = report.actions
        assert a.outcome == "failed" and "address already in use" in (a.error or ""), a
        assert a.rollback is not None and a.rollback.ok, a.rollback
        assert a.rollback.verification and a.rollback.verification.ok
        assert a.rollback.bad == {db_name: p.finding.evidence["spec_digest"]}
        # the previous spec runs again: no port published, healthy
        assert rig.state_of(db_name) == "running"
        ports = podman(rig.lab.paths, "port", db_name, check=False).stdout
        assert str(port) not in ports
        # the data is the pre-action state; the broken state is kept as a snapshot
        assert (volume / "before.txt").exists() and not (volume / "after.txt").exists()
        snaps = rig.snapshots()
        assert [s.rsplit("_", 1)[1] for s in snaps if s.startswith("containers.")] == [
            "pre-action", "pre-rollback"], snaps
        [kept] = [s for s in snaps if s.endswith("_pre-rollback")]
        assert (rig.snapdir / kept / "volumes" / f"{name}-db-data" / "_data" /
                "after.txt").exists()
        # both verdicts in the decision log, and in `decisions`
        [d] = [d for d in rig.decisions() if d["subject"] == db_name
               and d["verdict"] == "notified"]
        assert d["outcome"] == "failed"
        with Store.open(rig.state) as store:
            [out] = [json.loads(r["detail"]) for r in store.decision_rows()
                     if r["ref"] == d["id"]]
        assert out["verification"]["ok"] is False
        assert out["rollback"]["ok"] is True and out["rollback"]["verification"]["ok"]
        # the spec that failed is recorded, never as a good deployment a later rollback
        # could return to; the re-applied one is
        with Store.open(rig.state) as store:
            rows = store.db.execute("SELECT ok, spec_digest FROM deployments WHERE "
                                    "stack = ? ORDER BY id", (name,)).fetchall()
        failed = [(ok, digest == a.rollback.bad[db_name]) for ok, digest in rows]
        assert failed == [(1, False), (0, True), (1, False)], failed
        shown = rig.cli("decisions", "--service", db_name).stdout
        assert "rolled back to deployment #" in shown and "verified ok" in shown

        for _ in range(2):  # no flap: one recorded "no action" while the file is bad
            again = rig.cycle()
            assert not again.actions
            [q] = [q for q in again.planned if q.finding.subject == db_name]
            assert q.verdict == "skipped" and q.held_by and q.held_by.gate == "rolled_back"
        held = [d for d in rig.decisions() if d["subject"] == db_name
                and (d["detail"].get("held_by") or {}).get("gate") == "rolled_back"]
        assert len(held) == 1, held
        assert "fix" in rig.cli("why", db_name).stdout
        assert rig.state_of(db_name) == "running"
    finally:
        if squatter is not None:
            squatter.terminate()
            squatter.wait(timeout=30)
        _remove_stack(rig.lab, name)
        podman(rig.lab.paths, "volume", "rm", "--force", f"{name}-db-data", check=False)


def _wait_port(port: int) -> None:
    import socket

    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")
