"""Playbooks without a host: arguments + facts in, commands out (as pyinfra's own
tests/operations do), the registry, and failures as values."""

from __future__ import annotations

from typing import Any

import pytest
from pyinfra.context import ctx_host
from pyinfra.facts.systemd import SystemdStatus

from homelab_ops.collection.deploys import remediate
from homelab_ops.collection.facts.quadlet import QuadletHost
from homelab_ops.collection.facts.systemd import UnitActiveState, UnitFailed
from homelab_ops.collection.lib import backend
from homelab_ops.collection.operations import podman, quadlet
from homelab_ops.inventory import inventory_from_entries
from homelab_ops.loop.playbooks import PLAYBOOKS, run_playbook, verify

KINDS = {"container_down", "unhealthy", "restart_loop", "oom_killed", "memory_leak",
         "disk_full", "backup_stale", "restore_test", "drift"}


class FakeHost:
    """Host data and facts given by the test; records noop reasons."""

    def __init__(self, data: dict[str, Any], facts: dict[type, Any]):
        self.data = data
        self.facts = facts
        self.noops: list[str] = []
        self.name = "fake"

    def get_fact(self, fact: type, **kwargs: Any) -> Any:
        return self.facts[fact]

    def noop(self, reason: str) -> None:
        self.noops.append(reason)


def _commands(op, host: FakeHost, **kwargs: Any) -> list[str]:
    with ctx_host.use(host):
        return [str(c.get_raw_value() if hasattr(c, "get_raw_value") else c)
                for c in op._inner(**kwargs)]


def test_registry_covers_the_detector_kinds_with_declared_risk() -> None:
    assert set(PLAYBOOKS) == {"restart", "restart-leaking", "free-disk", "rotate-snapshots",
                              "redeploy"}
    handled = {k for p in PLAYBOOKS.values() for k in p.handles}
    assert handled <= KINDS and "memory_leak" in PLAYBOOKS["restart-leaking"].handles
    assert PLAYBOOKS["restart"].risk == "low" and not PLAYBOOKS["free-disk"].reversible


def test_podman_restart_command() -> None:
    assert _commands(podman.restarted, FakeHost({}, {}), service="home-wiki") == [
        "podman restart home-wiki"]


@pytest.mark.parametrize("bad", ["", "a b", "x;rm -rf /", "-rf"])
def test_restart_refuses_names_that_are_not_container_names(bad: str) -> None:
    with pytest.raises(ValueError, match="not a container name"):
        _commands(podman.restarted, FakeHost({}, {}), service=bad)


@pytest.mark.parametrize(("systemd", "chosen"), [(True, "systemd"), (False, "podman")])
def test_restart_picks_the_backend_from_host_data(monkeypatch, systemd: bool, chosen: str):
    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(backend.systemd, "service",
                        lambda **kw: calls.append(("systemd", kw)))
    monkeypatch.setattr(podman, "restarted", lambda **kw: calls.append(("podman", kw)))
    monkeypatch.setattr(quadlet, "reset_failed", lambda **kw: calls.append(("reset", kw)))
    # host data wins over the fact (which a systemd host reads for its uid only)
    pid1 = {QuadletHost: {"uid": 0, "home": "/root", "systemd": not systemd}}
    with ctx_host.use(FakeHost({"systemd": systemd}, pid1)):
        remediate.restart._inner(service="home-wiki")
    assert [c[0] for c in calls] == (["reset", chosen] if systemd else [chosen])
    if systemd:
        assert calls[0][1]["unit"] == "home-wiki.service"
        kw = calls[1][1]
        assert kw["service"] == "home-wiki.service" and kw["restarted"] and kw["running"]
        # and pyinfra's own systemd operation turns that into the restart command
        monkeypatch.undo()
        facts = {SystemdStatus: {"home-wiki.service": True}}
        kw = {k: v for k, v in kw.items() if k != "name"}
        assert _commands(backend.systemd.service, FakeHost({}, facts), **kw) == [
            "systemctl restart home-wiki.service"]


@pytest.mark.parametrize("user_mode", [False, True])
def test_reset_failed_clears_a_failed_unit_only(user_mode: bool) -> None:
    flag = " --user" if user_mode else ""
    failed = FakeHost({}, {UnitFailed: True})
    assert _commands(quadlet.reset_failed, failed, unit="home-wiki.service",
                     user_mode=user_mode) == [f"systemctl{flag} reset-failed home-wiki.service"]
    fine = FakeHost({}, {UnitFailed: False})
    assert _commands(quadlet.reset_failed, fine, unit="home-wiki.service") == []
    assert fine.noops == ["home-wiki.service is not failed"]


def test_unit_failed_fact_reads_is_failed() -> None:
    command = UnitFailed().command(unit="home wiki.service", user_mode=True)
    assert command.get_raw_value() == (
        "systemctl --user is-failed --quiet 'home wiki.service' && echo failed || true")
    assert UnitFailed().process(["failed"]) is True
    assert UnitFailed().process([]) is False


@pytest.mark.parametrize(("state", "stops"), [
    ("active", True), ("activating", True), ("deactivating", True), ("reloading", True),
    ("inactive", False), ("failed", False), ("", False)])
