"""Events between observations and the health score: pure functions, tested directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homelab_ops.collection.facts.podman import PodmanEvents
from homelab_ops.events import derive_events
from homelab_ops.health import WEIGHTS, backup_findings, score
from homelab_ops.models.backup_status import BackupStatus
from homelab_ops.models.finding import Finding
from homelab_ops.models.observation import (
    ContainerEventObs,
    ContainerObs,
    FilesystemObs,
    HostStats,
    Observation,
    PodmanEventLog,
)
from homelab_ops.models.settings import Thresholds

T0 = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)


def c(name: str, state: str = "running", started: datetime = T0 - timedelta(days=1),
      **kw) -> ContainerObs:
    return ContainerObs(name=name, id=name * 4, image="img", state=state, started_at=started,
                        **kw)


def obs(*containers: ContainerObs, ts: datetime = T0, **kw) -> Observation:
    return Observation(host="nas", ts=ts, reachable=True, containers=list(containers), **kw)


def kinds(events) -> list[tuple[str, str]]:
    return [(e.subject, e.kind) for e in events]


def test_first_observation_records_current_starts_only() -> None:
    ev = derive_events(None, None, obs(c("web"), c("job", state="exited", exit_code=0)))
    assert kinds(ev) == [("web", "started")]
    assert ev[0].ts == (T0 - timedelta(days=1)).timestamp()


def test_restart_between_observations_is_dated_by_the_new_start() -> None:
    restarted_at = T0 + timedelta(minutes=7)
    before = obs(c("web"))
    after = obs(c("web", started=restarted_at, restart_count=1), ts=T0 + timedelta(hours=1))
    ev = derive_events(before, before, after)
    assert kinds(ev) == [("web", "restarted")]
    assert ev[0].ts == restarted_at.timestamp()
    assert ev[0].detail["restart_count"] == 1


def log(*entries: tuple[str, str, int, int | None]) -> PodmanEventLog:
    """(container, status, minutes after T0, exit code) entries of podman's event log."""
    return PodmanEventLog(until=(T0 + timedelta(hours=1)).timestamp(), events=[
        ContainerEventObs(name=n, status=s, ts=(T0 + timedelta(minutes=m)).timestamp(),
                          exit_code=x) for n, s, m, x in entries])  # type: ignore[arg-type]


def test_each_crash_systemd_undid_between_two_looks_is_a_death_and_a_restart() -> None:
    """Three crashes of db that systemd restarted, one look later: three deaths with
    their exit codes and three restarts, dated by the log, not one derived restart."""
    before = obs(c("db"), c("web"))
    after = obs(c("db", started=T0 + timedelta(minutes=30)), c("web"),
                ts=T0 + timedelta(hours=1),
                event_log=log(("db", "died", 10, 137), ("db", "start", 10, None),
                              ("db", "died", 20, 1), ("db", "start", 20, None),
                              ("db", "died", 30, 137), ("db", "start", 30, None)))
    ev = derive_events(before, before, after)
    assert kinds(ev) == [("db", "died"), ("db", "restarted")] * 3
    assert [e.detail["exit_code"] for e in ev if e.kind == "died"] == [137, 1, 137]
    assert ev[-1].ts == (T0 + timedelta(minutes=30)).timestamp()


def test_the_death_that_left_a_container_down_is_its_stop_once() -> None:
    before = obs(c("db"), c("job", state="exited", exit_code=0))
    after = obs(c("db", state="exited", exit_code=137, finished_at=T0 + timedelta(minutes=9)),
                c("job", started=T0 + timedelta(minutes=5)), ts=T0 + timedelta(hours=1),
                event_log=log(("db", "died", 2, 1), ("db", "start", 2, None),
                              ("db", "died", 9, 137), ("job", "start", 5, None),
                              ("db", "oom", 9, None)))
    ev = derive_events(before, before, after)
    assert sorted(kinds(ev)) == [("db", "died"), ("db", "oom_killed"), ("db", "restarted"),
                                 ("db", "stopped"), ("job", "started")]
    [died] = [e for e in ev if e.kind == "died"]
    assert died.detail == {"exit_code": 1, "source": "podman events"}


