"""Backups on real loop-mounted BTRFS (the session lab): incremental chains, a transfer
cut off for real, restore tests that catch corruption, space-forecast rotation, SSH
targets, and deploys that change nothing the second time."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import socket
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import btrfsutil
import pytest
from pydantic import MISSING

from homelab_ops.backup import local
from homelab_ops.backup.restore import manifest, restore_test
from homelab_ops.backup.runner import run_backup
from homelab_ops.collection.lib.layout import host_layouts
from homelab_ops.lab import lab_hosts
from homelab_ops.store import Store
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.lab

T0 = datetime(2026, 3, 2, 2, 0)
HOST_DIR = socket.gethostname().split(".")[0]  # @local's folder under a path target


class Vol:
    """A fresh subvolume in the lab's data pool with its own snapshot and backup
    directories, so tests never see each other's snapshots."""

    def __init__(self, lab, name: str) -> None:
        self.lab, self.name = lab, name
        self.data = lab.paths.pool_mount("data")
        self.backup_pool = lab.paths.pool_mount("backup")
        self.path = self.data / name
        self.snapshots = self.data / ".bk" / name
        self.target = self.backup_pool / "bk" / name

    def config(self, target: dict | bool | None = True, **volume) -> dict:
        cfg: dict = {"volumes": [{"subvolume": self.name, "snapshot_dir": f".bk/{self.name}",
                                  **volume}]}
        if target is True:
            cfg["target"] = {"pool": "backup", "dir": f"bk/{self.name}"}
        elif target:
            cfg["target"] = target
        return cfg

    def hosts(self, config: dict, host: str = "@local") -> list[tuple[str, dict]]:
        data = dict(lab_hosts(self.lab.paths.root))[host]
        return [(host, {**data, "backup": config})]

    def inventory_file(self, path: Path, config: dict | None = None) -> Path:
        """A pyinfra inventory file of @local backing this volume up (``config``, else
        the default one), for the CLI."""
        path.write_text(
            "from pathlib import Path\nfrom homelab_ops.lab import lab_hosts\n"
            f"data = dict(lab_hosts(Path({str(self.lab.paths.root)!r})))['@local']\n"
            f"data['backup'] = {json.dumps(config or self.config())}\n"
            "hosts = [('@local', data)]\n")
        return path

    def write(self, rel: str, size: int) -> None:
        (self.path / rel).write_bytes(os.urandom(size))

    def cleanup(self) -> None:
        scratch = self.target.parent / ".restore-test"
        for directory in (self.snapshots, self.target, self.target / HOST_DIR, scratch,
                          *scratch.glob("run-*")):
            for sub in local.subvolumes(directory):
                subprocess.run(["btrfs", "subvolume", "delete", str(directory / sub)],
                               check=True, capture_output=True)
        if self.path.exists():
            btrfsutil.delete_subvolume(str(self.path))


@pytest.fixture
def vol(lab, request):
    name = "bk-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[5:40].strip("-")
    v = Vol(lab, name)
    btrfsutil.create_subvolume(str(v.path))
    v.target.parent.mkdir(parents=True, exist_ok=True)  # a target folder is made only
    try:                                                 # as its last path component
        yield v
    finally:
        v.cleanup()


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "state.db") as s:
        yield s


def test_incremental_chain_of_four_sends(vol: Vol, store: Store) -> None:
    hosts = vol.hosts(vol.config())
    for i in range(4):
        vol.write(f"day{i}.bin", 512 * 1024)
        vol.write("changing.bin", 64 * 1024)
        report = run_backup(hosts, store, now=T0 + timedelta(days=i))
        assert report.ok, report
    copies = local.subvolumes(vol.target)
    chain = sorted(copies)
    assert chain == [f"{vol.name}.2026030{d}T0200" for d in (2, 3, 4, 5)]
    assert copies[chain[0]]["parent_uuid"] is None  # the first send is full
    for prev, cur in itertools.pairwise(chain):  # each later one is incremental
        assert copies[cur]["parent_uuid"] == copies[prev]["uuid"]
        assert copies[cur]["readonly"] and copies[cur]["received_uuid"]
    assert manifest(vol.target / chain[-1]) == manifest(vol.snapshots / chain[-1])
    rows = store.backups(action="backup")
    assert [r["detail"]["on_target"] for r in reversed(rows)] == chain
    assert all(r["ok"] for r in rows)