def test_unit_stopped_stops_a_unit_about_to_restart_too(state: str, stops: bool) -> None:
    """A Restart=always unit between two failed starts is ``activating``: stopped
    before its data is restored, like a running one; a unit at rest is left alone."""
    h = FakeHost({}, {UnitActiveState: state})
    assert _commands(quadlet.unit_stopped, h, unit="home-wiki.service") == (
        ["systemctl stop home-wiki.service"] if stops else [])
    assert h.noops == ([] if stops else [f"home-wiki.service is {state or 'unknown'}"])


def test_restore_data_stops_the_unit_where_systemd_runs_it(monkeypatch) -> None:
    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(quadlet, "unit_stopped", lambda **kw: calls.append(("unit", kw)))
    monkeypatch.setattr(podman, "stopped", lambda **kw: calls.append(("podman", kw)))
    monkeypatch.setattr(remediate, "restore_dir", lambda **kw: calls.append(("copy", kw)))
    with ctx_host.use(FakeHost({"systemd": True, "systemd_user": True}, {})):
        remediate.restore_data._inner(paths=[("/s/d", "/live/d")], stop=["home-wiki"])
    assert [(c[0], c[1].get("unit") or c[1].get("path")) for c in calls] == [
        ("unit", "home-wiki.service"), ("copy", "/live/d")]
    assert calls[0][1]["user_mode"] is True


def test_unit_active_state_fact() -> None:
    command = UnitActiveState().command(unit="home wiki.service", user_mode=True)
    assert command.get_raw_value() == (
        "systemctl --user show -P ActiveState 'home wiki.service' || true")
    assert UnitActiveState().process(["activating", ""]) == "activating"
    assert UnitActiveState().process([]) == ""


def test_free_disk_commands_from_what_is_reclaimable() -> None:
    facts = {remediate.Reclaimable: {"images": ["3f2a"], "volumes": [],
                                     "logs": {"/var/lib/c/a b/ctr.log": 4096}}}
    assert _commands(remediate.reclaimed, FakeHost({}, facts)) == [
        "podman image prune -f", "truncate -s 0 '/var/lib/c/a b/ctr.log'"]


def test_free_disk_is_a_noop_with_nothing_to_free() -> None:
    host = FakeHost({}, {remediate.Reclaimable: {"images": [], "volumes": [], "logs": {}}})
    assert _commands(remediate.reclaimed, host) == []
    assert host.noops and "no dangling" in host.noops[0]


def test_reclaimable_parses_its_sections() -> None:
    out = remediate.Reclaimable().process(
        ["@images", "aa", "@volumes", "v1", "@logs", "12 /x/a log", ""])
    assert out == {"images": ["aa"], "volumes": ["v1"], "logs": {"/x/a log": 12}}


def test_unreachable_host_is_one_line_not_an_exception() -> None:
    inv = inventory_from_entries([("far", {"ssh_hostname": "127.0.0.1", "ssh_port": 1})],
                                 "test")
    result = run_playbook(inv, "far", "restart", {"service": "home-wiki"})
    assert not result.ok and result.error.startswith("unreachable") and "\n" not in result.error
    check = verify(inv, "far", "free-disk", {"mountpoint": "/"})
    assert not check.ok and "unreachable" in check.error


def test_unknown_playbook_and_host_are_failed_results() -> None:
    inv = inventory_from_entries([("@local", {})], "test")
    assert "no playbook" in run_playbook(inv, "@local", "reboot", {}).error
    unknown = run_playbook(inv, "x", "restart", {"service": "a"})
    assert unknown.error == "no host named x in the inventory"


def test_the_stack_deploy_clears_a_failed_unit_before_starting_it(monkeypatch) -> None:
    """Where systemd runs quadlets, every container's service has its failed state
    cleared (a noop unless failed) right before it is started: a rollback re-applying
    the previous spec after a broken one hit its start limit is not refused."""
    from homelab_ops.collection.deploys import stack as stack_deploy
    from homelab_ops.collection.facts.quadlet import StackFiles
    from homelab_ops.collection.lib.hosts import HostTarget
    from homelab_ops.stacks.load import load_stack
    from tests.conftest import REPO

    calls: list[tuple[str, str]] = []
    target = HostTarget(name="@local", quadlet_dir="/etc/containers/systemd",
                        backend=backend.QuadletUnits(), pools={"data": "/srv/data"})
    monkeypatch.setattr(stack_deploy, "host_target", lambda *a: target)
    monkeypatch.setattr(quadlet, "stack_files", lambda **kw: None)
    monkeypatch.setattr(backend.systemd, "daemon_reload",
                        lambda **kw: calls.append(("reload", "")))
    monkeypatch.setattr(backend.systemd, "service",
                        lambda **kw: calls.append(("start", kw["service"])))
    monkeypatch.setattr(quadlet, "reset_failed",
                        lambda **kw: calls.append(("reset", kw["unit"])))
    declared = load_stack(REPO / "examples/lab-stack.yaml")
    h = FakeHost({}, {QuadletHost: {}, StackFiles: {}})
    h.name, h.data = "@local", type("Data", (), {"dict": lambda self: {}})()
    with ctx_host.use(h):
        stack_deploy.stack._inner(declared, {s: "pw" for s in declared.secrets})
    assert calls[0] == ("reload", "")
    pairs = calls[1:]
    assert pairs and len(pairs) % 2 == 0
    for reset, start in zip(pairs[::2], pairs[1::2], strict=True):
        assert reset[0] == "reset" and start == ("start", reset[1]), calls
