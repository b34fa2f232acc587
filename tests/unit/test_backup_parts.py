"""Pure parts of the backup component: transfer decisions, the fact parser, space
forecast rotation, backup status from a real store, the run lock and timer units."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from homelab_ops.backup import rotation
from homelab_ops.backup.lock import BackupBusy, backup_lock
from homelab_ops.backup.status import backup_status
from homelab_ops.collection.facts.btrfs import (
    NO_CTRANSID,
    UNREACHABLE,
    BtrfsCtransids,
    BtrfsSubvolumes,
)
from homelab_ops.collection.lib import timers, transfer
from homelab_ops.models.backup_status import LastAttempt, LastOk
from homelab_ops.store import Store


def sub(uuid: str, received: str | None = None, readonly: bool = True) -> dict:
    return {"uuid": uuid, "received_uuid": received, "readonly": readonly}


SOURCE = {f"photos.2026112{i}T0200": sub(f"u{i}") for i in range(1, 5)}


# -- transfer decisions ---------------------------------------------------------------
def test_first_send_is_full() -> None:
    plan = transfer.plan_send(SOURCE, {}, "photos")
    assert plan == transfer.SendPlan((), "photos.20261124T0200", None)


def test_parent_is_newest_snapshot_on_both_sides() -> None:
    target = {"photos.20261121T0200": sub("t1", "u1"), "photos.20261122T0200": sub("t2", "u2")}
    plan = transfer.plan_send(SOURCE, target, "photos")
    assert (plan.send, plan.parent) == ("photos.20261124T0200", "photos.20261122T0200")


def test_a_same_named_copy_of_another_snapshot_is_no_parent() -> None:
    target = {"photos.20261122T0200": sub("t2", "someone-else")}
    assert transfer.plan_send(SOURCE, target, "photos").parent is None


def test_cut_off_receive_is_garbled_and_sent_again() -> None:
    target = {"photos.20261123T0200": sub("t3", "u3"),
              "photos.20261124T0200": sub("t4", None, readonly=False)}
    plan = transfer.plan_send(SOURCE, target, "photos")
    assert plan.garbled == ("photos.20261124T0200",)
    assert (plan.send, plan.parent) == ("photos.20261124T0200", "photos.20261123T0200")


def test_nothing_to_send_when_newest_is_there() -> None:
    target = {"photos.20261124T0200": sub("t4", "u4"), "photos.20261101T0200": sub("x", "old")}
    assert transfer.plan_send(SOURCE, target, "photos") == transfer.SendPlan((), None, None)


def test_an_unusable_copy_is_never_a_parent_an_older_good_one_is() -> None:
    """Issue 10 item 1: a copy changed after its receive (or failed its restore test)
    is skipped; the newest good common snapshot is the parent, else a full send."""
    target = {"photos.20261121T0200": sub("t1", "u1"), "photos.20261122T0200": sub("t2", "u2")}
    marked = transfer.mark(target, {"photos.20261122T0200": "changed after it was received"})
    plan = transfer.plan_send(SOURCE, marked, "photos")
    assert (plan.send, plan.parent) == ("photos.20261124T0200", "photos.20261121T0200")
    every = transfer.mark(target, dict.fromkeys(target, "its last restore test failed"))
    assert transfer.plan_send(SOURCE, every, "photos").parent is None
    assert transfer.newest_common(SOURCE, marked, "photos") == "photos.20261121T0200"
    assert transfer.damage(marked["photos.20261122T0200"]) == "changed after it was received"
    assert transfer.damage(target["photos.20261122T0200"]) is None


def test_newest_name_taken_by_an_unusable_copy_blocks_its_send() -> None:
    """A read-only copy without its received UUID under the newest snapshot's name
    cannot be received over ("File exists"): the plan says why instead of trying."""
    target = {"photos.20261123T0200": sub("t3", "u3"), "photos.20261124T0200": sub("t4")}
    plan = transfer.plan_send(SOURCE, target, "photos")
    assert plan.send is None and "photos.20261124T0200" in (plan.blocked or "")
    assert "without a received UUID" in (plan.blocked or "")
    assert transfer.blocked(SOURCE, target, "photos.20261123T0200") is None


def test_unchanged_subvolume_is_snapshotted_when_its_newest_name_is_blocked() -> None:
    from homelab_ops.collection.lib import naming
    from homelab_ops.collection.operations.btrfs import skip_reason

    existing = {"photos.20261124T0200": {**sub("u4"), "gen_at_creation": 9}}
    source, snap = {"generation": 9}, naming.parse("photos.20261124T0300")
    assert snap is not None
    assert skip_reason(existing, source, snap, True) == "unchanged since photos.20261124T0200"
    good = {"photos.20261124T0200": sub("t4", "u4")}
    assert skip_reason(existing, source, snap, True, good) is not None
    assert skip_reason(existing, source, snap, True, {"photos.20261124T0200": sub("t4")}) \
        is None
    damaged = transfer.mark(good, {"photos.20261124T0200": "changed after it was received"})
    assert skip_reason(existing, source, snap, True, damaged) is None


def test_a_restore_test_that_only_skipped_a_newer_copy_does_not_fail_the_tested_one() -> None:
    from homelab_ops.backup.restore import copy_failed

    assert not copy_failed({"ok": True})
    assert copy_failed({"ok": False, "error": "btrfs receive failed: No space left"})
    assert copy_failed({"ok": False, "differences": {"changed": 1}})
    assert not copy_failed({"ok": False, "skipped": "x", "differences": {"changed": 0}})
    assert copy_failed({"ok": False, "skipped": "x", "differences": {"changed": 2}})


def test_received_copies_keep_their_first_record(tmp_path: Path) -> None:
    with Store(tmp_path / "state.db") as store:
        store.record_received("@local", "/b", {"p.20261124T0200": ("u1", 10)}, 1.0)
        store.record_received("@local", "/b", {"p.20261124T0200": ("u1", 15),
                                               "p.20261125T0200": ("u2", 20)}, 2.0)
        got = store.received_copies("@local", "/b")
        assert got["p.20261124T0200"]["ctransid"] == 10  # a later look never overwrites
        store.record_received("@local", "/b", {"p.20261124T0200": ("u9", 30)}, 3.0)
        got = store.received_copies("@local", "/b")
        assert got == {"p.20261124T0200": {"uuid": "u9", "ctransid": 30, "ts": 3.0}}


def test_fact_parses_btrfs_subvolume_show() -> None:
    show = """== photos.20261125T1428
