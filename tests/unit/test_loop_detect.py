"""The detectors: health.py's findings enriched with history and predictions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homelab_ops.loop.detect import History, detect, with_failed_units
from homelab_ops.models.observation import (
    ContainerObs,
    FilesystemObs,
    MountObs,
    Observation,
    UnitObs,
)
from homelab_ops.models.prediction import DiskPrediction, LeakPrediction, PredictionReport
from homelab_ops.models.settings import Settings

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
NONE = PredictionReport(generated_at=T0.timestamp(), disks=[], leaks=[])


def _obs(*containers: ContainerObs, ts: datetime = T0, fs=()) -> Observation:
    return Observation(host="nas", ts=ts, reachable=True, containers=list(containers),
                       filesystems=list(fs))


def _c(name: str, **kw) -> ContainerObs:
    return ContainerObs(name=name, id=name, image="localhost/app:1",
                        state=kw.pop("state", "running"), **kw)


def test_a_stack_container_that_exited_is_a_clear_finding() -> None:
    c = _c("home-wiki", state="exited", exit_code=137, labels={"homelab-ops.stack": "home"})
    [f] = detect(_obs(c), History(), NONE, Settings())
    assert (f.code, f.subject, f.host, f.clarity) == ("container_down", "home-wiki", "nas", 1.0)
    assert f.evidence["exit_code"] == 137 and f.evidence["managed"]


def test_an_unmanaged_clean_exit_is_doubtful() -> None:
    [f] = detect(_obs(_c("job", state="exited", exit_code=0)), History(), NONE, Settings())
    assert f.clarity < 0.7


def test_unhealthy_needs_consecutive_observations() -> None:
    sick = _c("app", health="unhealthy")
    once = detect(_obs(sick), History(recent=[_obs(sick), _obs(_c("app", health="healthy"))]),
                  NONE, Settings())
    assert once == []
    twice = detect(_obs(sick), History(recent=[_obs(sick), _obs(sick)]), NONE, Settings())
    assert [f.code for f in twice] == ["unhealthy"]
    assert twice[0].evidence["unhealthy_observations"] == 2


def test_a_crash_loop_is_not_a_plain_down_container() -> None:
    c = _c("app", state="exited", exit_code=1)
    found = detect(_obs(c), History(restarts={"app": 5}), NONE, Settings())
    assert [f.code for f in found] == ["restart_loop"]


def test_a_leak_reaching_its_limit_within_the_horizon() -> None:
    leak = LeakPrediction(host="nas", container="app", status="leak", leak=True,
                          mb_per_hour=20.0, hours_until_limit=6.0, confidence=0.93,
                          basis="b")
    far = leak.model_copy(update={"container": "slow", "hours_until_limit": 300.0})
    preds = PredictionReport(generated_at=T0.timestamp(), disks=[], leaks=[leak, far])
    found = detect(_obs(_c("app"), _c("slow")), History(), preds, Settings())
    assert [(f.code, f.subject, f.clarity) for f in found] == [("memory_leak", "app", 0.93)]


def test_disk_predicted_to_fill_and_the_backup_pool() -> None:
    soon = DiskPrediction(host="nas", mountpoint="/srv/backup", status="fills",
                          days_until_threshold=1.5, low=1.0, high=2.5, threshold_pct=90,
                          p_value=0.001, basis="b")
    later = soon.model_copy(update={"mountpoint": "/data", "days_until_threshold": 40.0})
    preds = PredictionReport(generated_at=T0.timestamp(), disks=[soon, later], leaks=[])
    fs = [FilesystemObs(mountpoint="/srv/backup", device="d", fstype="btrfs",
                        size_bytes=100, used_bytes=50, avail_bytes=50)]
    [f] = detect(_obs(fs=fs), History(backup_targets=["/srv/backup"]), preds, Settings())
    assert f.code == "disk_full" and f.evidence["backup_target"] and "1.5 days" in f.message


def test_an_unreachable_host_is_one_finding() -> None:
    obs = Observation(host="nas", ts=T0 + timedelta(minutes=1), reachable=False,
                      error="no route")
    [f] = detect(obs, History(), NONE, Settings())
    assert f.code == "host_unreachable" and "no route" in f.message


def test_a_disk_over_its_threshold_now_needs_no_history() -> None:
    fs = [FilesystemObs(mountpoint="/data", device="d", fstype="btrfs", size_bytes=100,
                        used_bytes=95, avail_bytes=5)]
    [f] = detect(_obs(fs=fs), History(), NONE, Settings())
    assert (f.code, f.subject, f.evidence["status"]) == ("disk_full", "/data", "over_threshold")


def test_a_failed_quadlet_unit_brings_its_gone_container_back_as_down() -> None:
    """systemd gave up on home-wiki.service (start limit) and quadlet's --rm took the
    container away: it is down, as last seen (labels, mounts), found like any other;
    a failed unit that never ran a container seen here (ssh) is not one."""
    last = _c("home-wiki", labels={"homelab-ops.stack": "home"}, health="healthy",
              mounts=[MountObs(source="/srv/pools/data/containers/v", destination="/d")])
    units = [UnitObs(name="home-wiki.service", active="failed", sub="failed"),
             UnitObs(name="ssh.service", active="failed", sub="failed"),
             UnitObs(name="cron.service", active="active", sub="running")]
    now = Observation(host="nas", ts=T0, reachable=True, systemd=True, units=units)
    view = with_failed_units(now, [_obs(last, ts=T0 - timedelta(hours=1))])
    [back] = view.containers
    assert (back.name, back.state, back.health, back.mounts) == (
        "home-wiki", "failed", None, last.mounts)
    [f] = detect(view, History(recent=[view]), NONE, Settings())
    assert (f.code, f.subject, f.clarity) == ("container_down", "home-wiki", 1.0)
    # a container still there, a host without systemd: nothing added
    assert with_failed_units(now.model_copy(update={"containers": [last]}),
                             [_obs(last)]).containers == [last]
    assert with_failed_units(now.model_copy(update={"systemd": False}),
                             [_obs(last)]).containers == []


def test_a_failed_units_container_is_down_not_drift() -> None:
    """Drift sees the container of a failed quadlet unit ``missing``; it is one finding,
    down (restart its unit), not also drift (a redeploy meets the same start limit).
    Drift of anything else about it, or of another container, stays."""
    from homelab_ops.models.finding import Finding

    def drift(subject: str, *kinds: str) -> Finding:
        return Finding(code="drift", subject=subject, message="differs", clarity=0.95,
                       evidence={"stack": "home", "kinds": list(kinds)})

    back = _c("home-wiki", state="failed", labels={"homelab-ops.stack": "home"})
    found = detect(_obs(back, _c("home-db")), History(), NONE, Settings(),
                   drift=[drift("home-wiki", "missing"), drift("home-db", "env")])
    assert [(f.code, f.subject) for f in found] == [("container_down", "home-wiki"),
                                                   ("drift", "home-db")]
    changed = detect(_obs(back), History(), NONE, Settings(),
                     drift=[drift("home-wiki", "missing", "unit_changed")])
    assert sorted(f.code for f in changed) == ["container_down", "drift"]
