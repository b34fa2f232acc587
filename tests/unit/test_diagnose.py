"""diagnose: the fresh look's parser on recorded podman output, the cause rules, and
the spelling of service names."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from homelab_ops.collection.facts.look import MARK, ContainerLook
from homelab_ops.collection.facts.podman import PodmanEvents
from homelab_ops.diagnose.cause import Evidence, cause, exit_meaning, findings
from homelab_ops.diagnose.hosts import find_service
from homelab_ops.errors import HomelabError
from homelab_ops.models.diagnosis import ContainerView, HealthRun, HostFailure
from homelab_ops.models.observation import ContainerObs

DATA = Path(__file__).parent / "data"


def _inspected(name: str) -> dict:
    lines = (DATA / "podman_containers.txt").read_text().splitlines()
    every = json.loads("\n".join(lines[:lines.index("@@homelab-ops:stats")]))
    return next(c for c in every if c["Name"].lstrip("/") == name)


def _look_output(name: str, logs: list[str], events: list[str]) -> list[str]:
    inspect = json.dumps([_inspected(name)], indent=2).splitlines()
    return [f"{MARK}names", "jellyfin", "broken", "oneshot", f"{MARK}inspect", *inspect,
            f"{MARK}logs", *(f"| {ln}" for ln in logs), f"{MARK}events",
            "until 1796277335.5", *events]


def test_look_parses_a_real_inspect_its_log_and_podman4_events() -> None:
    died = json.dumps({"ContainerExitCode": 3, "Name": "oneshot", "Status": "died",
                       "Time": "2026-12-03T09:16:02.782579883Z", "Type": "container"})
    out = ContainerView.model_validate(ContainerLook().process(_look_output(
        "oneshot", ["starting", "config file missing", ""], [died])))
    assert out.names == ["jellyfin", "broken", "oneshot"]
    assert out.container is not None and out.container.state == "exited"
    assert out.last_exit_code == 3 and out.container.exit_code == 3
    assert out.log_tail == ["starting", "config file missing"]
    assert [(e.status, e.exit_code) for e in out.events] == [("died", 3)]
    assert out.events[0].ts == datetime(2026, 12, 3, 9, 16, 2, 782579, UTC).timestamp()


def test_look_keeps_the_healthcheck_log() -> None:
    out = ContainerView.model_validate(ContainerLook().process(_look_output("broken", [], [])))
    assert out.container is not None and out.container.health == "unhealthy"
    assert [r.exit_code for r in out.health_log] == [1]


def test_look_at_a_missing_container_and_a_bad_name() -> None:
    out = ContainerLook().process([f"{MARK}names", "a", f"{MARK}inspect", "[]",
                                   f"{MARK}logs", "| Error: no such container"])
    assert out["container"] is None and out["log_tail"] == [] and out["names"] == ["a"]
    with pytest.raises(ValueError, match="invalid container name"):
        ContainerLook().command("x; rm -rf /")


def test_podman5_journal_events_still_parse() -> None:
    line = json.dumps({"Name": "db", "Status": "died", "timeNano": 1_796_277_335_300_000_000,
                       "ContainerExitCode": 137})
    log = PodmanEvents().process(["until 1796277336.0", line])
    assert log["events"][0]["exit_code"] == 137 and log["events"][0]["ts"] == 1796277335.3


def _c(**kw) -> ContainerObs:
    base = {"name": "app", "id": "f" * 64, "image": "img", "state": "running"}
    return ContainerObs.model_validate(base | kw)


def test_a_crash_loop_is_named_by_its_exit_code_and_last_log_line() -> None:
    ev = Evidence(container=_c(state="exited", exit_code=3, restart_count=7),
                  last_exit_code=3, log_tail=["starting", "config file missing", " "],
                  died_codes=[3, 3, 3])
    assert cause(ev) == ("exits with code 3 on every start (7 restarts): last log line "
                         "'config file missing'")


def test_a_crash_loop_caught_running_takes_the_code_from_podmans_log() -> None:
    ev = Evidence(container=_c(restart_count=1), last_exit_code=0, restarts_1h=5,
                  died_codes=[3, 3, 1], log_tail=["boom"])
    found = findings(ev)
    assert found[0].code == "crash_loop"
    assert found[0].message.startswith("exits with code 1 again and again (5 restarts)")


def test_one_exit_with_a_signal_and_a_clean_stop() -> None:
    ev = Evidence(container=_c(state="exited", exit_code=137,
                               finished_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC)),
                  last_exit_code=137)
    assert cause(ev) == ("exited with code 137 (SIGKILL) at 2026-12-03 09:00:00 UTC: it "
                         "logged nothing")
    stopped = Evidence(container=_c(state="exited", exit_code=0), last_exit_code=0)
    assert [f.code for f in findings(stopped)] == ["stopped"]
    assert exit_meaning(1) == "code 1"


def test_an_oom_kill_explains_a_death_better_than_its_exit_code() -> None:
    ev = Evidence(container=_c(state="exited", exit_code=137, oom_killed=True,
                               restart_count=4, mem_limit_bytes=256 * 2**20),
                  last_exit_code=137, ooms_1h=4)
    found = findings(ev)
    assert [f.code for f in found] == ["oom_killed", "crash_loop"]
    assert found[0].message == "OOM-killed 4 times in 1 h (its limit 256 MiB)"


def test_a_failing_healthcheck_says_what_the_check_said() -> None:
    runs = [HealthRun(exit_code=0), HealthRun(exit_code=1, output="connection refused")]
    ev = Evidence(container=_c(health="unhealthy"), health_log=runs)
    assert cause(ev) == "healthcheck failing: connection refused (1 of the last 2 checks failed)"


def test_leak_drift_and_a_healthy_service() -> None:
    leak = {"leak": True, "mb_per_hour": 12.5, "hours_until_limit": 6.0}
    ev = Evidence(container=_c(), leak=leak, drift=["@local: app image: image", "x"])
    assert [f.message for f in findings(ev)] == [
        "memory grows 12.5 MB/h since its last restart, reaches its limit in 6.0 h",
        "differs from its stack: @local: app image: image (and 1 more)"]
    assert cause(Evidence(container=_c(health="healthy"),
                          health_log=[HealthRun(exit_code=0)])) is None
    assert findings(Evidence(container=_c(), restarts_1h=3))[0].code == "restart_loop"


def test_service_names_are_spelled_as_ask_spells_them() -> None:
    names = {"@local": ["home-whoami", "jellyfin"], "lab-vm": ["systemd-web"]}
    assert find_service("jellyfin", names, []) == ("@local", "jellyfin")
    assert find_service("jelyfin", names, []) == ("@local", "jellyfin")
    assert find_service("whoami", names, []) == ("@local", "home-whoami")
    assert find_service("systemd-web", names, []) == ("lab-vm", "systemd-web")
    with pytest.raises(HomelabError, match=r"no service 'jellyfon2' .*close: jellyfin"):
        find_service("jellyfon2", names, [])
    down = [HostFailure(host="nas", error="unreachable: refused")]
    with pytest.raises(HomelabError, match=r"\(nas: unreachable: refused\)"):
        find_service("nothing", names, down)


def test_restarts_in_podmans_log_are_deaths_a_start_followed() -> None:
    from homelab_ops.diagnose.service import restarts_logged
    from homelab_ops.models.observation import ContainerEventObs

    log = [ContainerEventObs(name="a", status=s, ts=t, exit_code=3 if s == "died" else None)
           for t, s in enumerate(["start", "died", "start", "died", "start", "died"])]
    assert restarts_logged(log) == 2