def test_cut_off_send_is_detected_cleaned_and_completed(vol: Vol, store: Store) -> None:
    vol.write("base.bin", 1024 * 1024)
    assert run_backup(vol.hosts(vol.config()), store, now=T0).ok
    vol.write("big.bin", 8 * 1024 * 1024)
    # a snapshot-only run, then its transfer dies after 256 KiB of the stream
    assert run_backup(vol.hosts(vol.config(target=None)), store, now=T0 + timedelta(hours=1)).ok
    first, second = f"{vol.name}.20260302T0200", f"{vol.name}.20260302T0300"
    send = subprocess.Popen(["btrfs", "send", "-q", "-p", str(vol.snapshots / first),
                             str(vol.snapshots / second)], stdout=subprocess.PIPE)
    head = subprocess.Popen(["head", "-c", str(256 * 1024)], stdin=send.stdout,
                            stdout=subprocess.PIPE)
    assert send.stdout is not None
    send.stdout.close()
    receive = subprocess.run(["btrfs", "receive", str(vol.target)], stdin=head.stdout,
                             capture_output=True)
    head.wait()
    send.wait()
    assert receive.returncode != 0
    garbled = local.subvolume(vol.target / second)
    assert garbled is not None and garbled["received_uuid"] is None
    assert not garbled["readonly"]

    # `backup list` flags it; the next run deletes it and sends the snapshot again
    report = run_backup(vol.hosts(vol.config()), store, now=T0 + timedelta(hours=1))
    row = report.hosts["@local"].volumes[f"data/{vol.name}"]
    assert report.ok and row.garbled_cleaned == [second]
    assert row.on_target == second
    copies = local.subvolumes(vol.target)
    assert copies[second]["readonly"] and copies[second]["received_uuid"]
    assert copies[second]["parent_uuid"] == copies[first]["uuid"]  # incremental again
    assert manifest(vol.target / second) == manifest(vol.snapshots / second)


def test_restore_test_catches_a_corrupted_file(vol: Vol, lab_env, tmp_path: Path) -> None:
    vol.write("photo.jpg", 300 * 1024)
    (vol.path / "album").mkdir()
    vol.write("album/cat.jpg", 100 * 1024)
    (vol.path / "album" / "latest").symlink_to("cat.jpg")
    inventory = vol.inventory_file(tmp_path / "inventory.py")
    run = json.loads(run_cli("backup", "run", "-i", str(inventory), "--json",
                             env=lab_env).stdout)
    assert run["ok"]
    listed = json.loads(run_cli("backup", "list", "-i", str(inventory), "--json",
                                env=lab_env).stdout)
    assert {r["kind"] for r in listed} == {"snapshot", "backup"}
    plan = json.loads(run_cli("backup", "prune", "--dry-run", "-i", str(inventory), "--json",
                              env=lab_env).stdout)
    assert plan and all(p["keep"] and p["reason"] == "newest snapshot" for p in plan)

    ok = json.loads(run_cli("backup", "verify", "-i", str(inventory), "--json",
                            env=lab_env).stdout)
    assert [r["ok"] for r in ok] == [True] and ok[0]["files"] == 2

    # bit rot on the backup disk: one file of the backup copy changes
    copy = vol.target / local.subvolumes(vol.target).popitem()[0]
    btrfsutil.set_subvolume_read_only(str(copy), False)
    with (copy / "album" / "cat.jpg").open("r+b") as fh:
        fh.seek(4096)
        fh.write(b"\x00corrupt\x00")
    btrfsutil.set_subvolume_read_only(str(copy), True)

    proc = run_cli("backup", "verify", "-i", str(inventory), "--json", env=lab_env,
                   check=False)
    assert proc.returncode == 1
    bad = json.loads(proc.stdout)[0]
    assert bad["ok"] is False and bad["changed"] == ["album/cat.jpg"]
    assert bad["missing"] == [] and bad["extra"] == []
    human = run_cli("backup", "verify", "-i", str(inventory), env=lab_env, check=False)
    assert "FAILED" in human.stdout and "album/cat.jpg" in human.stdout
    status = json.loads(run_cli("backup", "status", "--json", env=lab_env).stdout)
    assert status["restore_tests"][f"@local:data/{vol.name}"]["ok"] is False
    assert f"@local:data/{vol.name}" in status["subvolumes"]
    assert not list((vol.target.parent / ".restore-test").iterdir())  # scratch removed


