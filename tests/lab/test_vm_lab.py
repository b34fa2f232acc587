"""The lab's VM host lab-vm (systemd as PID 1, podman with quadlet, its own BTRFS disks,
reached over SSH): stacks deploy through quadlet units, drift and health work there,
observe sees it as a host of its own, and backups cross the wire to it."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from homelab_ops.backup.runner import run_backup
from homelab_ops.collection.lib import timers
from homelab_ops.lab import lab_hosts, vm_agent
from homelab_ops.lab.vm import Vm, guest_pool
from homelab_ops.models.backup_run import BackupRun
from homelab_ops.store import Store
from tests.conftest import run_cli
from tests.lab.test_backup_lab import _pyinfra

pytestmark = [pytest.mark.lab, pytest.mark.vm]

SECRET_ENV = "VM_DB_PASSWORD"
SECRET = "s3cret-" + uuid.uuid4().hex
QUADLET = "/etc/containers/systemd"
T0 = datetime(2026, 3, 2, 2)


@pytest.fixture(scope="module")
def vm(lab) -> Vm:
    assert lab.spec.vm is not None, "the session's lab must have its VM"
    return Vm(lab.paths, lab.spec.vm)


@pytest.fixture(scope="module")
def env(lab_env) -> dict[str, str]:
    return {**lab_env, SECRET_ENV: SECRET}


@pytest.fixture(scope="module")
def vm_stack(vm: Vm, lab_env, tmp_path_factory) -> dict:
    """Three patterns on lab-vm: one with a network, one with a volume and a secret env
    file, one with a bind mount from the VM's data pool."""
    name = f"vm{uuid.uuid4().hex[:6]}"
    path = tmp_path_factory.mktemp("vmstack") / "stack.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "hosts": ["lab-vm"], "publish_ip": "127.0.0.1",
        "networks": {"front": {}},
        "secrets": {"pw": {"env": SECRET_ENV}},
        "services": {
            "proxy": {"pattern": "reverse-proxy", "networks": ["front"],
                      "params": {"http_port": 18280, "podman_socket": ""}},
            "db": {"pattern": "database", "params": {"password": "pw"}},
            "site": {"pattern": "static-site", "networks": ["front"], "depends_on": ["proxy"],
                     "params": {"host": "www.vm.arpa", "root": "pool:data/media",
                                "publish_port": 18285}},
        },
    }))
    yield {"name": name, "file": path}
    run_cli("stacks", "forget", name, env=lab_env, check=False)
    remove_stack(vm, name)


def remove_stack(vm: Vm, name: str) -> None:
    """Take stack ``name`` off lab-vm: units stopped, unit and secret files, containers,
    volumes and networks removed (lab-vm left as it was before the deploy). The stop
    jobs are queued, not waited for, and the containers removed at once: a unit stop
    that crawls under emulation (CI: one took past 300 s) cannot stall the suite."""
    vm.ssh("sh", "-c", f"for u in {QUADLET}/{name}-*.container; do "
           'systemctl stop --no-block "$(basename "$u" .container).service"; done; '
           f"rm -rf {QUADLET}/{name}-* {QUADLET}/homelab-ops-secrets/{name}-*; "
           "systemctl daemon-reload; "
           f"podman rm -af --time 0 --filter label=homelab-ops.stack={name} >/dev/null; "
           f"podman volume rm -af --filter label=homelab-ops.stack={name} >/dev/null; "
           f"podman network rm -f $(podman network ls -q --filter name=^{name}-) "
           ">/dev/null 2>&1 || true", check=False, timeout=300)


@pytest.fixture(scope="module")
def deployed(vm_stack: dict, env: dict[str, str]) -> dict:
    """First deploy (forced: no history for the capacity check) and the second one."""
    first = run_cli("deploy", str(vm_stack["file"]), "--force", "--json", env=env)
    second = run_cli("deploy", str(vm_stack["file"]), "--json", env=env)
    return {"first": json.loads(first.stdout), "second": json.loads(second.stdout),
            "output": first.stdout + first.stderr + second.stdout + second.stderr}


