"""Fact parsers on real command output captured from the lab (tests/unit/data)."""

from __future__ import annotations

import json
from pathlib import Path

from homelab_ops.collection.facts.filesystems import Filesystems, parse_btrfs_usage
from homelab_ops.collection.facts.podman import (
    LOG_MARK,
    PodmanContainers,
    PodmanNetworks,
    parse_time,
)
from homelab_ops.collection.facts.probe import RC, SECTION, SECTIONS, HostProbe
from homelab_ops.collection.facts.system import HostStats
from homelab_ops.collection.facts.systemd import SystemdUnits, parse_timer_line

DATA = Path(__file__).parent / "data"


def _containers() -> dict[str, dict]:
    out = PodmanContainers().process(
        (DATA / "podman_containers.txt").read_text().splitlines())
    return {c["name"]: c for c in out}


def test_containers_from_real_inspect_and_stats() -> None:
    c = _containers()
    assert set(c) == {"jellyfin", "broken", "oneshot"}
    j = c["jellyfin"]
    assert j["state"] == "running" and j["health"] == "healthy"
    assert j["image"] == "localhost/homelab-lab:latest"
    assert j["mem_limit_bytes"] == 256 * 2**20
    assert j["mem_bytes"] > 0 and j["cpu_pct"] is not None
    assert j["networks"] == ["jnet"]
    assert j["ports"] == [{"host_ip": "127.0.0.1", "host_port": 18096,
                           "container_port": 80, "protocol": "tcp"}]
    assert j["labels"]["app"] == "media"
    assert j["mounts"][0]["destination"] == "/media" and j["mounts"][0]["rw"] is False
    assert j["started_at"].startswith("2026-")
    assert c["broken"]["health"] == "unhealthy"
    one = c["oneshot"]
    assert one["state"] == "exited" and one["exit_code"] == 3
    assert one["health"] is None and one["mem_bytes"] is None


def test_log_tails_of_failing_containers() -> None:
    """The LOG_MARK sections (podman ps -q ids) after the stats: prefixed lines, each
    container's matched by its id's prefix; nothing for a container not listed."""
    lines = (DATA / "podman_containers.txt").read_text().splitlines()
    broken = next(c for c in json.loads("\n".join(lines[:lines.index(
        "@@homelab-ops:stats")])) if c["Name"].lstrip("/") == "broken")
    tail = [f"{LOG_MARK}{broken['Id'][:12]}",
            *(f"| line {i}: automatic recovery in progress" for i in range(7)), "| "]
    out = {c["name"]: c for c in PodmanContainers().process(lines + tail)}
    assert out["broken"]["log_tail"] == [f"line {i}: automatic recovery in progress"
                                         for i in range(2, 7)]  # the last LOG_LINES
    assert out["jellyfin"]["log_tail"] == []
    assert out["jellyfin"]["mem_bytes"] > 0  # the stats before the logs still parse


def test_secrets_never_leave_the_fact() -> None:
    c = _containers()
    assert "sekrit" not in json.dumps(c)
    assert len(c["jellyfin"]["env_digest"]["API_KEY"]) == 16


def test_networks() -> None:
    nets = PodmanNetworks().process((DATA / "podman_networks.json").read_text().splitlines())
    names = {n["name"]: n for n in nets}
    assert "jnet" in names and names["jnet"]["subnets"]


def test_btrfs_usage() -> None:
    u = parse_btrfs_usage((DATA / "btrfs_usage.txt").read_text().splitlines())
    assert u is not None
    assert u.device_size == 1024 * 2**20
    assert u.allocated + u.unallocated == u.device_size
    assert 0 < u.free_estimated <= u.device_size
    assert parse_btrfs_usage(["garbage"]) is None


def test_filesystems_with_spaces_in_mountpoints() -> None:
    out = [
        "@@homelab-ops-fs:df",
        "Filesystem     Type   1B-blocks      Used     Avail Mounted on",
        "/dev/vda       ext4  1000000000 400000000 600000000 /",
        "/dev/loop0     btrfs 1073741824   6062080 948568064 /srv/my photos",
        *("@@homelab-ops-fs:btrfs /srv/my photos\n" + (DATA / "btrfs_usage.txt").read_text())
        .splitlines(),
    ]
    fs = {f["mountpoint"]: f for f in Filesystems().process(out)}
    assert fs["/"]["btrfs"] is None and fs["/"]["used_bytes"] == 400000000
    assert fs["/srv/my photos"]["btrfs"]["device_size"] == 1024 * 2**20


def test_host_stats() -> None:
    out = ["@@homelab-ops:meminfo", "MemTotal:       1000 kB", "MemFree:  10 kB",
           "MemAvailable:    400 kB", "SwapTotal: 100 kB", "SwapFree: 25 kB",
           "@@homelab-ops:loadavg", "0.50 0.40 0.30 1/200 999",
           "@@homelab-ops:nproc", "4", "@@homelab-ops:uptime", "123.4 200.0"]
    s = HostStats().process(out)
    assert s["mem_total_bytes"] == 1024000 and s["mem_available_bytes"] == 409600
    assert (s["load1"], s["cpu_count"], s["swap_free_bytes"]) == (0.5, 4, 25600)


def test_systemd_units_and_timers() -> None:
    out = [
        "@@homelab-ops-systemd:units system",
        "jellyfin.service loaded active running Jellyfin",
        "backup.service   loaded inactive dead  homelab-ops backup",
        "@@homelab-ops-systemd:timers system",
        "Thu 2026-11-26 02:00:00 UTC 11h left Wed 2026-11-25 02:00:03 UTC 12h ago "
        "homelab-ops-backup-daily.timer homelab-ops-backup-daily.service",
        "n/a n/a n/a n/a idle.timer idle.service",
        "@@homelab-ops-systemd:units user",
    ]
    got = SystemdUnits().process(out)
    assert [(u["name"], u["active"], u["sub"]) for u in got["units"]] == [
        ("jellyfin.service", "active", "running"), ("backup.service", "inactive", "dead")]
    daily, idle = got["timers"]
    assert daily["next"] == "Thu 2026-11-26 02:00:00 UTC"
    assert daily["last"] == "Wed 2026-11-25 02:00:03 UTC"
    assert daily["activates"] == "homelab-ops-backup-daily.service"
    assert idle["next"] is None and idle["last"] is None
    passed = parse_timer_line("n/a n/a Wed 2026-11-25 02:00:03 UTC 1h ago a.timer a.service",
                              "user")
    assert passed.next is None and passed.last == "Wed 2026-11-25 02:00:03 UTC"


def test_probe_reports_a_failed_section_and_keeps_the_rest() -> None:
    out = [f"{SECTION}systemd_init", "systemd", f"{RC}0",
           f"{SECTION}containers", f"{RC}127",
           f"{SECTION}networks", "not json", f"{RC}0"]
    got = HostProbe().process(out)
    assert got["systemd_init"] is True
    assert got["containers"] == []
    assert "containers: command not found" in got["errors"]
    assert any(e.startswith("networks: unparseable output") for e in got["errors"])
    assert "stats: no output" in got["errors"]


def test_probe_is_one_command() -> None:
    cmd = HostProbe().command()
    assert isinstance(cmd, str) and cmd.count(SECTION) == len(SECTIONS) == 7


def test_parse_time() -> None:
    assert parse_time("0001-01-01T00:00:00Z") is None
    t = parse_time("2026-11-25T14:19:55.771069581Z")
    assert t is not None and t.microsecond == 771069 and t.utcoffset().total_seconds() == 0
    assert parse_time("2026-11-25T14:19:55.5+01:00").utcoffset().total_seconds() == 3600
