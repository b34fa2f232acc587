"""Layouts and decisions that used to delete backups: overlapping folders refused at
config time (one line naming the file and the field), what counts as garbled, one
target folder per host for shared targets, the fact's listing status and the default
minimum-keep window of the target."""

from __future__ import annotations

import socket
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from homelab_ops.collection.facts.btrfs import BtrfsSubvolumes
from homelab_ops.collection.lib import retention, transfer
from homelab_ops.collection.lib.layout import volume_layouts
from homelab_ops.errors import InputError
from homelab_ops.models.backup import BackupVolume, load_backup_config

POOLS = {"data": "/mnt/data", "data2": "/mnt/data2", "backup": "/mnt/backup"}
SRC = "inventory/home.py"


def layouts(raw: dict, host: str = "nas", pools: dict | None = None):
    config = load_backup_config(raw, SRC)
    return volume_layouts(config, pools or POOLS, SRC, host=host)


def refused(raw: dict, field: str) -> str:
    with pytest.raises(InputError) as exc:
        layouts(raw)
    assert str(exc.value).startswith(f"{SRC}: backup.{field}: "), str(exc.value)
    return str(exc.value)


# -- finding 1: the restore scratch folder ------------------------------------------
@pytest.mark.parametrize(("target_dir", "scratch"), [
    ("bk/snapshots", "snapshots"),  # scratch == the target folder
    ("snapshots", ".snapshots"),  # scratch == the snapshot folder
    ("bk/snapshots", "snapshots/restore"),  # scratch inside the target folder
])
def test_restore_scratch_overlapping_backups_is_refused(target_dir: str, scratch: str) -> None:
    raw = {"volumes": [{"subvolume": "photos"}],
           "target": {"pool": "data", "dir": target_dir}, "restore_scratch_dir": scratch}
    assert "restore scratch" in refused(raw, "restore_scratch_dir")


def test_restore_scratch_containing_a_snapshot_folder_is_refused() -> None:
    raw = {"volumes": [{"subvolume": "photos", "snapshot_dir": "bk/scratch/snaps"}],
           "target": {"pool": "data", "dir": "bk/snapshots"}, "restore_scratch_dir": "scratch"}
    assert "/mnt/data/bk/scratch/snaps" in refused(raw, "restore_scratch_dir")


def test_default_scratch_is_its_own_folder() -> None:
    vol = layouts({"volumes": [{"subvolume": "photos"}],
                   "target": {"pool": "backup", "dir": "snapshots"}})[0]
    assert vol.scratch == "/mnt/backup/.restore-test"
    assert vol.target is not None and vol.target.dir == "/mnt/backup/snapshots"


def test_a_target_over_ssh_is_restored_onto_each_volumes_own_pool() -> None:
    """Across the wire the scratch folder is on this host, next to the source, never a
    folder of the remote target's path taken as a local one."""
    photos, music = layouts({
        "volumes": [{"subvolume": "photos"}, {"subvolume": "music", "pool": "data2"}],
        "target": {"path": "/mnt/backup", "dir": "snapshots", "ssh": "nas2"}})
    assert (photos.scratch, music.scratch) == ("/mnt/data/.restore-test",
                                               "/mnt/data2/.restore-test")
    assert "volumes[0]'s snapshot folder" in refused(
        {"volumes": [{"subvolume": "photos", "snapshot_dir": "scratch/snaps"}],
         "target": {"path": "/mnt/backup", "dir": "bk", "ssh": "nas2"},
         "restore_scratch_dir": "scratch"}, "restore_scratch_dir")


# -- finding 2: garbled copies and a target that is a snapshot folder ---------------
def test_ordinary_snapshots_and_writable_finished_copies_are_not_garbled() -> None:
    target = {
        "photos.20261121T0200": {"uuid": "a", "received_uuid": None, "readonly": True},
        "photos.20261122T0200": {"uuid": "b", "received_uuid": "u2", "readonly": False},
        "photos.20261123T0200": {"uuid": "c", "received_uuid": None, "readonly": False},
    }
    assert transfer.garbled(target, "photos") == ["photos.20261123T0200"]
    local = {f"photos.2026112{d}T0200": {"uuid": f"u{d}", "received_uuid": None,
                                         "readonly": True} for d in range(1, 5)}
    assert transfer.plan_send(local, local, "photos").garbled == ()


def test_target_folder_equal_to_a_snapshot_folder_is_refused() -> None:
    raw = {"volumes": [{"subvolume": "photos", "pool": "data"}],
           "target": {"pool": "data", "dir": ".snapshots"}}
    assert "snapshot folder of volumes[0]" in refused(raw, "target.dir")


# -- finding 3: one target namespace per host and subvolume name --------------------
def test_two_volumes_with_one_name_on_one_target_are_refused() -> None:
    raw = {"volumes": [{"subvolume": "photos", "pool": "data"},
                       {"subvolume": "photos", "pool": "data2"}],
           "target": {"pool": "backup", "dir": "snapshots"}}
    assert "also volumes[0]" in refused(raw, "volumes[1].subvolume")
    del raw["target"]  # snapshots only: each pool has its own folder, fine
    assert len(layouts(raw)) == 2