def _drift(vm_stack: dict, env: dict[str, str]) -> list[dict]:
    proc = run_cli("drift", str(vm_stack["file"]), "--json", env=env, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_a_stack_runs_under_systemd_through_quadlet(deployed, vm_stack, vm) -> None:
    first, name = deployed["first"], vm_stack["name"]
    assert list(first["hosts"]) == ["lab-vm"] and first["hosts"]["lab-vm"]["changes"] > 0
    failed = [r for r in first["health"] if not r["ok"]]
    assert first["ok"] and not failed, failed
    assert {r["kind"] for r in first["health"]} >= {"running", "healthy", "listening", "http"}
    units = [f"{name}-{s}.service" for s in ("proxy", "db", "site")]
    active = vm.ssh("systemctl", "is-active", *units).stdout.split()
    assert active == ["active"] * 3
    files = vm.ssh("ls", QUADLET).stdout.split()
    assert {f"{name}-proxy.container", f"{name}-db.container", f"{name}-front.network",
            f"{name}-db-data.volume"} <= set(files), files
    # the secret is in a 0600 file only, never in a unit or the deploy's output
    assert SECRET not in deployed["output"]
    assert SECRET not in vm.ssh("cat", *(f"{QUADLET}/{f}" for f in files
                                         if f.startswith(name))).stdout
    # healthchecks run from podman's systemd timers: the probe does not run them here
    timers = vm.ssh("systemctl", "list-timers", "--all", "--no-legend").stdout
    ids = vm.ssh("podman", "ps", "-q", "--no-trunc",
                 "--filter", f"label=homelab-ops.stack={name}").stdout.split()
    assert ids and all(any(i in line for line in timers.splitlines()) for i in ids), timers


def test_a_second_deploy_changes_nothing(deployed, vm_stack, env) -> None:
    second = deployed["second"]
    assert second["hosts"] == {"lab-vm": {"changes": 0, "changed": [], "ok": True, "error": ""}}
    assert _drift(vm_stack, env) == []


def test_a_unit_edited_by_hand_is_drift_and_the_next_deploy_repairs_it(
        deployed, vm_stack, env, vm) -> None:
    unit = f"{QUADLET}/{vm_stack['name']}-site.container"
    vm.ssh("sh", "-c", f"echo 'Environment=EDITED=by-hand' >> {unit}")
    found = _drift(vm_stack, env)
    assert [(d["host"], d["subject"], d["kind"]) for d in found] == [
        ("lab-vm", f"{vm_stack['name']}-site.container", "unit_changed")]
    again = json.loads(run_cli("deploy", str(vm_stack["file"]), "--json", env=env).stdout)
    assert again["ok"] and again["hosts"]["lab-vm"]["changes"] > 0
    assert "EDITED" not in vm.ssh("cat", unit).stdout
    assert _drift(vm_stack, env) == []
    assert vm.ssh("systemctl", "is-active", f"{vm_stack['name']}-site.service"
                  ).stdout.strip() == "active"


def test_observe_sees_the_vm_as_a_host_of_its_own(deployed, vm_stack, lab_env, vm) -> None:
    """Two distinct hosts (lab-ssh is a second name of @local, not observed twice); a
    container killed twice on lab-vm is brought back by systemd each time (its unit
    says Restart=always), and both deaths with their exit code and both restarts are
    events of lab-vm only, read from its journal (podman's event log there)."""
    name, db = vm_stack["name"], f"{vm_stack['name']}-db"
    observed = {o["host"]: o for o in json.loads(run_cli("observe", "--json",
                                                         env=lab_env).stdout)}
    assert set(observed) == {"@local", "lab-vm"}
    vm_obs, local = observed["lab-vm"], observed["@local"]
    assert vm_obs["systemd"] and not local["systemd"]
    vm_names = {c["name"] for c in vm_obs["containers"]}
    assert {f"{name}-proxy", db, f"{name}-site"} <= vm_names
    assert not vm_names & {c["name"] for c in local["containers"]}
    assert {u["name"] for u in vm_obs["units"]} >= {f"{name}-proxy.service", f"{db}.service"}
    since = float(vm.ssh("date", "+%s.%N").stdout)  # the VM's clock dates its journal
    for _ in range(2):  # two crashes between two looks: both told by the journal
        started = _started(vm, db)
        vm.ssh("podman", "kill", db)
        deadline = time.monotonic() + 180
        while _started(vm, db) in (started, None) and time.monotonic() < deadline:
            time.sleep(2)
        assert _started(vm, db) not in (started, None), "systemd did not restart the unit"
    run_cli("observe", "--json", env=lab_env)
    with Store.open(Path(lab_env["HOMELAB_OPS_STATE_DIR"])) as store:
        died = store.events(host="lab-vm", subject=db, kinds=["died"], since=since)
        restarted = store.events(host="lab-vm", subject=db, kinds=["restarted"], since=since)
        assert store.events(host="@local", subject=db) == []
    assert [e.detail["exit_code"] for e in died] == [137, 137], died
    assert len(restarted) == 2 and all(e.detail["source"] == "podman events"
                                       for e in restarted), restarted


def _started(vm: Vm, container: str) -> str | None:
    proc = vm.ssh("podman", "inspect", "--format", "{{.State.StartedAt}}", container,
                  check=False)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


class OverSsh:
    """A subvolume of @local backed up into lab-vm's backup pool over SSH, through the
    CLI as a user runs it (its own inventory; the session's store)."""

    def __init__(self, lab, vm: Vm, env: dict[str, str], tmp: Path) -> None:
        import btrfsutil

        self.lab, self.vm, self.env = lab, vm, env
        self.name = f"tovm-{uuid.uuid4().hex[:6]}"
        self.source = lab.paths.pool_mount("data") / self.name
        btrfsutil.create_subvolume(str(self.source))
        self.folder = f"{guest_pool('backup')}/bk/{self.name}"
        vm.ssh("mkdir", "-p", self.folder)
        target = {"path": guest_pool("backup"), "dir": f"bk/{self.name}", "ssh": "lab-vm",
                  "ssh_config": str(lab.paths.ssh_config)}
        data = dict(lab_hosts(lab.paths.root))["@local"]
        self.volume = {"subvolume": self.name, "snapshot_dir": f".bk/{self.name}"}
        self.hosts = [("@local", {**data, "backup": {"volumes": [self.volume],
                                                     "target": target}})]
        self.inventory = tmp / "inventory.py"
        self.inventory.write_text(
            f"import json\nhosts = [tuple(h) for h in json.loads({json.dumps(self.hosts)!r})]\n")

    def run(self, now: datetime) -> BackupRun:
        """One backup run at ``now`` (snapshot names have minute resolution), recorded
        in the store the CLI reads."""
        with Store.open(Path(self.env["HOMELAB_OPS_STATE_DIR"])) as store:
            return run_backup(self.hosts, store, now=now)

    def cli(self, *args: str, check: bool = True):
        return run_cli("backup", *args, "-i", str(self.inventory), "--json", env=self.env,
                       check=check)

    def copies(self) -> dict[str, str]:
        """Copy name -> its path on the VM (a path target has a folder per host)."""
        listing = self.vm.ssh("sh", "-c", f"ls -d {self.folder}/*/*").stdout.split()
        return {Path(p).name: p for p in listing if Path(p).name.startswith(f"{self.name}.")}

    def show(self, path: str) -> str:
        return self.vm.ssh("btrfs", "subvolume", "show", path).stdout

    def cleanup(self) -> None:
        import btrfsutil

        self.vm.ssh("sh", "-c", f'for s in {self.folder}/*/*; do btrfs subvolume delete "$s"; '
                    "done", check=False)
        for snap in (self.lab.paths.pool_mount("data") / ".bk" / self.name).glob("*"):
            btrfsutil.delete_subvolume(str(snap))
        btrfsutil.delete_subvolume(str(self.source))


@pytest.fixture
def over_ssh(lab, vm: Vm, lab_env, tmp_path: Path):
    rig = OverSsh(lab, vm, lab_env, tmp_path)
    yield rig
    rig.cleanup()


def _field(show: str, name: str) -> str:
    """One field of ``btrfs subvolume show`` (``uuid``, ``parent uuid``...)."""
    [line] = [ln for ln in show.splitlines() if ln.strip().lower().startswith(name + ":")]
    return line.split()[-1]


def test_a_restore_test_across_ssh_passes_then_catches_a_corrupted_file(
        over_ssh: OverSsh, lab_env) -> None:
    """@local's subvolume goes incrementally into lab-vm's pool; the restore test brings
    the newest copy back across the wire and passes; bit rot in that copy on the VM
    (made writable, one byte changed, read-only again: its received UUID stays) fails
    it, and the next run builds on the older good copy instead of the damaged one."""
    rig = over_ssh
    for day in range(2):
        (rig.source / f"day{day}.bin").write_bytes(bytes(range(256)) * 1024)
        assert rig.run(T0 + timedelta(days=day)).ok
    copies = rig.copies()
    assert len(copies) == 2, copies
    newest = copies[max(copies)]
    assert _field(rig.show(newest), "parent uuid") != "-"  # the second send was incremental

    [ok] = json.loads(rig.cli("verify").stdout)
    assert ok["ok"] and ok["files"] == 2 and ok["backup"] == f"lab-vm:{newest}", ok

    rig.vm.ssh("python3", "-c", "import btrfsutil, sys\n"
               "p = sys.argv[1]\nbtrfsutil.set_subvolume_read_only(p, False)\n"
               "f = open(p + '/day1.bin', 'r+b'); f.seek(4096); f.write(b'rot'); f.close()\n"
               "btrfsutil.set_subvolume_read_only(p, True)", newest)
    proc = rig.cli("verify", check=False)
    assert proc.returncode == 1, proc.stderr
    [bad] = json.loads(proc.stdout)
    assert bad["ok"] is False and bad["changed"] == ["day1.bin"], bad
    assert not list((rig.lab.paths.pool_mount("data") / ".restore-test").iterdir())

    (rig.source / "day2.bin").write_bytes(b"new")
    run = rig.run(T0 + timedelta(days=2))
    assert run.ok and max(copies) in run.hosts["@local"].unusable[
        f"{rig.folder}/{socket.gethostname().split('.')[0]}"], run
    third = rig.copies()[max(rig.copies())]
    oldest = _field(rig.show(copies[min(copies)]), "uuid")
    assert third != newest and _field(rig.show(third), "parent uuid") == oldest  # not the rot
    [again] = json.loads(rig.cli("verify").stdout)
    assert again["ok"] and again["files"] == 3, again


def test_a_send_cut_off_over_ssh_is_cleaned_up_on_the_vm(over_ssh: OverSsh) -> None:
    """A stream cut off on its way to lab-vm leaves a writable subvolume without a
    received UUID there; the next run deletes it on the VM and sends again,
    incrementally."""
    rig = over_ssh
    (rig.source / "base.bin").write_bytes(bytes(1024 * 1024))
    assert rig.run(T0).ok
    [first] = rig.copies()
    (rig.source / "big.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    target = rig.hosts[0][1]["backup"].pop("target")  # a snapshot-only run
    assert rig.run(T0 + timedelta(hours=1)).ok
    rig.hosts[0][1]["backup"]["target"] = target
    snaps = rig.lab.paths.pool_mount("data") / ".bk" / rig.name
    second = max(p.name for p in snaps.iterdir())
    host_dir = f"{rig.folder}/{socket.gethostname().split('.')[0]}"
    cut = subprocess.run(
        f"btrfs send -q -p {snaps / first} {snaps / second} | head -c {256 * 1024} | "
        f"ssh -F {rig.lab.paths.ssh_config} lab-vm btrfs receive {host_dir}",
        shell=True, capture_output=True, text=True, timeout=300)
    assert cut.returncode != 0, cut.stderr
    garbled = rig.show(f"{host_dir}/{second}")
    assert "readonly" not in garbled and re.search(r"Received UUID:\s+-", garbled), garbled

    run = rig.run(T0 + timedelta(hours=1))
    row = run.hosts["@local"].volumes[f"data/{rig.name}"]
    assert run.ok and row.garbled_cleaned == [second] and row.on_target == second
    done = rig.show(f"{host_dir}/{second}")
    assert "readonly" in done and not re.search(r"Received UUID:\s+-", done), done
    assert _field(done, "parent uuid") != "-"  # incremental again
    [ok] = json.loads(rig.cli("verify").stdout)
    assert ok["ok"] and ok["snapshot"] == second, ok


def _next_run(vm: Vm, timer: str) -> datetime:
    """When systemd will next fire ``timer`` (randomized delay included), in the VM's
    local time."""
    shown = vm.ssh("systemctl", "show", "-p", "NextElapseUSecRealtime", "--value",
                   timer).stdout.split()  # e.g. Thu 2026-12-03 02:07:11 UTC
    assert len(shown) == 4, shown
    return datetime.strptime(" ".join(shown[1:3]), "%Y-%m-%d %H:%M:%S")


def _agent(vm: Vm, *args: str) -> object:
    """The agent installed on the VM, on its own inventory, as the timers run it."""
    return json.loads(vm.ssh(vm_agent.EXE, *args, "--json", timeout=600).stdout)


def test_the_backup_timers_fire_on_the_vm(lab, vm: Vm, lab_env, tmp_path: Path) -> None:
    """The timers deploy (plain pyinfra CLI) installs and enables the three timers for
    their 02:00, Saturday 04:00 and monthly runs, a second deploy changes nothing, and
    the daily service started by systemd runs the agent there: it snapshots and sends
    the VM's subvolumes into the VM's backup pool and records it."""
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        "from pathlib import Path\nfrom homelab_ops.lab import lab_hosts\n"
        f"hosts = [h for h in lab_hosts(Path({str(lab.paths.root)!r})) if h[0] == 'lab-vm']\n")
    first = _pyinfra(str(inventory), "deploys/backup_timers.py", env=lab_env, timeout=900)
    assert "[lab-vm] Success" in first
    second = _pyinfra(str(inventory), "deploys/backup_timers.py", env=lab_env, timeout=900)
    assert "[lab-vm] Success" not in second and "[lab-vm] No changes" in second

    names = timers.timer_names()
    listed = vm.ssh("systemctl", "list-timers", "--all", "--no-legend", *names).stdout
    assert all(any(n in line for line in listed.splitlines()) for n in names), listed
    now = datetime.strptime(vm.ssh("date", "+%Y-%m-%d %H:%M").stdout.strip(), "%Y-%m-%d %H:%M")
    day = now.replace(hour=0, minute=0)
    daily = day.replace(hour=2) + timedelta(days=now >= day.replace(hour=2))
    weekly = day.replace(hour=4) + timedelta(days=(5 - day.weekday()) % 7)
    if weekly <= now:
        weekly += timedelta(days=7)
    first_of = day.replace(day=1, hour=5)
    monthly = first_of if first_of > now else (first_of + timedelta(days=32)).replace(day=1)
    jitter = {names[0]: timedelta(minutes=10), names[1]: timedelta(minutes=10),
              names[2]: timedelta(hours=1)}
    for name, expected in zip(names, (daily, weekly, monthly), strict=True):
        assert expected <= _next_run(vm, name) <= expected + jitter[name], name

    started = int(vm.ssh("date", "+%s").stdout)
    service = "homelab-ops-backup-daily.service"
    run = vm.ssh("systemctl", "start", service, check=False, timeout=1800)  # oneshot: waits
    journal = vm.ssh("journalctl", "-u", service, "--no-pager", "-n", "30", check=False).stdout
    assert run.returncode == 0, run.stderr + journal
    result = vm.ssh("systemctl", "show", "-p", "Result", "-p", "ExecMainStatus", service).stdout
    assert result.split() == ["Result=success", "ExecMainStatus=0"], result + journal

    copies = _agent(vm, "backup", "list", "-i", vm_agent.INVENTORY)
    backups = {(r["subvolume"], r["kind"]) for r in copies if r["complete"]}
    assert {("data/photos", "backup"), ("data/containers", "backup")} <= backups, copies
    assert all(r["path"].startswith(f"{guest_pool('backup')}/snapshots/")
               for r in copies if r["kind"] == "backup"), copies
    status = _agent(vm, "backup", "status")["subvolumes"]
    for sub in ("data/photos", "data/containers"):
        assert status[f"@local:{sub}"]["last_ok"]["ts"] >= started, status


def _show(vm: Vm, unit: str, *props: str) -> dict[str, str]:
    shown = vm.ssh("systemctl", "show", *(f"-p{p}" for p in props), unit).stdout
    return dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)


