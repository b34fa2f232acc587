"""The one backend choice per host (lib/backend.py): host data first, then the
QuadletHost fact, read at most once per host; and the deploys that used to read host
data ``systemd`` alone now follow it, so a host whose PID 1 is systemd and whose host
data says nothing gets the systemd restart and timers with its quadlet units."""

from __future__ import annotations

from typing import Any

import pytest
from pyinfra import host as current
from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_host

from homelab_ops.collection.facts.quadlet import QuadletHost
from homelab_ops.collection.lib import timers
from homelab_ops.collection.lib.backend import (
    _CHOSEN,
    PodmanRun,
    QuadletUnits,
    backend_of,
    choose,
)
from homelab_ops.collection.lib.hosts import host_target
from tests.unit.test_operations import Case, run_case

ROOT = {"uid": 0, "home": "/root", "systemd": True}


def _fact(value: dict[str, Any]):
    reads: list[int] = []

    def read() -> dict[str, Any]:
        reads.append(1)
        return value
    return read, reads


@pytest.mark.parametrize(("data", "pid1", "chosen"), [
    ({"systemd": True}, False, QuadletUnits()),
    ({"systemd": False}, True, PodmanRun()),
    ({"systemd": "false"}, True, PodmanRun()),  # as HostData reads the string
    ({}, True, QuadletUnits()),
    ({}, False, PodmanRun()),
    ({"systemd": None}, True, QuadletUnits()),  # None: detect
])
def test_host_data_wins_else_systemd_as_pid1(data, pid1: bool, chosen) -> None:
    read, _ = _fact({**ROOT, "systemd": pid1})
    assert choose(data, read) == chosen


@pytest.mark.parametrize(("data", "uid", "user_mode"), [
    ({}, 0, False), ({}, 1000, True),
    ({"systemd_user": False}, 1000, False), ({"systemd_user": True}, 0, True)])
def test_the_user_manager_where_podman_runs_rootless_unless_host_data_says(
        data, uid: int, user_mode: bool) -> None:
    read, _ = _fact({**ROOT, "uid": uid})
    assert choose({"systemd": True, **data}, read) == QuadletUnits(user_mode=user_mode)


def test_the_fact_is_read_only_when_host_data_leaves_the_choice_open() -> None:
    read, reads = _fact(ROOT)
    assert choose({"systemd": False}, read) == PodmanRun() and reads == []
    assert choose({"systemd": True, "systemd_user": False}, read) == QuadletUnits()
    assert reads == []


def test_the_stack_target_carries_the_same_choice() -> None:
    assert host_target("nas", {}, ROOT).backend == QuadletUnits()
    assert host_target("nas", {"systemd": False}, ROOT).backend == PodmanRun()
    assert host_target("nas", {}, {**ROOT, "uid": 1000}).backend == QuadletUnits(
        user_mode=True)


def test_a_pyinfra_host_is_decided_once_per_run() -> None:
    host = Inventory(([("nas", {})], {})).get_host("nas")
    State(host.inventory, Config())
    asked: list[type] = []
    host.get_fact = lambda fact, **kw: asked.append(fact) or ROOT
    assert backend_of(host) is backend_of(host) and backend_of(host) == QuadletUnits()
    assert asked == [QuadletHost]  # once, for systemd and uid together
    other = Inventory(([("nas", {"systemd": False})], {})).get_host("nas")
    assert backend_of(other) == PodmanRun()  # another run, another host object



def test_through_pyinfra_s_host_proxy_the_choice_is_kept_with_the_host() -> None:
    """Deploys ask with pyinfra's ``host`` proxy. Kept under the proxy (which outlives
    every Host), a choice outlived its host, and a new Host at the freed address got
    it: CI's restore_data case ran a systemd host as podman."""
    host = Inventory(([("nas", {"systemd": False})], {})).get_host("nas")
    with ctx_host.use(host):
        assert backend_of(current) == PodmanRun()
    kept = list(_CHOSEN.keys())
    assert any(k is host for k in kept) and not any(k is current for k in kept)

def _timer_facts(pid1: bool) -> dict[str, dict[str, Any]]:
    """Facts of a host without the timer units yet: pyinfra's files and systemd
    operations read these to put and enable them."""
    unit_dir = "/etc/systemd/system"
    units = timers.render({}, timers.SCHEDULES)
    facts: dict[str, dict[str, Any]] = {
        "quadlet.QuadletHost": {"": {**ROOT, "systemd": pid1}},
        "files.Directory": {f"path={unit_dir}": {"mode": 755, "user": "root",
                                                 "group": "root"}},
        "files.File": {},
    }
    for name in units:
        facts["files.File"][f"path={unit_dir}/{name}"] = None
        facts["files.Directory"][f"path={unit_dir}/{name}"] = None
    if pid1:  # the systemd operations read these too
        facts["server.TmpDir"] = {"": "/tmp"}
        facts["systemd.SystemdStatus"] = {f"services=['{t}']": {t: False}
                                          for t in timers.timer_names()}
        facts["systemd.SystemdEnabled"] = {f"services=['{t}']": {t: False}
                                           for t in timers.timer_names()}
    return facts


@pytest.mark.parametrize("pid1", [True, False])
def test_backup_timers_are_enabled_where_systemd_is_pid1_without_host_data(
        pid1: bool) -> None:
    """The bug: host data without ``systemd`` wrote the timer units but never enabled
    them, on a host whose stacks were deployed as quadlet units."""
    commands, _ = run_case("backup.backup_timers", Case(facts=_timer_facts(pid1)))
    systemctl = [c for c in commands if isinstance(c, str) and c.startswith("systemctl")]
    uploads = [c for c in commands if isinstance(c, list) and c[0] == "upload"]
    assert len(uploads) == 2 * len(timers.SCHEDULES)
    expected = ["systemctl daemon-reload"] + [
        line for t in timers.timer_names()
        for line in (f"systemctl start {t}", f"systemctl enable {t}")]
    assert systemctl == (expected if pid1 else [])
