"""The JSON shapes of the results (``backup run``/``status``, ``health``) and of the
backup rows in the store, pinned: a result built from known inputs dumps to exactly the
dict it always printed. A key that exists only sometimes is absent, never null."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from homelab_ops.backup import runner
from homelab_ops.backup.status import backup_status
from homelab_ops.models.backup_run import HostRun, OpRun, Rotation
from homelab_ops.models.health_check import Check, CheckResult
from homelab_ops.store import Store

NOW = datetime(2026, 11, 25, 2, 0)
CALM = Rotation(early=False, reason="no disk prediction for the backup target")
HOST = {"btrfs_pools": {"data": "/srv/data", "backup": "/srv/backup"},
        "backup": {"volumes": [{"subvolume": "photos"}, {"subvolume": "music"},
                               {"subvolume": "scratch", "schedule": "weekly"}],
                   "target": {"pool": "backup"}}}


def _snapshot(uuid: str) -> dict:
    return {"uuid": uuid, "parent_uuid": None, "received_uuid": None, "readonly": True}


def _copy(uuid: str, of: str, parent: str | None = None) -> dict:
    return {"uuid": uuid, "parent_uuid": parent, "received_uuid": of, "readonly": True}


def test_operation_rows_have_only_the_keys_of_their_situation() -> None:
    assert OpRun(name="Snapshot", would_change=True).model_dump(mode="json") == {
        "name": "Snapshot", "would_change": True}
    assert OpRun(name="Send", changed=True, ok=True).model_dump(mode="json") == {
        "name": "Send", "changed": True, "ok": True}
    failed = OpRun(name="Prune", ok=False, error="not run (an earlier operation failed)")
    assert failed.model_dump(mode="json") == {
        "name": "Prune", "ok": False, "error": "not run (an earlier operation failed)"}
    assert failed.failed and not OpRun(name="Snapshot", would_change=False).failed


def test_a_sent_volume_and_a_local_one_dump_and_are_stored_as_before(tmp_path: Path) -> None:
    """``_record`` over known subvolume listings: photos was sent incrementally from
    yesterday's copy, music in full; scratch (weekly, not sent yet) only has a local
    snapshot."""
    [photos, _, _] = runner.host_layouts("nas", HOST)[1]
    assert photos.target is not None
    old, new = "photos.20261124T0200", "photos.20261125T0200"
    before = {photos.snapshots.dir: {old: _snapshot("s1")},
              photos.target.dir: {old: _copy("c1", "s1")}}
    after = {photos.snapshots.dir: {old: _snapshot("s1"), new: _snapshot("s2"),
                                    "music.20261125T0200": _snapshot("s4"),
                                    "scratch.20261125T0200": _snapshot("s3")},
             photos.target.dir: {old: _copy("c1", "s1"), new: _copy("c2", "s2", "c1"),
                                 "music.20261125T0200": _copy("c4", "s4")}}
    out = HostRun(rotation=CALM, ok=True,
                  ops=[OpRun(name="Send", changed=True, ok=True)])
    with Store(tmp_path / "state.db") as store:
        runner._record(store, "nas", HOST, out, before, after, NOW, False, None, None, False)
        stored = {r["subvolume"]: r["detail"] for r in store.backups(action="backup")}
    sent = {"snapshot": new, "schedule": "daily", "pruned_source": [],
            "target": photos.target.dir, "on_target": new,
            "garbled_cleaned": [], "pruned_target": [], "unusable": {}, "sent_from": old,
            "ok": True}
    in_full = {**sent, "snapshot": "music.20261125T0200", "on_target": "music.20261125T0200",
               "sent_from": None}
    local = {"snapshot": "scratch.20261125T0200", "schedule": "weekly",
             "pruned_source": [], "target": photos.target.dir, "on_target": None,
             "garbled_cleaned": [], "pruned_target": [], "unusable": {}, "ok": False}
    assert out.model_dump(mode="json") == {
        "rotation": {"early": False, "reason": CALM.reason},
        "volumes": {"data/photos": sent, "data/music": in_full, "data/scratch": local},
        "ops": [{"name": "Send", "changed": True, "ok": True}], "ok": True, "unusable": {}}
    extra = {"rotation": {"early": False, "reason": CALM.reason}, "errors": []}
    assert stored == {"data/photos": {**sent, **extra}, "data/music": {**in_full, **extra},
                      "data/scratch": {**local, **extra}}


def test_a_volume_without_a_target_has_no_target_keys(tmp_path: Path) -> None:
    data = {**HOST, "backup": {"volumes": [{"subvolume": "photos"}]}}
    [photos] = runner.host_layouts("nas", data)[1]
    after = {photos.snapshots.dir: {"photos.20261125T0200": _snapshot("s1")}}
    out = HostRun(rotation=CALM, ok=True, unchecked={"elsewhere": "cannot tell"})
    with Store(tmp_path / "state.db") as store:
        runner._record(store, "nas", data, out, {}, after, NOW, True, None, None, False)
        assert store.backups() == []  # a dry run records nothing
    assert out.model_dump(mode="json")["volumes"] == {"data/photos": {
        "snapshot": "photos.20261125T0200", "schedule": "daily", "pruned_source": [],
        "ok": True}}
    assert out.model_dump(mode="json")["unchecked"] == {"elsewhere": "cannot tell"}


def test_an_unreachable_host_dumps_its_error_and_no_run_error(tmp_path: Path) -> None:
    from homelab_ops.lab.sshd import free_port

    hosts = [("nas", {"ssh_hostname": "127.0.0.1", "ssh_port": free_port(),
                      "ssh_allow_agent": False, "ssh_look_for_keys": False,
                      "btrfs_pools": {"data": "/srv/data"},
                      "backup": {"volumes": [{"subvolume": "photos"}]}})]
    with Store(tmp_path / "state.db") as store:
        report = runner.run_backup(hosts, store, now=NOW, dry_run=True)
    error = report.hosts["nas"].error
    assert isinstance(error, str) and error.startswith("unreachable: ")
    assert report.model_dump(mode="json") == {
        "now": "2026-11-25T02:00:00", "dry_run": True, "ok": False, "hosts": {"nas": {
            "rotation": {"early": False, "reason": CALM.reason}, "volumes": {}, "ops": [],
            "ok": False, "unusable": {}, "error": error}}}


def test_backup_status_dumps_as_before(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    with Store(tmp_path / "state.db") as store:
        store.record_backup("nas", "data/photos", "backup", True,
                            {"snapshot": "p.1", "schedule": "weekly",
                             "unusable": {"p.0": "changed"}}, ts=now - 7200)
        store.record_backup("nas", "data/db", "backup", False, {}, ts=now - 60)  # an old row
        store.record_backup("nas", "data/photos", "restore_test", True,
                            {"snapshot": "p.1"}, ts=now - 86400)
        status = backup_status(store, now)
    test = {"ts": now - 86400, "ok": True, "host": "nas", "subvolume": "data/photos",
            "age_days": 1.0, "snapshot": "p.1", "error": None}
    assert status.model_dump(mode="json") == {
        "subvolumes": {
            "nas:data/photos": {"last_ok": {"ts": now - 7200, "snapshot": "p.1"},
                                "last_attempt": {"ts": now - 7200, "ok": True},
                                "schedule": "weekly", "unusable": {"p.0": "changed"},
                                "age_hours": 2.0, "stale_after_hours": 192.0},
            "nas:data/db": {"last_ok": None, "last_attempt": {"ts": now - 60, "ok": False},
                            "unusable": {}, "age_hours": None, "stale_after_hours": 36.0}},
        "restore_tests": {"nas:data/photos": test}, "last_restore_test": test,
        "stale": ["nas:data/db"], "stale_after_hours": 36.0}


def test_a_health_check_result_dumps_as_its_check_with_ok_and_seen() -> None:
    check = Check(host="nas", container="web", kind="http", target="http://127.0.0.1:80/")
    result = CheckResult(**check.model_dump(), ok=False, seen="connection refused")
    assert result.model_dump(mode="json") == {
        "host": "nas", "container": "web", "kind": "http", "target": "http://127.0.0.1:80/",
        "ok": False, "seen": "connection refused"}
