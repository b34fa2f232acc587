"""Capacity requirements count only what a deploy adds."""

from __future__ import annotations

from homelab_ops.stacks.capacity import mount_of, requirements
from homelab_ops.stacks.load import load_stack
from tests.unit.test_stack_drift import PLAN, live_of
from tests.unit.test_stack_units import EXAMPLE

DECLARED = load_stack(EXAMPLE)


def test_first_deploy_needs_every_limit_and_volume() -> None:
    need = requirements(PLAN, DECLARED, [], "/var")
    assert need.host == "@local"
    assert need.memory_bytes == sum(c.memory_bytes for c in PLAN.containers)
    assert need.disk_bytes == {"/var": sum(v.size_bytes for v in DECLARED.volumes)}


def test_redeploy_needs_nothing() -> None:
    need = requirements(PLAN, DECLARED, [live_of(c) for c in PLAN.containers], "/var")
    assert need.memory_bytes == 0 and need.disk_bytes == {}


def test_one_missing_container_brings_its_volumes() -> None:
    live = [live_of(c) for c in PLAN.containers if c.name != "home-db"]
    need = requirements(PLAN, DECLARED, live, "/var")
    db = next(c for c in PLAN.containers if c.name == "home-db")
    assert need.memory_bytes == db.memory_bytes
    assert need.disk_bytes == {"/var": 10 * 2**30}


def test_mount_of_picks_the_longest_prefix() -> None:
    mounts = ["/", "/var", "/var/lib/containers", "/var/lib/containers2"]
    assert mount_of("/var/lib/containers/storage", mounts) == "/var/lib/containers"
    assert mount_of("/srv/x", mounts) == "/"
    assert mount_of("/var", mounts) == "/var"


def _store_with(tmp_path, span: float, now: float):
    from homelab_ops.store import SeriesKey, Store

    store = Store.open(tmp_path)
    times = [now - span + i * span / 60 for i in range(61)]
    for kind, subject, used, total in (("host", "", "mem_used_bytes", "mem_total_bytes"),
                                       ("filesystem", "/", "used_bytes", "size_bytes")):
        # growing 10 MiB a second: extrapolated over a week, far beyond the disk
        store.add_points(SeriesKey("@local", kind, subject, used),
                         [(t, 2**30 + (t - times[0]) * 10 * 2**20) for t in times])
        store.add_points(SeriesKey("@local", kind, subject, total), [(t, 2**40) for t in times])
    return store


def test_minutes_of_history_are_too_little_history(tmp_path) -> None:
    """The issue's case: a minute of observations must not extrapolate to -9763 GiB."""
    from homelab_ops.models.prediction import CapacityRequirements
    from homelab_ops.models.settings import Settings
    from homelab_ops.predict.run import capacity_check_for

    now = 1_800_000_000.0
    need = CapacityRequirements(host="@local", memory_bytes=2**20, disk_bytes={"/": 2**20})
    with _store_with(tmp_path, 60.0, now) as store:
        report = capacity_check_for(store, Settings(), need, now=now)
    assert [(i.resource, i.fits) for i in report.items] == [("memory", False), ("disk /", False)]
    memory, disk = report.items
    assert memory.basis == ("too little history: 0.0 hours, need at least 12 hours: "
                            "cannot promise it fits")
    assert disk.basis == ("too little history: 0.0 hours, need at least 48 hours: "
                          "cannot promise it fits")
    assert all(i.free_at_horizon_bytes is None for i in report.items)


def test_enough_history_is_forecast(tmp_path) -> None:
    from homelab_ops.models.prediction import CapacityRequirements
    from homelab_ops.models.settings import Settings
    from homelab_ops.predict.run import capacity_check_for

    now = 1_800_000_000.0
    need = CapacityRequirements(host="@local", memory_bytes=2**20)
    with _store_with(tmp_path, 13 * 3600.0, now) as store:
        item = capacity_check_for(store, Settings(), need, now=now).items[0]
    assert item.free_at_horizon_bytes is not None and "trend" in item.basis