def test_the_event_log_is_parsed_from_podman_json() -> None:
    """podman 5's JSON lines (an exit code of 0 is left out); other statuses ignored."""
    fact = PodmanEvents()
    assert "podman events" not in fact.command(None)
    assert "--since 1796277000.000000" in fact.command(1796277000.0)
    parsed = fact.process([
        "until 1796277400.5",
        '{"ID":"49","Name":"evtest","Status":"start","time":1796277335,'
        '"timeNano":1796277335306422882,"Type":"container"}',
        '{"ContainerExitCode":3,"ID":"49","Name":"evtest","Status":"died",'
        '"time":1796277335,"timeNano":1796277335356690984,"Type":"container"}',
        '{"ID":"49","Name":"evtest","Status":"died","time":1796277336,"Type":"container"}',
        '{"ID":"49","Name":"evtest","Status":"cleanup","time":1796277336,"Type":"container"}',
    ])
    assert parsed is not None and parsed["until"] == 1796277400.5
    assert [(e["status"], e["exit_code"]) for e in parsed["events"]] == [
        ("start", None), ("died", 3), ("died", 0)]
    assert fact.process([]) is None  # no systemd: not read


def test_stop_start_appear_disappear_health_oom() -> None:
    t1 = T0 + timedelta(hours=1)
    before = obs(c("web", health="healthy"), c("db"), c("old"),
                 c("cache", state="exited", exit_code=0))
    after = obs(
        c("web", health="unhealthy"),
        c("db", state="exited", exit_code=137, oom_killed=True,
          finished_at=T0 + timedelta(minutes=3)),
        c("cache", started=t1),
        c("new", started=t1),
        ts=t1,
    )
    got = set(kinds(derive_events(before, before, after)))
    assert got == {("web", "health_changed"), ("db", "stopped"), ("db", "oom_killed"),
                   ("cache", "started"), ("new", "appeared"), ("new", "started"),
                   ("old", "disappeared")}


def test_unchanged_observation_has_no_events() -> None:
    o = obs(c("web", health="healthy"))
    assert derive_events(o, o, o.model_copy(update={"ts": T0 + timedelta(hours=1)})) == []


def test_unreachable_transitions() -> None:
    up = obs(c("web"))
    down = Observation(host="nas", ts=T0 + timedelta(hours=1), reachable=False, error="refused")
    assert kinds(derive_events(up, up, down)) == [("", "host_unreachable")]
    assert derive_events(down, up, down) == []  # still down: no repeat
    back = obs(c("web"), ts=T0 + timedelta(hours=2))
    assert kinds(derive_events(down, up, back)) == [("", "host_reachable")]


def test_perfect_host_scores_100() -> None:
    h = score(obs(c("web", health="healthy")), Thresholds())
    assert h.score == 100 and h.reasons == []


def test_score_reasons_and_caps() -> None:
    t = Thresholds()
    fs = FilesystemObs(mountpoint="/srv", device="/dev/x", fstype="btrfs", size_bytes=100,
                       used_bytes=95, avail_bytes=5)
    stats = HostStats(cpu_count=2, load1=0, load5=0, load15=0, mem_total_bytes=100,
                      mem_available_bytes=5)
    downs = [c(f"d{i}", state="exited", exit_code=1) for i in range(5)]
    h = score(obs(c("web", health="unhealthy", restart_count=5), *downs,
                  filesystems=[fs], stats=stats), t)
    by_code: dict[str, int] = {}
    for r in h.reasons:
        by_code[r.code] = by_code.get(r.code, 0) + r.penalty
    assert by_code["container_down"] == WEIGHTS["container_down"][1]  # capped
    assert by_code["disk_crit"] == WEIGHTS["disk_crit"][0]
    assert {"unhealthy", "restart_loop", "memory_pressure"} <= by_code.keys()
    assert h.score == max(0, 100 - sum(by_code.values()))
    assert any(r.message == "/srv is 95% full" for r in h.reasons)