snapshots/photos.20261125T1428
\tName: \t\t\tphotos.20261125T1428
\tUUID: \t\t\tbedaffc9-c299-9646-a16b-ea167bab8967
\tParent UUID: \t\t4c80109d-52f0-d548-b2d3-ed23fa4fe4f5
\tReceived UUID: \t\t25f6a55f-e012-7d49-b3a5-ccd9355a0042
\tGeneration: \t\t25
\tGen at creation: \t24
\tFlags: \t\t\treadonly
\tSnapshot(s):
\t\t\t\tsnapshots/other
== not-a-subvolume
== photos.20261125T1500
snapshots/photos.20261125T1500
\tUUID: \t\t\t11111111-c299-9646-a16b-ea167bab8967
\tParent UUID: \t\t-
\tReceived UUID: \t\t-
\tFlags: \t\t\t-
"""
    facts = BtrfsSubvolumes().process(show.splitlines())
    assert facts["photos.20261125T1428"] == {
        "uuid": "bedaffc9-c299-9646-a16b-ea167bab8967",
        "parent_uuid": "4c80109d-52f0-d548-b2d3-ed23fa4fe4f5",
        "received_uuid": "25f6a55f-e012-7d49-b3a5-ccd9355a0042",
        "readonly": True, "generation": 25, "gen_at_creation": 24}
    assert "not-a-subvolume" not in facts
    assert facts["photos.20261125T1500"]["received_uuid"] is None
    assert facts["photos.20261125T1500"]["readonly"] is False


def test_ctransid_fact_command_runs_the_targets_python_over_ssh() -> None:
    """The exact command: the interpreter checked first, then run with the folder as
    its argument, all inside one ``ssh`` word; ssh's own failure (255) is unreachable."""
    fact = BtrfsCtransids()
    inner = fact.command("/srv/b/pi", python="/opt/py3").get_raw_value()
    assert inner.startswith("command -v /opt/py3 >/dev/null 2>&1 || { echo "
                            f"{NO_CTRANSID} '/opt/py3 not found' ; exit 0 ; }} ; /opt/py3 -c '")
    assert inner.endswith("' /srv/b/pi")
    remote = fact.command("/srv/b/pi", ssh="nas.lan", ssh_config="/etc/c",
                          python="/opt/py3").get_raw_value()
    assert remote.startswith("ssh -o BatchMode=yes -F /etc/c nas.lan 'command -v /opt/py3 ")
    assert remote.endswith(f" ; [ $? -ne 255 ] || echo {UNREACHABLE}")


