"""``ask`` end to end over a real store: answers from observations, events, records and
cached predictions; freshness; the two cache levels; invalidation; warm-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from homelab_ops.loop.log import append
from homelab_ops.models.decision import Decision
from homelab_ops.models.observation import (
    BtrfsUsage,
    ContainerObs,
    FilesystemObs,
    HealthScore,
    NetworkObs,
    Observation,
)
from homelab_ops.observe import record
from homelab_ops.query.fmt import clock
from homelab_ops.query.run import ask, warm
from homelab_ops.recommend.handoff import task_for
from homelab_ops.store import Store

T0 = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
GIB = 2**30


def _container(name: str, mem: int, cpu: float, started: datetime, state: str = "running",
               nets: tuple[str, ...] = ("proxy",), restarts: int = 0) -> ContainerObs:
    return ContainerObs(name=name, id=name * 2, image=f"docker.io/{name}:1", state=state,
                        restart_count=restarts, started_at=started, mem_bytes=mem,
                        cpu_pct=cpu, networks=list(nets))


def _observation(ts: datetime, jellyfin_started: datetime, restarts: int = 0) -> Observation:
    cs = [
        _container("jellyfin", 900 * 2**20, 35.0, jellyfin_started, restarts=restarts),
        _container("immich-server", 1500 * 2**20, 5.0, T0 - timedelta(days=2),
                   nets=("proxy", "immich-backend")),
        _container("immich-postgres", 300 * 2**20, 60.0, T0 - timedelta(days=2),
                   nets=("immich-backend",)),
        _container("traefik", 50 * 2**20, 1.0, T0 - timedelta(days=9)),
        _container("paperless", 0, 0.0, T0 - timedelta(days=9), state="exited"),
    ]
    nets = [NetworkObs(name=n, driver="bridge", subnets=[s],
                       members=sorted(c.name for c in cs if n in c.networks))
            for n, s in (("proxy", "10.89.0.0/24"), ("immich-backend", "10.89.1.0/24"))]
    fss = [FilesystemObs(mountpoint="/", device="/dev/sda1", fstype="ext4",
                         size_bytes=100 * GIB, used_bytes=40 * GIB, avail_bytes=60 * GIB),
           FilesystemObs(mountpoint="/mnt/data", device="/dev/loop0", fstype="btrfs",
                         size_bytes=200 * GIB, used_bytes=180 * GIB, avail_bytes=20 * GIB,
                         btrfs=BtrfsUsage(device_size=200 * GIB, allocated=190 * GIB,
                                          unallocated=10 * GIB, free_estimated=20 * GIB))]
    return Observation(host="nas", ts=ts, reachable=True, containers=cs, networks=nets,
                       filesystems=fss, health=HealthScore(score=75, reasons=[]))


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path) as s:
        record(s, [_observation(T0 - timedelta(hours=1), T0 - timedelta(days=3))])
        yield s


def _ask(store: Store, q: str, now: datetime = T0) -> dict:
    return ask(store, q, now=now.timestamp(), tasks=task_for)


def test_top_memory_and_cpu_are_ranked_from_the_observation(store) -> None:
    mem = _ask(store, "which containers use the most ram")
    assert mem["intent"] == "top_memory"
    assert [r["service"] for r in mem["data"]][:3] == ["immich-server", "jellyfin",
                                                       "immich-postgres"]
    cpu = _ask(store, "top cpu users")
    assert [r["service"] for r in cpu["data"]][:2] == ["immich-postgres", "jellyfin"]


def test_is_running_finds_a_misspelled_name_and_reports_a_stopped_one(store) -> None:
    up = _ask(store, "is jelyfin running?")
    assert up["slots"] == {"service": "jellyfin"} and up["data"][0]["running"] is True
    down = _ask(store, "is paperless up")
    assert down["data"][0]["running"] is False
    assert "NOT running (exited)" in down["lines"][0]


def test_a_name_that_exists_nowhere_is_said_not_guessed(store) -> None:
    reply = _ask(store, "is nextcloud running")
    assert reply["intent"] == "service_running" and reply["data"] is None
    assert "no service called 'nextcloud'" in reply["lines"][0]


def test_service_overview_networks_and_disks(store) -> None:
    overview = _ask(store, "which services are down")
    assert overview["data"][0]["down"] == ["paperless"]
    members = _ask(store, "who is on the immich backend network")
    assert members["data"][0]["members"] == ["immich-postgres", "immich-server"]
    nets = _ask(store, "list all networks")
    assert {r["network"] for r in nets["data"]} == {"proxy", "immich-backend"}
    summary = _ask(store, "how much disk space is left")
    assert summary["data"][0]["mountpoint"] == "/mnt/data"  # fullest first
    assert summary["data"][0]["used_pct"] == 90.0
    detail = _ask(store, "how full is /mnt/data")
    assert detail["intent"] == "disk_detail" and len(detail["data"]) == 1
    assert any("unallocated" in line for line in detail["lines"])


def test_last_restart_comes_from_the_event_a_restart_left(store) -> None:
    before = _ask(store, "when was jellyfin last restarted")
    assert before["data"][0]["last_restart"] is None
    assert "no restart on record" in before["lines"][0]
    restarted_at = T0 - timedelta(minutes=20)
    record(store, [_observation(T0 - timedelta(minutes=10), restarted_at, restarts=1)])
    after = _ask(store, "when was jellyfin last restarted")
    assert after["cached"] is False  # the new observation cleared the cache
    assert after["data"][0]["last_restart"] == restarted_at.timestamp()
    assert clock(restarted_at.timestamp(), T0.timestamp()) in after["lines"][0]
    events = _ask(store, "what happened recently")
    assert any(e["kind"] == "restarted" and e["subject"] == "jellyfin"
               for e in events["data"])


def test_every_answer_says_how_fresh_it_is(store) -> None:
    reply = _ask(store, "top memory users")
    observed = (T0 - timedelta(hours=1)).timestamp()
    assert reply["as_of"] == observed
    assert reply["freshness"] == f"(as of {clock(observed, T0.timestamp())}, 60 min ago)"


def test_second_ask_is_a_cache_hit_and_never_fresher_than_its_data(store) -> None:
    first = _ask(store, "top memory users")
    later = _ask(store, "top memory users", T0 + timedelta(minutes=5))
    assert (first["cached"], later["cached"]) == (False, True)
    assert later["lines"] == first["lines"] and "65 min ago" in later["freshness"]


def test_cached_answers_expire_with_their_ttl(store) -> None:
    _ask(store, "top memory users")
    assert _ask(store, "top memory users", T0 + timedelta(hours=2))["cached"] is False


def test_records_answer_honestly_when_empty_and_when_present(store) -> None:
    assert "No backup has been recorded" in _ask(store, "when was the last backup")["lines"][0]
    assert "decided nothing" in _ask(store, "what did the loop do today")["lines"][0]
    assert "No stack" in _ask(store, "what is deployed")["lines"][0]
    now = T0.timestamp()
    store.record_backup("nas", "photos", "backup", True, {"snapshot": "photos.1"}, ts=now - 7200)
    store.record_backup("nas", "photos", "backup", False, {}, ts=now - 60)
    append(store, Decision(ts=now - 300, cycle="c1", host="nas", subject="jellyfin",
                           finding="unhealthy", action="restart", verdict="executed",
                           confidence=0.95, risk="low", reason="healthcheck failing"))
    store.record_deployment(host="nas", stack="media", service="jellyfin", pattern="media",
                            spec_digest="abc", ok=True, ts=now - 900)
    backup = _ask(store, "last backup?", T0 + timedelta(minutes=2))  # past the short TTL
    assert backup["data"][0]["failed_since"] == 1
    assert "1 failed since" in backup["lines"][-1]
    decisions = _ask(store, "what did the agent do today", T0 + timedelta(minutes=2))
    assert decisions["data"][0]["action"] == "restart"
    deployed = _ask(store, "which stacks are deployed", T0 + timedelta(minutes=2))
    assert "media on nas" in deployed["lines"][1]


def test_predictions_are_read_from_the_cache_or_said_to_be_missing(store) -> None:
    none = _ask(store, "when will the disk be full")
    assert "homelab-ops predict" in none["lines"][0] and none["data"] == []
    store.cache_put("prediction:disk:nas:/mnt/data",
                    {"status": "fills", "days_until_threshold": 12.0, "low": 9.0, "high": 20.0,
                     "threshold_pct": 90.0, "basis": "based on 14 days"}, 3600, "predictions")
    store.cache_put("prediction:leak:nas:jellyfin",
                    {"status": "leak", "leak": True, "mb_per_hour": 4.5,
                     "hours_until_limit": 30.0, "basis": "since the restart"}, 3600,
                    "predictions")
    store.cache_put("prediction:all", {"generated_at": T0.timestamp() - 600}, 3600,
                    "predictions")
    later = T0 + timedelta(minutes=10)  # past the prediction answers' TTL
    disk = _ask(store, "when do i run out of space", later)
    assert disk["data"][0]["days_until_threshold"] == 12.0
    assert "about 12 days" in disk["lines"][0] and "between 9 and 20 days" in disk["lines"][0]
    assert disk["as_of"] == T0.timestamp() - 600
    leaks = _ask(store, "any memory leaks?", later)
    assert leaks["lines"][0].startswith("1 of 1 analysed containers leak")
    assert "jellyfin: +4.5 MB/h" in leaks["lines"][1]


def test_not_understood_gives_three_suggestions(store) -> None:
    reply = _ask(store, "what is the capital of france")
    assert reply["understood"] is False and len(reply["suggestions"]) == 3
    assert reply["lines"][0].startswith("I don't know")


def test_warm_fills_both_cache_levels_including_predictions(store) -> None:
    result = warm(store, now=T0.timestamp(), tasks=task_for)
    assert result["by_intent"]["service_running"] == 5  # one per container
    assert result["by_intent"]["network_members"] == 2
    assert "disk_full_prediction" in result["by_intent"]
    assert "memory_leaks" in result["by_intent"]
    # a phrasing warm never saw still finds the precomputed answer of its intent
    key = 'ask:a:top_memory:{}'
    assert store.cache_get(key, now=T0.timestamp()) is not None
    assert _ask(store, "what services are using the most memory")["cached"] is True


def test_empty_question_is_a_usage_error(tmp_path) -> None:
    from tests.conftest import run_cli

    proc = run_cli("--state-dir", str(tmp_path), "ask", "  ", check=False)
    assert proc.returncode == 2
    assert "the question is empty" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "state.db").exists()  # nothing was read or written


def test_a_word_that_is_a_whole_part_of_one_running_name_answers_for_it(store) -> None:
    reply = _ask(store, "is postgres running")
    assert reply["slots"] == {"service": "immich-postgres"}
    assert reply["lines"][0] == "(taking 'postgres' to mean immich-postgres)"
    assert reply["data"][0]["running"] is True
    both = _ask(store, "is immich running")  # two running names have it: not guessed
    assert both["data"] is None and "no service called 'immich'" in both["lines"][0]
    assert _ask(store, "is postgre running")["data"] is None  # a whole part, not a prefix


def test_a_request_to_act_is_refused_and_explained(store) -> None:
    reply = _ask(store, "restart jellyfin")
    assert reply["understood"] is False and reply["suggestions"] == []
    assert reply["lines"] == ["I only answer questions; I never change anything "
                              "('restart' asks for an action)."]
    assert reply["explain"]["via"] == "refused" and reply["explain"]["refused"] == ["restart"]


def test_explain_shows_the_lexicon_the_cues_and_the_words_that_carried_it(store) -> None:
    why = _ask(store, "has jellyfin died?")["explain"]
    assert why["lexicon"] == "has {service} fail" and why["via"] == "cue"
    assert why["cues"][0].startswith("fail + {service}")
    assert why["ranking"][0][0] in {"service_running", "service_status"}
    assert why["carried"] and all(w in why["lexicon"].split() for w, _ in why["carried"])