def test_extra_reasons_feed_the_score() -> None:
    extra = [Finding(code="backup_stale", subject="photos", message="no backup for 3 days")]
    assert score(obs(), Thresholds(), extra).score == 85


def test_unreachable_scores_zero() -> None:
    h = score(Observation(host="nas", ts=T0, reachable=False, error="timeout"), Thresholds())
    assert h.score == 0 and h.reasons[0].code == "unreachable"


def test_per_mount_critical_threshold() -> None:
    t = Thresholds(disk_crit_pct_by_mount={"/backup": 97})
    full = [FilesystemObs(mountpoint=m, device="/dev/x", fstype="btrfs", size_bytes=100,
                          used_bytes=95, avail_bytes=5) for m in ("/backup", "/srv")]
    codes = {(r.code, r.subject) for r in score(obs(filesystems=full), t).reasons}
    assert codes == {("disk_warn", "/backup"), ("disk_crit", "/srv")}


def _sub(age_hours: float, **over) -> dict:
    return {"last_ok": None, "last_attempt": None, "unusable": {}, "age_hours": age_hours,
            "stale_after_hours": 36.0, **over}


def _test(**over) -> dict:
    return {"ts": 0.0, "ok": False, "host": "pi", "subvolume": "data/media", "age_days": 1.0,
            "snapshot": None, "error": None, **over}


def _status(**over) -> BackupStatus:
    base = {"subvolumes": {"nas:data/photos": _sub(50.0), "pi:data/media": _sub(2.0)},
            "stale": ["nas:data/photos"], "restore_tests": {}, "last_restore_test": None,
            "stale_after_hours": 36.0}
    return BackupStatus.model_validate({**base, **over})


def test_backup_findings_per_host() -> None:
    nas = backup_findings(_status(), "nas")
    assert [f.code for f in nas] == ["backup_stale", "restore_test"]
    assert "50 h ago" in nas[0].message
    assert backup_findings(_status(subvolumes={}, stale=[]), "nas") == []  # no backups set up
    failed = _test()
    pi = backup_findings(_status(restore_tests={"pi:data/media": failed}), "pi")
    assert [(f.code, f.message) for f in pi] == [
        ("restore_test", "restore test of data/media failed")]
    old = {**failed, "ok": True, "age_days": 40.0}
    assert "overdue" in backup_findings(_status(restore_tests={"pi:data/media": old}),
                                        "pi")[0].message
    fresh = {**failed, "ok": True}
    assert backup_findings(_status(restore_tests={"pi:data/media": fresh}), "pi") == []
    # a good test of another volume never hides this one's failure
    other = {**fresh, "subvolume": "data/photos"}
    both = backup_findings(_status(restore_tests={"pi:data/media": failed,
                                                  "pi:data/photos": other}), "pi")
    assert [f.message for f in both] == ["restore test of data/media failed"]


def test_a_copy_that_is_never_a_parent_costs_health() -> None:
    """Issue 10 item 1: the newest run's unusable copies are findings until they go."""
    why = "changed after it was received (ctransid 10 then, 15 now)"
    subs = {"nas:data/photos": _sub(2.0, unusable={"photos.20261124T0200": why})}
    [f] = backup_findings(_status(subvolumes=subs, stale=[], restore_tests={
        "nas:data/photos": _test(ok=True, host="nas", subvolume="data/photos")}), "nas")
    assert f.code == "backup_copy_unusable" and f.subject == "data/photos:photos.20261124T0200"
    assert why in f.message
    obs = Observation(host="nas", ts=T0, reachable=True)
    health = score(obs, Thresholds(), [f])
    assert health.score == 100 - WEIGHTS["backup_copy_unusable"][0]