def test_ctransid_fact_parses_its_output() -> None:
    rec = {"uuid": "u1", "received_uuid": "r1", "readonly": True, "ctransid": 12}
    fact = BtrfsCtransids()
    assert fact.process([json.dumps({"photos.20261124T0200": rec})]
                        ) == {"photos.20261124T0200": rec}
    assert fact.process(["{}"]) == {}
    assert fact.process([UNREACHABLE]) is None
    assert fact.process([f"{NO_CTRANSID} /usr/bin/python3 has no btrfsutil module"]
                        ) == "/usr/bin/python3 has no btrfsutil module"
    assert fact.process(["Traceback (most recent call last):"]).startswith("unexpected")


def test_ctransid_fact_run_for_real_without_btrfs_or_interpreter(tmp_path: Path) -> None:
    """Run here: an interpreter that is not there and a folder not on BTRFS are each
    one reason, never an exception; a missing folder has no copies."""
    def run(**kwargs) -> object:
        command = BtrfsCtransids().command(**kwargs).get_raw_value()
        out = subprocess.run(["sh", "-c", command], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return BtrfsCtransids().process(out.stdout.splitlines())

    assert run(directory=str(tmp_path), python="no-such-python3") == \
        "no-such-python3 not found"
    assert run(directory=str(tmp_path / "gone"), python=sys.executable) == {}
    got = run(directory=str(tmp_path), python=sys.executable)  # this venv has btrfsutil
    if _on_btrfs(tmp_path):
        assert got == {}  # no subvolumes in it
    else:
        assert "Could not sync filesystem" in str(got)


def test_local_copies_off_btrfs_are_a_reason_not_an_exception(tmp_path: Path) -> None:
    """An unplugged disk's mount point lies on the root filesystem: its copies' ctransid
    cannot be read, said as the fact says it."""
    from homelab_ops.backup.parents import local_copies

    assert local_copies(tmp_path / "gone") == {}
    got = local_copies(tmp_path)
    assert got == {} if _on_btrfs(tmp_path) else "Could not sync filesystem" in str(got)


@pytest.mark.parametrize("python", ["-c", "python3; rm -rf /", "py thon", "/opt/../py"])
def test_target_interpreter_is_one_safe_word(python: str) -> None:
    from homelab_ops.errors import InputError
    from homelab_ops.models.backup import load_backup_config

    with pytest.raises(InputError, match="python"):
        load_backup_config({"target": {"path": "/srv/b", "ssh": "nas", "python": python}},
                           "t")


def _on_btrfs(path: Path) -> bool:
    out = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True,
                         text=True)
    return out.stdout.strip() == "btrfs"


def test_changed_copy_is_refused_whatever_read_its_ctransid(tmp_path: Path) -> None:
    """parents.unusable judges records from the local listing and from the fact alike:
    a copy whose ctransid moved since it was first seen complete is never a parent."""
    from homelab_ops.backup import parents
    from homelab_ops.collection.lib.layout import volume_layouts
    from homelab_ops.models.backup import load_backup_config

    config = load_backup_config({"volumes": [{"subvolume": "photos"}],
                                 "target": {"path": "/srv/b", "ssh": "nas.lan"}}, "t")
    vol = volume_layouts(config, {"data": "/data"}, "t", host="pi")[0]
    assert parents.key(vol) == "nas.lan:/srv/b/snapshots/pi"
    name = "photos.20261124T0200"
    first = {name: {"uuid": "u1", "received_uuid": "r1", "readonly": True, "ctransid": 10},
             "other.20261124T0200": {"uuid": "u2", "received_uuid": None,
                                     "readonly": True, "ctransid": 3}}
    with Store(tmp_path / "state.db") as store:
        parents.remember(store, "pi", parents.key(vol), first, 1.0)
        assert set(store.received_copies("pi", parents.key(vol))) == {name}
        assert parents.unusable(store, "pi", vol, first) == {}
        moved = {name: {**first[name], "ctransid": 11}}
        assert parents.unusable(store, "pi", vol, moved) == {
            name: "changed after it was received (ctransid 10 then, 11 now)"}
        assert parents.unusable(store, "pi", vol, None) == {}  # unreadable: not judged
        assert parents.unusable(store, "other", vol, moved) == {}  # another host's record