def test_space_forecast_prunes_target_early_then_alerts(vol: Vol, store: Store) -> None:
    # min_keep "latest" on purpose (the default keeps 14 days): rotation itself is tested
    hosts = vol.hosts(vol.config(target_retention={"preserve": "14d 8w 6m *y",
                                                   "min_keep": "latest"}))
    for i in range(4):
        vol.write("data.bin", 64 * 1024)
        assert run_backup(hosts, store, now=T0 + timedelta(days=i)).ok
    assert len(local.subvolumes(vol.target)) == 4  # daily retention keeps them all
    # the predictor's contract: a cache entry per host and mount point
    store.cache_put(f"prediction:disk:@local:{vol.backup_pool}",
                    {"days_until_threshold": 3.5, "low": 2.0, "high": 6.0,
                     "basis": "linear trend since last cleanup"}, ttl=3600, scope="predictions")
    vol.write("data.bin", 64 * 1024)
    report = run_backup(hosts, store, now=T0 + timedelta(days=4))
    out = report.hosts["@local"]
    assert out.rotation.early and "2.0 days" in out.rotation.reason
    row = out.volumes[f"data/{vol.name}"]
    assert len(row.pruned_target) == 4 and row.alert is MISSING
    assert sorted(local.subvolumes(vol.target)) == [f"{vol.name}.20260306T0200"]
    # already at the minimum: rotating early cannot help any more -> alert
    vol.write("data.bin", 64 * 1024)
    again = run_backup(hosts, store, now=T0 + timedelta(days=5))
    assert "will fill even at the minimum-keep window" in (
        again.hosts["@local"].volumes[f"data/{vol.name}"].alert)
    # both are events a person sees in "recent events", with the reason
    kinds = [e.kind for e in store.events(subject=f"backup:data/{vol.name}")]
    assert kinds.count("backup_early_rotation") == 2 and kinds.count("backup_alert") == 1


def test_send_to_a_target_over_ssh(vol: Vol, store: Store) -> None:
    """A path target is shared by hosts: each host's copies go to <path>/<dir>/<host>
    (@local: the machine's host name)."""
    target = {"path": str(vol.backup_pool), "dir": f"bk/{vol.name}", "ssh": "lab-ssh",
              "ssh_config": str(vol.lab.paths.ssh_config)}
    vol.target.mkdir()
    hosts = vol.hosts(vol.config(target=target))
    for i in range(3):
        vol.write(f"f{i}.bin", 256 * 1024)
        report = run_backup(hosts, store, now=T0 + timedelta(days=i))
        assert report.ok, report
    assert local.subvolumes(vol.target) == {}
    copies = local.subvolumes(vol.target / HOST_DIR)
    chain = sorted(copies)
    assert len(chain) == 3
    assert copies[chain[2]]["parent_uuid"] == copies[chain[1]]["uuid"]


def test_tagged_snapshots_are_local_only(vol: Vol, store: Store) -> None:
    vol.write("a.bin", 1024)
    report = run_backup(vol.hosts(vol.config()), store, now=T0, tag="pre-action")
    assert report.ok
    assert sorted(local.subvolumes(vol.snapshots)) == [f"{vol.name}.20260302T020000_pre-action"]
    assert local.subvolumes(vol.target) == {}
    row = store.backups()[0]
    assert (row["action"], row["ok"]) == ("snapshot", True)  # not counted as a backup
    assert row["detail"]["snapshot"] == f"{vol.name}.20260302T020000_pre-action"