def _until_stopped(vm: Vm, unit: str, limit: float = 600) -> dict[str, str]:
    deadline = time.monotonic() + limit
    while True:
        state = _show(vm, unit, "ActiveState", "Result", "ExecMainStatus")
        if state["ActiveState"] in ("inactive", "failed") or time.monotonic() > deadline:
            return state
        time.sleep(1)


def test_the_cycle_unit_speaks_to_systemds_watchdog_on_the_vm(
        lab, vm: Vm, lab_env, tmp_path: Path) -> None:
    """The cycle timer deploy installs a Type=notify service with a watchdog (a second
    deploy changes nothing); systemd starting it runs the agent's cycle, which tells
    READY=1 (without it a notify service that exits fails with Result=protocol) and
    ends in success. A process that pings through loop/sdnotify.py and then wedges is
    killed by systemd's watchdog (Result=watchdog). The loop is paused while the cycle
    runs, so it decides and records but changes nothing on the VM."""
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        "from pathlib import Path\nfrom homelab_ops.lab import lab_hosts\n"
        f"hosts = [h for h in lab_hosts(Path({str(lab.paths.root)!r})) if h[0] == 'lab-vm']\n")
    first = _pyinfra(str(inventory), "deploys/cycle_timer.py", env=lab_env, timeout=900)
    assert "[lab-vm] Success" in first
    second = _pyinfra(str(inventory), "deploys/cycle_timer.py", env=lab_env, timeout=900)
    assert "[lab-vm] Success" not in second and "[lab-vm] No changes" in second

    service = "homelab-ops-cycle.service"
    assert _show(vm, service, "Type", "NotifyAccess") == {"Type": "notify",
                                                          "NotifyAccess": "main"}
    vm.ssh(vm_agent.EXE, "ops", "pause")
    try:
        started = vm.ssh("systemctl", "start", service, check=False, timeout=900)
        state = _until_stopped(vm, service)
        journal = vm.ssh("journalctl", "-u", service, "--no-pager", "-n", "30",
                         check=False).stdout
        assert started.returncode == 0, started.stderr + journal
        assert (state["Result"], state["ExecMainStatus"]) == ("success", "0"), (
            state, journal)
        # systemd reports the watchdog it armed once the service has started
        assert _show(vm, service, "WatchdogUSec")["WatchdogUSec"] == "15min"
    finally:
        vm.ssh(vm_agent.EXE, "ops", "resume", check=False)

    wedge = ("import time\nfrom homelab_ops.loop import sdnotify\n"
             "sdnotify.ready('wedge test')\n"
             "for i in range(3):\n    sdnotify.alive(f'ping {i}')\n    time.sleep(1)\n"
             "time.sleep(600)\n")
    unit = f"hlo-wedged-{uuid.uuid4().hex[:8]}"
    # systemd-run returns once READY=1 arrived (Type=notify), so it is running by then
    vm.ssh("systemd-run", f"--unit={unit}", "-p", "Type=notify", "-p", "NotifyAccess=main",
           "-p", "WatchdogSec=3s", f"{vm_agent.VENV}/bin/python", "-c", wedge, timeout=120)
    assert _show(vm, unit, "ActiveState")["ActiveState"] == "active"
    state = _until_stopped(vm, unit, limit=120)
    vm.ssh("systemctl", "reset-failed", unit, check=False)
    assert state["Result"] == "watchdog", state
