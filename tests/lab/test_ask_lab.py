"""``homelab-ops ask`` against the real lab: the ten core intents answered through the
CLI from real observations of real containers, a real network and a real restart,
checked against what podman and the kernel say."""

from __future__ import annotations

import json
import os
import secrets
import time
from datetime import datetime

import pytest

from homelab_ops.lab.podman import podman
from tests.conftest import run_cli

pytestmark = pytest.mark.lab

TAG = secrets.token_hex(3)
NET = f"ask-net-{TAG}"
WEB, HOG, BURN, STOPPED, BOUNCE = (f"ask-{n}-{TAG}" for n in
                                   ("web", "hog", "burn", "stopped", "bounce"))
MINE = (WEB, HOG, BURN, STOPPED, BOUNCE)


@pytest.fixture(scope="module")
def stage(lab, lab_env):
    """Our containers on our network, observed once; removed afterwards."""
    p = lab.paths
    podman(p, "network", "create", NET)
    run = ("run", "-d", "--network", NET)
    try:
        podman(p, *run, "--name", WEB, lab.spec.image)
        # holds a 40 MB string in awk; burns a quarter of a CPU
        podman(p, *run, "--name", HOG, "--entrypoint", "awk", lab.spec.image,
               'BEGIN { s = sprintf("%40000000s", "x"); system("sleep 100000") }')
        podman(p, *run, "--name", BURN, "--cpus", "0.25", "--entrypoint", "sh",
               lab.spec.image, "-c", "while :; do :; done")
        podman(p, *run, "--name", STOPPED, lab.spec.image)
        podman(p, *run, "--name", BOUNCE, lab.spec.image)
        podman(p, "stop", "--time", "5", STOPPED)
        time.sleep(3)  # let the hog fill its memory and the burner build up CPU time
        run_cli("observe", "--json", env=lab_env)
        yield lab
    finally:
        podman(p, "rm", "--force", "--time", "0", *MINE, check=False)
        podman(p, "network", "rm", "--force", NET, check=False)


def ask(env, question: str) -> dict:
    return json.loads(run_cli("ask", "--json", "--explain", question, env=env).stdout)


def _mine(rows: list[dict], key: str = "service") -> list[str]:
    return [r[key] for r in rows if r.get(key) in MINE]


def test_top_memory_and_cpu(stage, lab_env) -> None:
    mem = ask(lab_env, "which containers use the most memory")
    assert mem["intent"] == "top_memory"
    values = [r["mem_bytes"] for r in mem["data"]]
    assert values == sorted(values, reverse=True)
    assert HOG in _mine(mem["data"])  # 40 MB puts it among the top five
    hog = next(r for r in mem["data"] if r["service"] == HOG)
    assert hog["mem_bytes"] > 30e6
    cpu = ask(lab_env, "top cpu users")
    assert cpu["intent"] == "top_cpu" and _mine(cpu["data"])[0] == BURN


def test_is_running_with_a_misspelled_name(stage, lab_env) -> None:
    up = ask(lab_env, f"is ask-wbe-{TAG} running")
    assert up["slots"] == {"service": WEB}
    assert up["data"] and all(r["running"] for r in up["data"])
    down = ask(lab_env, f"is {STOPPED} up?")
    state = podman(stage.paths, "inspect", "--format", "{{.State.Status}}", STOPPED)
    assert {r["state"] for r in down["data"]} == {state.stdout.strip()} != {"running"}
    assert "NOT running" in down["lines"][0]


def test_service_overview(stage, lab_env) -> None:
    reply = ask(lab_env, "which services are down")
    assert reply["intent"] == "service_status"
    rows = {r["host"]: r for r in reply["data"]}
    assert set(rows) == {"@local", "lab-vm"}  # lab-ssh is @local: not a second row
    assert STOPPED in rows["@local"]["down"] and WEB in rows["@local"]["running"]
    assert not any(n.startswith("ask-") for n in rows["lab-vm"]["down"] + rows["lab-vm"]["running"])


def test_network_members_and_overview(stage, lab_env) -> None:
    members = ask(lab_env, f"what is on network {NET}")
    assert members["intent"] == "network_members" and members["slots"] == {"network": NET}
    for row in members["data"]:
        assert set(row["members"]) == set(MINE)
    overview = ask(lab_env, "list all networks")
    assert overview["intent"] == "network_overview"
    assert {len(r["members"]) for r in overview["data"] if r["network"] == NET} == {5}


def test_disk_summary_and_detail_match_the_kernel(stage, lab_env) -> None:
    mount = str(stage.paths.pool_mount("data"))
    st = os.statvfs(mount)
    used, avail = (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_bavail * st.f_frsize
    summary = ask(lab_env, "how much disk space is left")
    assert summary["intent"] == "disk_summary"
    row = next(r for r in summary["data"] if r["mountpoint"] == mount)
    assert abs(row["used_pct"] - 100 * used / (used + avail)) < 2.0
    detail = ask(lab_env, f"how full is {mount}")
    assert detail["intent"] == "disk_detail" and detail["slots"] == {"filesystem": mount}
    assert {r["mountpoint"] for r in detail["data"]} == {mount}
    assert all(r["btrfs"]["unallocated"] >= 0 for r in detail["data"])


def test_last_restart_and_recent_events_after_a_real_restart(stage, lab_env) -> None:
    before = ask(lab_env, f"when was {BOUNCE} last restarted")
    assert before["intent"] == "last_restart"
    assert all(r["last_restart"] is None for r in before["data"])
    podman(stage.paths, "restart", "--time", "5", BOUNCE)
    started = podman(stage.paths, "inspect", "--format", "{{.State.StartedAt}}", BOUNCE)
    restarted_at = _podman_time(started.stdout.strip())
    observed = json.loads(run_cli("observe", "--json", env=lab_env).stdout)
    after = ask(lab_env, f"when did {BOUNCE.replace('bounce', 'bonce')} restart")  # typo
    assert after["cached"] is False and after["slots"] == {"service": BOUNCE}
    assert {abs(r["last_restart"] - restarted_at) < 1.0 for r in after["data"]} == {True}
    runs_it = [o for o in observed if any(c["name"] == BOUNCE for c in o["containers"])]
    assert len(after["data"]) == len(runs_it) == 1  # one answer per host that runs it
    events = ask(lab_env, "what happened recently")
    assert any(e["kind"] == "restarted" and e["subject"] == BOUNCE for e in events["data"])


def test_answers_say_how_fresh_they_are_and_come_from_cache(stage, lab_env) -> None:
    first = ask(lab_env, f"is {WEB} running")
    again = ask(lab_env, f"is {WEB} running")
    assert again["cached"] is True and again["lines"] == first["lines"]
    latest = json.loads(run_cli("status", "--json", env=lab_env).stdout)
    oldest = min(datetime.fromisoformat(o["ts"]).timestamp() for o in latest)
    assert first["as_of"] == pytest.approx(oldest)
    assert first["freshness"].startswith(
        f"(as of {datetime.fromtimestamp(oldest).strftime('%H:%M')}")
    human = run_cli("ask", f"is {WEB} running", env=lab_env).stdout
    assert f"{WEB} is running" in human and "(as of " in human


def _podman_time(text: str) -> float:
    """podman prints e.g. 2026-11-25 06:30:01.123456789 +0000 UTC."""
    date, clock, zone = text.split()[:3]
    return datetime.fromisoformat(f"{date}T{clock[:15]}{zone[:3]}:{zone[3:]}").timestamp()