def _pyinfra(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    """The pyinfra CLI; -y (no prompt) except for --dry, which then shows its changes."""
    exe = Path(sys.executable).with_name("pyinfra")
    yes = [] if "--dry" in args else ["-y"]
    proc = subprocess.run([str(exe), *yes, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_deploys_over_ssh_change_nothing_the_second_time(vol: Vol, lab_env,
                                                         tmp_path: Path) -> None:
    """The plain pyinfra CLI, against the SSH host: --dry changes nothing, the first run
    backs up, the second run changes nothing; the same for the timers deploy."""
    units = tmp_path / "units"
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        "from pathlib import Path\nfrom homelab_ops.lab import lab_hosts\n"
        f"data = dict(lab_hosts(Path({str(vol.lab.paths.root)!r})))['lab-ssh']\n"
        f"data['backup'] = {json.dumps(vol.config())}\n"
        f"data['systemd_unit_dir'] = {str(units)!r}\n"
        f"data['homelab_ops_exe'] = {str(Path(sys.executable).with_name('homelab-ops'))!r}\n"
        "hosts = [('lab-ssh', data)]\n")
    vol.write("a.bin", 128 * 1024)
    dry = _pyinfra(str(inventory), "deploys/backup.py", "--dry", env=lab_env)
    assert not local.subvolumes(vol.snapshots)  # --dry changed nothing
    # ...and its preview shows the send the run will make of the snapshot it will take
    changes = {line.split(" | ")[1].split()[0]: "1 (lab-ssh)" in line
               for line in dry.splitlines() if "BTRFS backup | " in line}
    assert changes == {"Snapshot": True, "Send": True, "Prune": False}
    first = _pyinfra(str(inventory), "deploys/backup.py", env=lab_env)
    assert "[lab-ssh] Success" in first
    assert len(local.subvolumes(vol.target)) == 1
    second = _pyinfra(str(inventory), "deploys/backup.py", env=lab_env)
    assert "[lab-ssh] Success" not in second and "[lab-ssh] No changes" in second

    first = _pyinfra(str(inventory), "deploys/backup_timers.py", env=lab_env)
    assert "[lab-ssh] Success" in first
    second = _pyinfra(str(inventory), "deploys/backup_timers.py", env=lab_env)
    assert "[lab-ssh] Success" not in second
    files = sorted(str(p) for p in units.iterdir())
    assert len(files) == 6
    verify = subprocess.run(["systemd-analyze", "verify", *files], capture_output=True,
                            text=True)
    assert verify.returncode == 0, verify.stderr


def test_unreachable_target_fails_clearly_and_prunes_nothing(vol: Vol, store: Store) -> None:
    vol.write("a.bin", 1024)
    target = {"path": "/srv/backup", "ssh": "nohost.invalid"}
    report = run_backup(vol.hosts(vol.config(target=target)), store, now=T0)
    out = report.hosts["@local"]
    assert not report.ok and not out.ok
    ops = {op.name.split(" | ")[1].split()[0]: op for op in out.ops}
    assert ops["Snapshot"].ok  # the local snapshot is still taken
    assert "cannot reach nohost.invalid" in ops["Send"].error
    assert not ops["Prune"].ok  # never prune without knowing the incremental parent
    assert sorted(local.subvolumes(vol.snapshots)) == [f"{vol.name}.20260302T0200"]
    assert store.backups(action="backup")[0]["ok"] is False
    assert store.events(kinds=["backup_failed"])[0].subject == f"backup:data/{vol.name}"


def test_prune_only_keeps_newest_and_incremental_parent(vol: Vol, store: Store) -> None:
    lean = {"preserve": "", "min_keep": "no"}
    hosts = vol.hosts(vol.config(snapshot_retention={"preserve": "*d", "min_keep": "all"},
                                 target_retention=lean))
    for i in range(3):
        vol.write("x.bin", 4096)
        assert run_backup(hosts, store, now=T0 + timedelta(days=i)).ok
    vol.write("x.bin", 4096)  # a newer local snapshot that is not sent yet
    assert run_backup(vol.hosts(vol.config(target=None)), store,
                      now=T0 + timedelta(days=3)).ok
    hosts = vol.hosts(vol.config(snapshot_retention=lean, target_retention=lean))
    report = run_backup(hosts, store, now=T0 + timedelta(days=10), prune_only=True)
    assert report.ok
    parent, newest = f"{vol.name}.20260304T0200", f"{vol.name}.20260305T0200"
    assert sorted(local.subvolumes(vol.snapshots)) == [parent, newest]
    assert sorted(local.subvolumes(vol.target)) == [parent]
    assert store.backups()[0]["action"] == "prune"


def test_restore_test_deletes_only_what_it_restored(vol: Vol, store: Store) -> None:
    """The restore test receives into a fresh folder of its own: a subvolume that
    happens to sit in the scratch folder under the snapshot's name, and the backups
    themselves when scratch is misconfigured onto the target, are never deleted."""
    vol.write("photo.jpg", 64 * 1024)
    hosts = vol.hosts(vol.config())
    assert run_backup(hosts, store, now=T0).ok
    name = f"{vol.name}.20260302T0200"
    _, (layout,) = host_layouts(*hosts[0])
    scratch = Path(layout.scratch)
    scratch.mkdir(exist_ok=True)
    bystander = scratch / name
    btrfsutil.create_subvolume(str(bystander))
    try:
        result = restore_test(layout)
        assert result["ok"], result
        assert local.subvolume(bystander) is not None
        assert sorted(p.name for p in scratch.iterdir()) == [name]  # its own folder gone
    finally:
        btrfsutil.delete_subvolume(str(bystander))
    # scratch == the target folder (volume_layouts() refuses it; the run time check too)
    wrong = dataclasses.replace(layout, scratch=str(vol.target))
    assert "overlaps" in restore_test(wrong)["error"]
    assert sorted(local.subvolumes(vol.target)) == [name]


def test_a_backup_made_writable_is_not_deleted_as_garbled(vol: Vol, store: Store) -> None:
    vol.write("a.bin", 4096)
    hosts = vol.hosts(vol.config())
    assert run_backup(hosts, store, now=T0).ok
    first = f"{vol.name}.20260302T0200"
    btrfsutil.set_subvolume_read_only(str(vol.target / first), False)  # a user did this
    vol.write("b.bin", 4096)
    report = run_backup(hosts, store, now=T0 + timedelta(days=1))
    assert report.ok, report
    row = report.hosts["@local"].volumes[f"data/{vol.name}"]
    assert row.garbled_cleaned == []
    assert store.backups(action="backup")[0]["detail"]["schedule"] == "daily"  # for status
    assert sorted(local.subvolumes(vol.target)) == [first, f"{vol.name}.20260303T0200"]


def test_unplugged_backup_disk_is_unreachable_not_empty(vol: Vol, store: Store) -> None:
    """The backup pool's mount point without its disk: no send lands on the filesystem
    underneath, and the source prune keeps the incremental parent."""
    lean = {"preserve": "", "min_keep": "no"}
    hosts = vol.hosts(vol.config(snapshot_retention=lean))
    vol.write("a.bin", 4096)
    assert run_backup(hosts, store, now=T0).ok
    parent = f"{vol.name}.20260302T0200"
    unplugged = vol.data / f"{vol.name}-unplugged"  # an empty directory, nothing mounted
    (unplugged / "bk").mkdir(parents=True)
    try:
        name, data = hosts[0]
        moved = [(name, {**data, "btrfs_pools": {**data["btrfs_pools"],
                                                 "backup": str(unplugged)}})]
        vol.write("b.bin", 4096)
        report = run_backup(moved, store, now=T0 + timedelta(days=1))
        assert not report.ok
        ops = {op.name.split(" | ")[1].split()[0]: op
               for op in report.hosts["@local"].ops}
        assert "not mounted" in ops["Send"].error
        assert list((unplugged / "bk").iterdir()) == []  # nothing sent or created there
        assert parent in local.subvolumes(vol.snapshots)  # the parent is kept
    finally:
        for sub in local.subvolumes(unplugged / "bk" / vol.name):
            btrfsutil.delete_subvolume(str(unplugged / "bk" / vol.name / sub))
        subprocess.run(["rm", "-rf", str(unplugged)], check=True)


def test_ssh_target_folder_ending_in_a_plain_folder_is_reachable(vol: Vol,
                                                                  store: Store) -> None:
    target = {"path": str(vol.backup_pool), "dir": f"bk/{vol.name}", "ssh": "lab-ssh",
              "ssh_config": str(vol.lab.paths.ssh_config)}
    for where in (vol.target, vol.target / HOST_DIR):  # sorts after the copies
        (where / "zz-notes").mkdir(parents=True)
    hosts = vol.hosts(vol.config(target=target))
    for i in range(2):
        vol.write(f"f{i}.bin", 4096)
        report = run_backup(hosts, store, now=T0 + timedelta(days=i))
        assert report.ok, report
    assert len(local.subvolumes(vol.target / HOST_DIR)) == 2


def test_verify_never_passes_silently_on_an_older_copy(vol: Vol, store: Store, lab_env,
                                                       tmp_path: Path) -> None:
    """Issue 10 item 3: the newest copy made writable (``btrfs property set -f ro
    false`` clears its received UUID) is not skipped in silence: the restore test names
    it, says which copy it tested instead, and fails."""
    hosts = vol.hosts(vol.config())
    for i in range(2):
        vol.write(f"day{i}.bin", 64 * 1024)
        assert run_backup(hosts, store, now=T0 + timedelta(days=i)).ok
    older, newest = sorted(local.subvolumes(vol.target))
    subprocess.run(["btrfs", "property", "set", "-f", str(vol.target / newest), "ro",
                    "false"], check=True, capture_output=True)
    _, [layout] = host_layouts("@local", hosts[0][1])
    result = restore_test(layout)
    assert result["ok"] is False and result["snapshot"] == older
    assert result["skipped"] == newest
    assert newest in result["error"] and f"tested the older {older}" in result["error"]
    # item 5: read-only again but without its received UUID: listed as kept, and kept
    subprocess.run(["btrfs", "property", "set", "-f", str(vol.target / newest), "ro",
                    "true"], check=True, capture_output=True)
    from homelab_ops.collection.lib import transfer  # the rule the next run's clean-up applies
    assert newest not in transfer.garbled(local.subvolumes(vol.target), vol.name)
    inventory = vol.inventory_file(tmp_path / "inventory.py")
    listed = run_cli("backup", "list", "-i", str(inventory), env=lab_env).stdout
    [line] = [ln for ln in listed.splitlines() if newest in ln and " backup " in ln]
    assert "kept, it may be yours" in line and "deleted" not in line


def test_a_failing_receive_is_reported_with_its_own_message(vol: Vol, store: Store,
                                                             tmp_path: Path) -> None:
    """Issue 10 item 4: when receive fails (here: into a folder that is not BTRFS; a
    full pool fails the same way), send dies of a broken pipe with nothing to say: the
    error is receive's own message, never an empty 'btrfs send failed: '."""
    from homelab_ops.backup.restore import _send_receive

    vol.write("a.bin", 64 * 1024)
    assert run_backup(vol.hosts(vol.config()), store, now=T0).ok
    [copy] = local.subvolumes(vol.target)
    error = _send_receive(["btrfs", "send", "-q", str(vol.target / copy)],
                          tmp_path)  # tmp_path lies on ext4
    assert error and error.startswith("btrfs receive failed: ")
    assert error != "btrfs receive failed: " and "no message" not in error


def test_a_failed_run_says_it_failed_first(vol: Vol, lab_env, tmp_path: Path) -> None:
    """Issue 10 item 6: the summary's first line is the failure (the failing side's own
    message), never the space forecast read before the run."""
    vol.write("a.bin", 64 * 1024)
    config = vol.config(target={"pool": "backup", "dir": f"bk/no-such-parent/{vol.name}"})
    inventory = vol.inventory_file(tmp_path / "inventory.py", config)
    proc = run_cli("backup", "run", "-i", str(inventory), env=lab_env, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    first, second = proc.stdout.splitlines()[:2]
    assert first.startswith("@local: FAILED: ") and len(first) > len("@local: FAILED: x")
    assert "threshold" not in first and "forecast" not in first
    assert second.startswith("  space forecast before this run: ")


def test_a_copy_changed_after_its_receive_is_never_a_parent(vol: Vol, lab_env,
                                                            tmp_path: Path) -> None:
    """Issue 10 item 1: a copy made writable, changed by one byte and set read-only
    again keeps its received UUID; the next run must not inherit the damage. It sends
    in full (no other good parent), says which copy it did not use and why, records
    it, the health score hears of it, and the restore test passes on the new copy."""
    from homelab_ops.backup.status import backup_status
    from homelab_ops.health import backup_findings

    hosts = vol.hosts(vol.config())
    vol.write("photo.jpg", 256 * 1024)
    with Store.open(Path(lab_env["HOMELAB_OPS_STATE_DIR"])) as store:  # the CLI's store
        assert run_backup(hosts, store, now=datetime.now() - timedelta(hours=1)).ok
    [damaged] = local.subvolumes(vol.target)
    _flip_a_byte(vol.target / damaged, "photo.jpg")
    vol.write("new.jpg", 64 * 1024)

    inventory = vol.inventory_file(tmp_path / "inventory.py")
    _refused_then_sent_in_full(inventory, lab_env, damaged, vol.target)

    with Store.open(Path(lab_env["HOMELAB_OPS_STATE_DIR"])) as store:
        status = backup_status(store, datetime.now().timestamp())
        [row] = [r for r in store.backups(action="backup", limit=5)
                 if r["subvolume"] == f"data/{vol.name}"][:1]
    assert damaged in row["detail"]["unusable"]
    assert any(f.code == "backup_copy_unusable" and damaged in f.subject
               for f in backup_findings(status, "@local"))
    again = run_cli("backup", "run", "-i", str(inventory), env=lab_env).stdout
    assert damaged in again  # still said while the damaged copy is there


def test_newest_copy_without_its_received_uuid_never_blocks_every_run(vol: Vol,
                                                                      store: Store) -> None:
    """Issue 10 item 1 (related): the newest copy read-only again without its received
    UUID (``btrfs property set -f ro false``, then ``ro true``) took the newest
    snapshot's name on the target, and every run failed with "File exists" re-sending
    it. Within the same minute the run fails saying why; a later run takes a new
    snapshot although nothing changed and sends it; the copy is kept."""
    hosts = vol.hosts(vol.config())
    vol.write("a.bin", 64 * 1024)
    assert run_backup(hosts, store, now=T0).ok
    [copy] = local.subvolumes(vol.target)
    for ro in ("false", "true"):
        subprocess.run(["btrfs", "property", "set", "-f", str(vol.target / copy), "ro", ro],
                       check=True, capture_output=True)
    same_minute = run_backup(hosts, store, now=T0)
    [send] = [op for op in same_minute.hosts["@local"].ops if "Send" in op.name]
    assert not same_minute.ok and "File exists" not in send.error
    assert "without a received UUID" in send.error and "new snapshot" in send.error
    for hours in (1, 2):  # nothing changed in the subvolume
        report = run_backup(hosts, store, now=T0 + timedelta(hours=hours))
        assert report.ok, report
    row = report.hosts["@local"].volumes[f"data/{vol.name}"]
    fresh = f"{vol.name}.20260302T0300"
    assert row.on_target == fresh and "without a received UUID" in row.unusable[copy]
    copies = local.subvolumes(vol.target)
    assert sorted(copies) == [copy, fresh] and copies[fresh]["received_uuid"]


def _ssh_target(vol: Vol, python: str) -> dict:
    """A path target on the lab's sshd (this machine's BTRFS backup pool) whose
    ctransids are read by ``python`` there."""
    vol.target.mkdir(exist_ok=True)
    return {"path": str(vol.backup_pool), "dir": f"bk/{vol.name}", "ssh": "lab-ssh",
            "ssh_config": str(vol.lab.paths.ssh_config), "python": python}


def _flip_a_byte(copy: Path, rel: str) -> None:
    """What a careless user does to a received copy: writable, one byte, read-only."""
    btrfsutil.set_subvolume_read_only(str(copy), False)
    with (copy / rel).open("r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    btrfsutil.set_subvolume_read_only(str(copy), True)
    assert local.subvolume(copy)["received_uuid"]  # still looks like a finished copy


def _refused_then_sent_in_full(inventory: Path, env, damaged: str, folder: Path) -> str:
    """``backup run`` says in one line it did not use the changed copy, sends in full,
    and the restore test passes on the new copy; the run's output."""
    run = run_cli("backup", "run", "-i", str(inventory), env=env).stdout
    [line] = [ln for ln in run.splitlines() if "did not use" in ln]
    assert damaged in line and "changed after it was received" in line
    copies = local.subvolumes(folder)
    newest = max(copies)
    assert newest != damaged and copies[newest]["parent_uuid"] is None  # a full send
    assert f"on target {newest} (sent in full)" in run
    verify = json.loads(run_cli("backup", "verify", "-i", str(inventory), "--json",
                                env=env).stdout)
    assert [(r["ok"], r["snapshot"]) for r in verify] == [(True, newest)]
    return run


def test_a_copy_changed_on_an_ssh_target_is_never_a_parent(vol: Vol, lab_env,
                                                           tmp_path: Path) -> None:
    """Issue 10 item 1 over SSH: the copy's ctransid is read on the target (btrfsutil
    run by the target's python, here this venv's, which has it) and judged by the same
    rule as a local target's: the run refuses the changed copy in one line, sends in
    full, and the restore test (across the wire) passes on the new copy."""
    config = vol.config(target=_ssh_target(vol, sys.executable))
    inventory = vol.inventory_file(tmp_path / "inventory.py", config)
    vol.write("photo.jpg", 256 * 1024)
    with Store.open(Path(lab_env["HOMELAB_OPS_STATE_DIR"])) as store:  # the CLI's store
        hosts = vol.hosts(config)
        assert run_backup(hosts, store, now=datetime.now() - timedelta(hours=1)).ok
    folder = vol.target / HOST_DIR
    [damaged] = local.subvolumes(folder)
    _flip_a_byte(folder / damaged, "photo.jpg")
    vol.write("new.jpg", 64 * 1024)

    run = _refused_then_sent_in_full(inventory, lab_env, damaged, folder)
    assert "WARNING" not in run
    with Store.open(Path(lab_env["HOMELAB_OPS_STATE_DIR"])) as store:
        [row] = [r for r in store.backups(action="backup", limit=5)
                 if r["subvolume"] == f"data/{vol.name}"][:1]
    assert damaged in row["detail"]["unusable"] and "unchecked" not in row["detail"]


def test_an_ssh_target_without_btrfsutil_says_so_in_one_line(vol: Vol, lab_env,
                                                             tmp_path: Path) -> None:
    """Caused for real: the target's interpreter is this venv's python run with ``-S``
    (no site-packages, so no btrfsutil). The run still backs up by today's rule, says
    once that changed copies cannot be told there, records it, and never a traceback."""
    python = tmp_path / "python-without-btrfsutil"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    python.chmod(0o755)
    config = vol.config(target=_ssh_target(vol, str(python)))
    inventory = vol.inventory_file(tmp_path / "inventory.py", config)
    vol.write("photo.jpg", 64 * 1024)
    proc = run_cli("backup", "run", "-i", str(inventory), env=lab_env, check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stdout + proc.stderr, proc
    [line] = [ln for ln in proc.stdout.splitlines() if "WARNING" in ln]
    assert f"lab-ssh:{vol.target / HOST_DIR}: cannot tell whether a copy changed" in line
    assert "has no btrfsutil module (install python3-btrfsutil)" in line
    assert len(local.subvolumes(vol.target / HOST_DIR)) == 1  # backed up all the same
    with Store.open(Path(lab_env["HOMELAB_OPS_STATE_DIR"])) as store:
        [row] = [r for r in store.backups(action="backup", limit=5)
                 if r["subvolume"] == f"data/{vol.name}"][:1]
    assert row["ok"] and "has no btrfsutil module" in row["detail"]["unchecked"]
