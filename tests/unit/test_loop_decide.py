"""DECIDE and the controls, pure: the matrix exactly, every gate, learning that moves
confidence, and properties over random findings, histories and control states."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homelab_ops.loop import controls, decide
from homelab_ops.models.decision import Decision
from homelab_ops.models.finding import Finding
from homelab_ops.models.observation import ContainerObs, Observation
from homelab_ops.models.settings import LoopSettings, Settings

NOW = 1_800_000_000.0


@dataclass(frozen=True)
class Entry:
    """A registry entry with the fields the decider reads (the real registry is
    homelab_ops.loop.playbooks.PLAYBOOKS; these tests pin the decider alone)."""

    name: str
    risk: str
    handles: tuple[str, ...]


BOOK = {"restart": Entry("restart", "low", ("container_down", "unhealthy")),
        "restart-leaking": Entry("restart-leaking", "low", ("memory_leak",)),
        "free-disk": Entry("free-disk", "low", ("disk_full",)),
        "rotate-snapshots": Entry("rotate-snapshots", "medium", ("disk_full",)),
        "redeploy": Entry("redeploy", "medium", ("drift",))}


def _obs(*containers: ContainerObs) -> Observation:
    return Observation(host="nas", ts=datetime.fromtimestamp(NOW, UTC), reachable=True,
                       containers=list(containers))


def _c(name: str, **kw) -> ContainerObs:
    return ContainerObs(name=name, id=kw.pop("id", name),
                        image=kw.pop("image", "localhost/app:1"),
                        state=kw.pop("state", "exited"), **kw)


def _finding(subject: str = "wiki", code: str = "container_down", clarity: float = 1.0):
    return Finding(code=code, subject=subject, host="nas", message=f"{subject} is down",
                   clarity=clarity)


def _sit(log: list[Decision] | None = None, loop: LoopSettings | None = None,
         **settings_kw) -> decide.Situation:
    s = Settings(loop=loop or LoopSettings(), **settings_kw)
    log = log or []
    return decide.Situation(now=NOW, settings=s, log=log,
                            control=controls.control_state(log, s.loop.breaker_failures),
                            tallies=decide.tallies(log, NOW))


def _acted(i: int, subject: str, outcome: str | None, ts: float, action: str = "restart"
           ) -> list[Decision]:
    d = Decision(id=2 * i + 1, ts=ts, cycle="c", host="nas", subject=subject,
                 finding="container_down", action=action, verdict="executed", reason="r")
    if outcome is None:
        return [d]
    return [d, Decision(id=2 * i + 2, ts=ts + 1, cycle="c", host="nas", subject=subject,
                        finding="container_down", action=action, verdict="executed",
                        reason="r", outcome=outcome, ref=2 * i + 1)]


@pytest.mark.parametrize(("conf", "risk", "verdict"), [
    (0.95, "low", "executed"), (0.9, "low", "queued"), (0.91, "medium", "notified"),
    (0.85, "medium", "notified"), (0.8, "medium", "queued"), (0.85, "low", "queued"),
    (0.95, "high", "queued"), (0.71, "high", "queued"), (0.7, "low", "alerted"),
    (0.2, "low", "alerted")])
def test_the_matrix_exactly(conf: float, risk: str, verdict: str) -> None:
    assert decide.matrix(conf, risk) == verdict


def test_a_down_stack_container_is_restarted_with_every_gate_recorded() -> None:
    p = decide.plan(_finding(), _obs(_c("wiki")), BOOK, _sit())
    assert (p.playbook, p.verdict, p.risk) == ("restart", "executed", "low")
    assert {g.gate for g in p.gates} == {"protected", "halted", "window", "cooldown", "grace",
                                         "backoff", "budget"}
    assert all(g.ok for g in p.gates)


def test_protected_by_name_service_label_or_image() -> None:
    sit = _sit()
    for c in (_c("traefik"), _c("edge", labels={"homelab-ops.service": "traefik"}),
              _c("edge", image="docker.io/library/traefik:v3.1")):
        p = decide.plan(_finding(c.name), _obs(c), BOOK, sit)
        assert p.verdict == "alerted" and "protected" in p.reason
    queued = decide.plan(_finding("traefik"), _obs(_c("traefik")), BOOK,
                         _sit(loop=LoopSettings(protected_action="queue")))
    assert queued.verdict == "queued"


def test_database_services_are_medium_risk() -> None:
    c = _c("db", labels={"homelab-ops.pattern": "database"})
    p = decide.plan(_finding("db"), _obs(c), BOOK, _sit())
    assert (p.risk, p.verdict) == ("medium", "notified")


def test_pause_stop_and_breaker_skip() -> None:
    for action in ("pause", "stop"):
        log = [Decision(id=1, ts=NOW - 5, cycle="", action=action, verdict="control",
                        reason="x")]
        p = decide.plan(_finding(), _obs(_c("wiki")), BOOK, _sit(log))
        assert p.verdict == "skipped" and action in p.reason
    # three failures of another playbook: learning leaves restarts alone, the breaker not
    log = [r for i in range(3)
           for r in _acted(i, f"s{i}", "failed", NOW - 100 + i, "free-disk")]
    p = decide.plan(_finding(), _obs(_c("wiki")), BOOK, _sit(log))
    assert p.verdict == "skipped" and "breaker" in p.reason
    resumed = [*log, Decision(id=99, ts=NOW - 1, cycle="", action="resume",
                              verdict="control", reason="ok")]
    assert controls.control_state(resumed, 3).halted is None


def test_the_recommenders_pick_orders_the_playbooks_and_peoples_reports_lower_confidence(
        tmp_path: Path) -> None:
    """On a real store: free-disk failed for people and for the cycle, so the
    recommender ranks it last; the decision names the skill and why, and people's
    failures cost confidence (the cycle's own count through the loop's reliability
    instead, never twice)."""
    from homelab_ops.loop.playbooks import handling
    from homelab_ops.recommend.learn import cycle_outcome, for_finding, record_outcome
    from homelab_ops.store import Store

    disk = _finding("/srv", "disk_full")
    with Store.open(tmp_path) as store:
        fresh = for_finding(store, "disk_full", handling("disk_full"))
        [free] = [p for p in fresh if p.skill == "free-disk"]
        for _ in range(3):
            cycle_outcome(store, "disk_full", free, worked=False)
            record_outcome(store, "free-disk", worked=False)
        learned = for_finding(store, "disk_full", handling("disk_full"))
    assert [p.skill for p in learned][-1] == "free-disk"  # ranked below rotate-snapshots
    # the disk rule stands whatever was learned: rotating copies frees nothing on a
    # disk that holds none
    assert decide.choose_playbook(disk, BOOK, learned).name == "free-disk"
    backup = disk.model_copy(update={"evidence": {"backup_target": True}})
    assert decide.choose_playbook(backup, BOOK, fresh).name == "rotate-snapshots"
    # where two playbooks fit, the recommender's order picks
    both = {**BOOK, "restart-leaking": Entry("restart-leaking", "low", ("unhealthy",))}
    order = [free.model_copy(update={"skill": n, "playbook": n})
             for n in ("restart-leaking", "restart")]
    assert decide.choose_playbook(_finding(code="unhealthy"), both, order).name == \
        "restart-leaking"
    assert decide.choose_playbook(_finding(code="unhealthy"), both, order[::-1]).name == \
        "restart"
    # a redeploy needs the stack file the container came from: without it a restart
    # stays the pick however the rates moved
    from homelab_ops.loop.playbooks import PLAYBOOKS

    first = [free.model_copy(update={"skill": n, "playbook": n})
             for n in ("redeploy", "restart")]
    assert decide.choose_playbook(_finding(), PLAYBOOKS, first).name == "restart"
    stacked = _finding().model_copy(update={"evidence": {"stack_file": "/s.yaml"}})
    assert decide.choose_playbook(stacked, PLAYBOOKS, first).name == "redeploy"
    trusted = decide.plan(disk, _obs(), BOOK, _sit().model_copy(
        update={"skills": {"disk_full": fresh}}))
    doubted = decide.plan(disk, _obs(), BOOK,
                          _sit().model_copy(update={"skills": {"disk_full": learned}}))
    assert trusted.skill is not None and trusted.skill.skill == "free-disk"
    assert doubted.skill is not None and "3 failed" in doubted.skill.why
    assert doubted.confidence < trusted.confidence
    assert (trusted.verdict, doubted.verdict) == ("executed", "queued")


def test_a_success_resets_the_breaker_count() -> None:
    log = [*_acted(0, "a", "failed", 1), *_acted(1, "b", "failed", 2),
           *_acted(2, "c", "success", 3), *_acted(3, "d", "failed", 4)]
    assert controls.control_state(log, 3).consecutive_failures == 1


def test_cooldown_per_action_and_per_service() -> None:
    log = _acted(0, "wiki", "success", NOW - 600)  # 10 minutes ago
    p = decide.plan(_finding(), _obs(_c("wiki")), BOOK, _sit(log))
    assert p.verdict == "skipped" and "cooldown" in p.reason
    other = decide.plan(_finding("cloud"), _obs(_c("cloud")), BOOK, _sit(log))
    assert other.verdict == "executed"
    later = _acted(0, "wiki", "success", NOW - 3600)
    assert decide.plan(_finding(), _obs(_c("wiki")), BOOK, _sit(later)).verdict == "executed"


def test_an_interrupted_action_starts_no_cooldown() -> None:
    log = _acted(0, "wiki", "interrupted", NOW - 60)
    assert decide.plan(_finding(), _obs(_c("wiki")), BOOK, _sit(log)).verdict == "executed"


def test_the_restart_budget_escalates_to_the_queue() -> None:
    loop = LoopSettings(cooldown_minutes={}, service_cooldown_minutes=0,
                        backoff_base_minutes=0, backoff_cap_minutes=0)
    log = [r for i in range(3) for r in _acted(i, "wiki", "success", NOW - 7200 + i)]
    p = decide.plan(_finding(), _obs(_c("wiki")), BOOK, _sit(log, loop))
    assert p.verdict == "queued" and "budget" in p.reason
    old = [r for i in range(3) for r in _acted(i, "wiki", "success", NOW - 90000 + i)]
    assert decide.plan(_finding(), _obs(_c("wiki")), BOOK, _sit(old, loop)).verdict == "executed"


def test_outside_the_maintenance_window_nothing_runs() -> None:
    hour = datetime.fromtimestamp(NOW).hour
    away = f"{(hour + 2) % 24:02d}:00-{(hour + 3) % 24:02d}:00"
    p = decide.plan(_finding(), _obs(_c("wiki")), BOOK,
                    _sit(loop=LoopSettings(maintenance_windows=(away,))))
    assert p.verdict == "skipped" and "maintenance" in p.reason
    inside = f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"
    assert controls.in_window((inside,), NOW) and controls.in_window((), NOW)


def test_learning_moves_confidence_and_a_failing_playbook_sinks() -> None:
    f = _finding()
    start = decide.plan(f, _obs(_c("wiki")), BOOK, _sit()).confidence
    loop = LoopSettings(cooldown_minutes={}, service_cooldown_minutes=0, restart_budget=99,
                        breaker_failures=99)
    fails = [r for i in range(3) for r in _acted(i, f"s{i}", "failed", NOW - 500 + i)]
    after = decide.plan(f, _obs(_c("wiki")), BOOK, _sit(fails, loop))
    assert after.confidence < start and after.verdict == "queued"
    wins = [r for i in range(10) for r in _acted(i, f"s{i}", "success", NOW - 500 + i)]
    assert decide.plan(f, _obs(_c("wiki")), BOOK, _sit(wins, loop)).confidence > start


def test_disk_on_a_backup_pool_rotates_snapshots() -> None:
    f = Finding(code="disk_full", subject="/srv/backup", host="nas", message="m",
                clarity=0.97, evidence={"backup_target": True})
    assert decide.choose_playbook(f, BOOK).name == "rotate-snapshots"
    plain = f.model_copy(update={"evidence": {}})
    assert decide.choose_playbook(plain, BOOK).name == "free-disk"


def test_no_playbook_means_alert() -> None:
    p = decide.plan(_finding(code="restore_test"), _obs(), BOOK, _sit())
    assert p.verdict == "alerted" and p.playbook is None


# -- properties -------------------------------------------------------------------------
names = st.sampled_from(["wiki", "cloud", "traefik", "authelia", "db", "media"])
codes = st.sampled_from(["container_down", "unhealthy", "memory_leak", "disk_full",
                         "drift", "restart_loop", "backup_stale"])
outcomes = st.sampled_from(["success", "failed", "interrupted", None])
controls_seq = st.lists(st.sampled_from(["pause", "stop", "resume"]), max_size=3)


@st.composite
def situations(draw):
    log: list[Decision] = []
    for _ in range(draw(st.integers(0, 6))):
        log += _acted(len(log), draw(names), draw(outcomes),
                      NOW - draw(st.floats(0, 200_000)),
                      draw(st.sampled_from(["restart", "redeploy", "free-disk"])))
    for action in draw(controls_seq):
        log.append(Decision(id=len(log) + 1, ts=NOW - 1, cycle="", action=action,
                            verdict="control", reason="x"))
    loop = LoopSettings(breaker_failures=draw(st.integers(1, 4)),
                        restart_budget=draw(st.integers(1, 4)))
    return _sit(log, loop)


@settings(max_examples=300, deadline=None)
@given(situations(), names, codes, st.floats(0, 1))
def test_property_gates_hold(sit, subject, code, clarity) -> None:
    f = _finding(subject, code, clarity)
    c = _c(subject, labels={"homelab-ops.pattern": "database"} if subject == "db" else {})
    p = decide.plan(f, _obs(c), BOOK, sit)
    acting = p.verdict in ("executed", "notified")
    if subject in ("traefik", "authelia"):
        assert not acting  # a protected service is never acted on
    if sit.control.halted:
        assert not acting  # nothing runs while paused, stopped or with the breaker open
    if p.playbook is not None and all(g.ok for g in p.gates):
        assert p.verdict == decide.matrix(p.confidence, p.risk)  # the matrix exactly
    if acting:
        assert p.verdict == decide.matrix(p.confidence, p.risk)
        assert all(g.ok for g in p.gates)
    # every decision not to act names the gate that held it and what would change it
    assert (p.held_by is None) == acting
    if not acting:
        assert not p.held_by.ok and p.held_by.change
        assert p.held_by.until is None or p.held_by.until > NOW


def test_no_action_inside_the_start_up_grace() -> None:
    """The healthcheck's start period or the service's declared grace, from its start;
    and while its healthcheck reports starting. A crash loop is judged at once."""
    started = datetime.fromtimestamp(NOW - 60, UTC)
    f = _finding(code="unhealthy")
    for c in (_c("wiki", state="running", started_at=started, health_start_period_s=120),
              _c("wiki", state="running", started_at=started,
                 labels={"homelab-ops.grace": "300"})):
        p = decide.plan(f, _obs(c), BOOK, _sit())
        assert p.verdict == "skipped" and p.held_by.gate == "grace"
        assert p.held_by.until > NOW and "grace" in p.reason
    starting = _c("wiki", state="running", started_at=started, health="starting")
    p = decide.plan(f, _obs(starting), BOOK, _sit())
    assert p.verdict == "skipped" and "starting" in p.reason
    late = _c("wiki", state="running", started_at=started, health_start_period_s=30,
              health="unhealthy")
    assert decide.plan(f, _obs(late), BOOK, _sit()).verdict == "executed"
    assert decide.grace_gate(_finding(code="restart_loop"), starting, NOW, LoopSettings()).ok
    recovering = late.model_copy(update={"log_tail": [
        "LOG: database system was interrupted; automatic recovery in progress"]})
    p = decide.plan(f, _obs(recovering), BOOK, _sit())
    assert p.verdict == "skipped" and "recovering" in p.reason
    assert p.held_by.until == NOW - 60 + 30 * 60  # at most recovery_max_minutes
    stuck = recovering.model_copy(update={"started_at": datetime.fromtimestamp(
        NOW - 3600, UTC)})
    assert decide.plan(f, _obs(stuck), BOOK, _sit()).verdict == "executed"


@settings(max_examples=int(os.environ.get("HOMELAB_PROPERTY_EXAMPLES", "2000")),
          deadline=None)
@given(situations(), codes, st.floats(0, 1), st.floats(0, 3600), st.floats(0, 600),
       st.integers(0, 900), st.sampled_from([None, "healthy", "unhealthy", "starting"]),
       st.sampled_from(["running", "exited"]), st.booleans())
def test_property_zero_actions_during_grace(sit, code, clarity, age, period, grace,
                                            health, state, recovering) -> None:
    c = _c("wiki", state=state, health=health, health_start_period_s=period,
           started_at=datetime.fromtimestamp(NOW - age, UTC),
           labels={"homelab-ops.grace": str(grace)} if grace else {},
           log_tail=["crash recovery in progress"] if recovering else [])
    p = decide.plan(_finding("wiki", code, clarity), _obs(c), BOOK, sit)
    in_grace = state == "running" and (age < max(period, grace) or health == "starting"
                                       or (recovering and age < 30 * 60))
    if in_grace and code not in ("restart_loop", "oom_killed"):
        assert p.verdict not in ("executed", "notified")


def test_dependents_are_restarted_with_it_in_order_never_a_protected_one() -> None:
    """Sharing its network namespace (by id, as podman records it) or requiring it, and
    what needs those in turn; a protected one is left alone."""
    obs = _obs(_c("db", id="a" * 64),
               _c("sidecar", state="running", needs=["a" * 64]),
               _c("app", state="running", needs=["sidecar"]),
               _c("traefik", state="running", needs=["db"]),
               _c("other", state="running", needs=["cloud"]))
    assert decide.dependents(obs, "db", ("traefik",)) == ["sidecar", "app"]
    p = decide.plan(_finding("db"), obs, BOOK, _sit())
    assert p.params == {"service": "db", "dependents": ["sidecar", "app"]}
    alone = decide.plan(_finding("other"), obs, BOOK, _sit())
    assert "dependents" not in alone.params


def test_the_lock_admits_one_cycle(tmp_path: Path) -> None:
    """A real second process is refused while the first holds the lock."""
    code = ("import sys; from pathlib import Path; from homelab_ops.loop.controls import "
            "cycle_lock, Busy\ntry:\n with cycle_lock(Path(sys.argv[1])): print('got')\n"
            "except Busy as b: print('busy', b)")
    with controls.cycle_lock(tmp_path):
        other = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                               capture_output=True, text=True, check=True)
        assert other.stdout.startswith("busy") and str(os.getpid()) in other.stdout
    again = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                           capture_output=True, text=True, check=True)
    assert again.stdout.strip() == "got"