# -- space-forecast rotation ----------------------------------------------------------
def test_rotation_uses_the_pessimistic_end_of_the_forecast() -> None:
    soon = {"days_until_threshold": 9.0, "low": 4.5, "high": 12.0, "basis": "trend 14d"}
    decision = rotation.plan_rotation(soon, horizon_days=7)
    assert decision.early and "4.5 days" in decision.reason and "trend 14d" in decision.reason
    assert not rotation.plan_rotation({**soon, "low": 8.0}, horizon_days=7).early
    assert not rotation.plan_rotation(None, 7).early
    assert not rotation.plan_rotation({"days_until_threshold": None, "low": None, "high": None,
                                "basis": "flat"}, 7).early


def test_rotation_alerts_when_minimum_is_not_enough() -> None:
    early = rotation.plan_rotation({"days_until_threshold": 1.0, "low": None, "high": None,
                             "basis": "x"}, 7)
    assert rotation.alert(early, deletable_at_minimum=0)
    assert rotation.alert(early, deletable_at_minimum=3) is None
    assert rotation.alert(rotation.plan_rotation(None, 7), 0) is None


# -- status ---------------------------------------------------------------------------
def test_backup_status_reads_last_success_and_restore_test(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    with Store(tmp_path / "state.db") as store:
        store.record_backup("nas", "data/photos", "backup", True, {"snapshot": "p.1"},
                            ts=now - 3 * 3600)
        store.record_backup("nas", "data/photos", "backup", False, {}, ts=now - 3600)
        store.record_backup("nas", "data/media", "backup", True, {"snapshot": "m.1"},
                            ts=now - 50 * 3600)
        store.record_backup("nas", "data/db", "backup", False, {}, ts=now - 60)
        store.record_backup("nas", "data/photos", "restore_test", False,
                            {"snapshot": "p.1", "error": "changed: a.jpg"}, ts=now - 86400)
        status = backup_status(store, now)
    photos = status.subvolumes["nas:data/photos"]
    assert photos.last_ok == LastOk(ts=now - 3 * 3600, snapshot="p.1")
    assert photos.age_hours == 3.0
    assert photos.last_attempt == LastAttempt(ts=now - 3600, ok=False)
    assert status.stale == ["nas:data/db", "nas:data/media"]
    assert status.last_restore_test is not None
    assert status.last_restore_test.ok is False
    assert status.last_restore_test.age_days == 1.0


def test_each_volume_is_judged_by_its_own_latest_restore_test(tmp_path: Path) -> None:
    """Issue 10 item 2: four failed tests of photos, then a good one of containers —
    status and the health score still see photos failing."""
    from homelab_ops.health import backup_findings

    now = 1_800_000_000.0
    with Store(tmp_path / "state.db") as store:
        for sub in ("data/photos", "data/containers"):
            store.record_backup("nas", sub, "backup", True, {"snapshot": "s"}, ts=now - 60)
        for i in range(4):
            store.record_backup("nas", "data/photos", "restore_test", False,
                                {"error": "changed: a.jpg"}, ts=now - 500 + i)
        store.record_backup("nas", "data/containers", "restore_test", True, {}, ts=now - 10)
        status = backup_status(store, now)
    tests = status.restore_tests
    assert (tests["nas:data/photos"].ok, tests["nas:data/containers"].ok) == (False, True)
    assert status.last_restore_test is not None
    assert status.last_restore_test.subvolume == "data/containers"
    assert [(f.code, f.subject) for f in backup_findings(status, "nas")] == [
        ("restore_test", "data/photos")]


# -- lock -----------------------------------------------------------------------------
def test_two_runs_never_overlap(tmp_path: Path) -> None:
    probe = ("import sys, pathlib; from homelab_ops.backup.lock import backup_lock\n"
             "with backup_lock(pathlib.Path(sys.argv[1])): pass")
    with backup_lock(tmp_path):
        with pytest.raises(BackupBusy, match="another backup run is in progress"), \
                backup_lock(tmp_path):
            pass
        other = subprocess.run([sys.executable, "-c", probe, str(tmp_path)],
                               capture_output=True, text=True)
        assert other.returncode != 0 and "BackupBusy" in other.stderr
    with backup_lock(tmp_path):  # released: the next run goes ahead
        pass


# -- timers ---------------------------------------------------------------------------
def test_timer_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("homelab-ops")
    units = timers.render({"homelab_ops_exe": str(exe),
                           "homelab_ops_inventory": "/etc/homelab-ops/inventory.py",
                           "homelab_ops_state_dir": "/var/lib/homelab-ops"})
    assert set(units) == {f"{s.stem}.{k}" for s in timers.SCHEDULES
                          for k in ("service", "timer")}
    for name, text in units.items():
        (tmp_path / name).write_text(text)
    proc = subprocess.run(["systemd-analyze", "verify", *sorted(map(str, tmp_path.iterdir()))],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "-i /etc/homelab-ops/inventory.py" in units["homelab-ops-backup-daily.service"]


@pytest.mark.parametrize(("stem", "normalized"), [
    ("homelab-ops-backup-daily", "*-*-* 02:00:00"),
    ("homelab-ops-backup-weekly", "Sat *-*-* 04:00:00"),
    ("homelab-ops-restore-test", "*-*-01 05:00:00"),
])
def test_timer_calendars(stem: str, normalized: str) -> None:
    text = timers.render({})[f"{stem}.timer"]
    calendar = next(line.split("=", 1)[1] for line in text.splitlines()
                    if line.startswith("OnCalendar="))
    proc = subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True,
                          text=True, check=True)
    assert f"Normalized form: {normalized}" in proc.stdout


def test_unsafe_unit_paths_are_refused() -> None:
    from homelab_ops.errors import InputError

    with pytest.raises(InputError, match="homelab_ops_exe"):
        timers.render({"homelab_ops_exe": "/usr/bin/x\nExecStartPre=/bin/evil"})


# -- CLI ------------------------------------------------------------------------------
def test_bad_backup_host_data_is_one_line_naming_file_and_field(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    inventory = tmp_path / "home.py"
    inventory.write_text(
        'hosts = [("@local", {"btrfs_pools": {"data": "/srv/data"}, "backup": {"volumes": '
        '[{"subvolume": "photos", "target_retention": {"preserve": "14q"}}]}})]\n')
    env = {"HOMELAB_OPS_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    for args in (["run"], ["list"], ["prune", "--dry-run"], ["verify"]):
        proc = run_cli("backup", *args, "-i", str(inventory), env=env, check=False)
        assert proc.returncode == 2
        assert proc.stderr.strip() == (
            f"homelab-ops: error: {inventory}: hosts[@local].backup.volumes[0]"
            ".target_retention.preserve: '14q' is not <number|*><h|d|w|m|y> "
            "(e.g. '14d 8w 6m *y')")
    inventory.write_text('hosts = [("@local", {"backup": {"volumes": [{"subvolume": "x", '
                         '"pool": "tank"}]}})]\n')
    proc = run_cli("backup", "run", "-i", str(inventory), env=env, check=False)
    assert "hosts[@local].backup.volumes[0].pool: no pool 'tank' in btrfs_pools" in proc.stderr


def test_unreachable_host_records_a_failed_backup_per_volume(tmp_path: Path) -> None:
    from datetime import datetime

    from homelab_ops.backup.runner import run_backup
    from homelab_ops.lab.sshd import free_port

    hosts = [("nas", {"ssh_hostname": "127.0.0.1", "ssh_port": free_port(),  # nobody there
                      "ssh_allow_agent": False, "ssh_look_for_keys": False,
                      "btrfs_pools": {"data": "/srv/data"},
                      "backup": {"volumes": [{"subvolume": "photos"}]}})]
    with Store(tmp_path / "state.db") as store:
        report = run_backup(hosts, store, now=datetime(2026, 11, 25, 2, 0))
        rows = store.backups()
    assert not report.ok and "unreachable" in report.hosts["nas"].error
    assert [(r["subvolume"], r["ok"]) for r in rows] == [("data/photos", False)]