def test_a_shared_target_has_a_folder_per_host() -> None:
    raw = {"volumes": [{"subvolume": "photos"}],
           "target": {"path": "/srv/backup", "dir": "homelab", "ssh": "nas.lan"}}
    a, b = layouts(raw, host="pi")[0], layouts(raw, host="@local")[0]
    assert a.target is not None and b.target is not None
    # every machine calls itself @local: that one is named by its host name
    me = socket.gethostname().split(".")[0]
    assert (a.target.dir, b.target.dir) == ("/srv/backup/homelab/pi",
                                             f"/srv/backup/homelab/{me}")
    with pytest.raises(InputError, match=r"target\.path"):
        layouts(raw, host="a/b")


# -- finding 4: a pool target must be mounted; a missing parent is unreachable ------
def test_pool_target_requires_its_mount(tmp_path: Path) -> None:
    vol = layouts({"volumes": [{"subvolume": "photos"}],
                   "target": {"pool": "backup", "dir": "snapshots"}},
                  pools={"data": str(tmp_path), "backup": str(tmp_path / "unplugged")})[0]
    assert vol.target is not None and vol.target.mount == str(tmp_path / "unplugged")
    (tmp_path / "unplugged").mkdir()  # an empty mount point: the disk is not there
    out = _fact(vol.target.fact_kwargs())
    assert out.returncode == 0
    assert BtrfsSubvolumes().process(out.stdout.splitlines()) is None


def test_missing_target_parent_is_unreachable_not_empty(tmp_path: Path) -> None:
    kwargs = {"directory": str(tmp_path / "gone" / "snapshots"), "strict": True}
    assert BtrfsSubvolumes().process(_fact(kwargs).stdout.splitlines()) is None
    (tmp_path / "gone").mkdir()  # the folder around it exists: simply no backups yet
    assert BtrfsSubvolumes().process(_fact(kwargs).stdout.splitlines()) == {}


# -- finding 5: a plain folder listed last is not a failure -------------------------
def test_listing_ending_in_a_plain_folder_succeeds(tmp_path: Path) -> None:
    (tmp_path / "zz-notes").mkdir()
    out = _fact({"directory": str(tmp_path)})
    assert out.returncode == 0, out
    assert BtrfsSubvolumes().process(out.stdout.splitlines()) == {}


def _fact(kwargs: dict) -> subprocess.CompletedProcess:
    command = BtrfsSubvolumes().command(**kwargs).get_raw_value()
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True)


# -- finding 6: early rotation keeps a real window by default -----------------------
def test_early_rotation_keeps_two_weeks_by_default() -> None:
    now = datetime(2026, 11, 25, 2, 0)
    names = [f"photos.{(now - timedelta(days=d)).strftime('%Y%m%dT%H%M')}"
             for d in range(60)]
    policy = BackupVolume(subvolume="photos").target_retention
    assert policy.min_keep == "14d"
    kept = [d.name for d in retention.plan(names, policy.minimal(), now) if d.keep]
    assert len(kept) == 15  # today and the 14 days before
    custom = load_backup_config({"volumes": [{"subvolume": "photos", "target_retention":
                                              {"preserve": "8w 6m"}}]}, SRC)
    assert custom.volumes[0].target_retention.min_keep == "14d"


# -- finding 7: staleness follows the volume's schedule -----------------------------
def test_weekly_backups_are_stale_after_eight_days_not_36_hours(tmp_path: Path) -> None:
    from homelab_ops.backup.status import backup_status
    from homelab_ops.store import Store

    now, day = 1_800_000_000.0, 86400.0
    with Store(tmp_path / "state.db") as store:
        for key, schedule, age in (("data/media", "weekly", 5), ("data/old", "weekly", 9),
                                   ("data/photos", "daily", 2)):
            store.record_backup("nas", key, "backup", True,
                                {"snapshot": "x", "schedule": schedule}, ts=now - age * day)
        status = backup_status(store, now)
    assert status.stale == ["nas:data/old", "nas:data/photos"]
    assert status.subvolumes["nas:data/media"].stale_after_hours == 192.0


# -- finding 8: unattended runs forecast the target pool themselves -----------------
def test_rotation_computes_the_forecast_when_the_cache_is_empty(tmp_path: Path) -> None:
    from homelab_ops.backup.runner import target_rotation
    from homelab_ops.models.settings import Thresholds
    from homelab_ops.store import SeriesKey, Store

    now, day, gib = 1_790_000_000.0, 86400.0, 2.0**30
    data = {"btrfs_pools": {"data": "/srv/data", "backup": "/srv/backup"}}
    config = load_backup_config({"volumes": [{"subvolume": "photos"}],
                                 "target": {"pool": "backup"}}, SRC)
    with Store(tmp_path / "state.db") as store:
        # /srv/backup: 1000 GiB, 850 GiB used, +10 GiB a day: 90 % in about 5 days
        ts = [now - 20 * day + i * 3600 for i in range(20 * 24 + 1)]
        store.add_points(SeriesKey("nas", "filesystem", "/srv/backup", "used_bytes"),
                         [(t, 650 * gib + 10 * gib * (t - ts[0]) / day) for t in ts])
        store.add_points(SeriesKey("nas", "filesystem", "/srv/backup", "size_bytes"),
                         [(ts[0], 1000 * gib), (now, 1000 * gib)])
        assert store.cache_get("prediction:disk:nas:/srv/backup") is None
        rot = target_rotation(store, "nas", data, config, datetime.fromtimestamp(now),
                              Thresholds())
    assert rot.early, rot.reason
    assert "within the 7-day horizon" in rot.reason
