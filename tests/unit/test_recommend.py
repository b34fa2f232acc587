"""The skill catalogue, the learning and ``homelab-ops recommend`` on a real store and the
real console script."""

from __future__ import annotations

import json
import shlex
from importlib.resources import files
from pathlib import Path

import pytest

from homelab_ops.cli import cli
from homelab_ops.commands.invoke import command_path
from homelab_ops.errors import InputError
from homelab_ops.loop.playbooks import PLAYBOOKS, handling
from homelab_ops.models.categories import CATEGORIES
from homelab_ops.query.slots import Names
from homelab_ops.recommend.catalogue import load_catalogue, parse_catalogue
from homelab_ops.recommend.classify import classify, fill
from homelab_ops.recommend.learn import cycle_outcome, for_finding, recommend, record_outcome
from homelab_ops.store import Store
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]
NAMES = Names.from_observations([{"containers": [
    {"name": n, "state": "running"} for n in ("jellyfin", "immich-server", "redis")]}])


def test_catalogue_covers_every_category_and_every_playbook() -> None:
    cat = load_catalogue()
    assert {s.category for s in cat.skills} == set(CATEGORIES) and len(CATEGORIES) >= 8
    assert set(PLAYBOOKS) <= {s.playbook for s in cat.skills}
    # each playbook has the skill named after it: the one the cycle's pick is
    assert set(PLAYBOOKS) <= {s.id for s in cat.skills if s.id == s.playbook}
    assert {s.playbook for s in cat.skills} - {None} <= set(PLAYBOOKS)


@pytest.mark.parametrize("skill", load_catalogue().skills, ids=lambda s: s.id)
def test_every_command_exists(skill) -> None:
    argv = skill.argv
    if argv[0] == "pyinfra":  # a deploy file of this repository, a playbook it knows
        deploy = REPO / argv[2]
        assert deploy.is_file(), skill.command
        data = dict(a.split("=", 1) for a in argv[3:] if "=" in a)
        if "playbook" in data:
            assert data["playbook"] in PLAYBOOKS and data["playbook"] in deploy.read_text()
        return
    assert command_path(argv, cli) is not None, skill.command


def test_a_broken_catalogue_names_the_file_and_the_field() -> None:
    raw = json.loads(files("homelab_ops.recommend").joinpath("skills.json").read_text())
    next(s for s in raw["skills"] if s["id"] == "restart")["risk"] = "extreme"
    with pytest.raises(InputError, match=r"skills\.json: skills\[restart\]\.risk"):
        parse_catalogue(json.dumps(raw))
    with pytest.raises(InputError, match=r"skills\.json: line 1"):
        parse_catalogue("{not json")


def test_a_resolved_name_is_one_argv_element_and_an_unresolved_one_never_runs() -> None:
    skill = load_catalogue().skill("diagnose-service")
    command, argv = fill(skill, "odd name; rm -rf /")
    assert argv == ("homelab-ops", "diagnose", "odd name; rm -rf /")
    assert shlex.split(command) != list(argv)  # the shown line is for people, not a shell
    rec = classify("nextcloud keeps crashing", NAMES)
    assert rec.ranked[0].skill.id == "diagnose-service"
    assert rec.ranked[0].argv is None and "<service>" in rec.ranked[0].command
    assert classify("jelyfin keeps crashing", NAMES).ranked[0].argv == (
        "homelab-ops", "diagnose", "jellyfin")


def test_a_lexicon_word_in_another_group_than_asks_is_an_error() -> None:
    from homelab_ops.recommend.classify import merged_lexicon

    with pytest.raises(ValueError, match=r"skills\.json: lexicon: \['ram'\]"):
        merged_lexicon({"slow": ["ram"]})  # ask reads "ram" as memory


def test_a_misspelled_unknown_name_says_which_names_are_close() -> None:
    rec = classify("jellyfim2 keeps crashing", NAMES)
    assert "did you mean jellyfin" in rec.ranked[0].reason, rec.ranked[0].reason


def test_out_of_scope_text_is_rejected() -> None:
    assert not classify("tell me a joke", NAMES).confident
    assert not classify("", NAMES).confident


def test_ranking_learns_and_a_failing_skill_sinks(tmp_path: Path) -> None:
    """The text ranks pausing the loop first for "is the loop paused"; people who took it
    found it did not help and the status did, so the status rises above it."""
    text = "is the loop paused"
    with Store.open(tmp_path) as store:
        before = [r.skill.id for r in recommend(store, text).ranked]
        assert before[:2] == ["ops-pause", "ops-status"]
        first, second = before[0], before[1]
        for _ in range(12):
            record_outcome(store, first, worked=False)
            record_outcome(store, second, worked=True)
        after = recommend(store, text).ranked
        ids = [r.skill.id for r in after]
        assert ids.index(second) < ids.index(first), ids
        by_id = {r.skill.id: r for r in after}
        assert by_id[first].rate < 0.5 < by_id[second].rate
        # the outcomes count for the category the skill was offered in
        assert store.skill_tally()[("maintenance", first)] == (0, 12)


def test_an_unknown_skill_is_one_clear_error(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store, pytest.raises(Exception, match="no skill called"):
        record_outcome(store, "reboot-the-moon", worked=True)


def test_the_cycle_ranks_playbook_skills_for_a_finding_by_their_record(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert {p.skill for p in _disk_picks(store)} >= {"free-disk",
                                                                      "rotate-snapshots"}
        [free] = [p for p in _disk_picks(store) if p.skill == "free-disk"]
        for _ in range(6):
            cycle_outcome(store, "disk_full", free, worked=False)
        [offered] = store.db.execute("SELECT COUNT(*) FROM skill_outcomes o JOIN "
                                     "recommendations r ON r.id = o.recommendation "
                                     "WHERE r.source = 'cycle'").fetchone()
        assert offered == 6  # each outcome points at the cycle's own offer
        picks = _disk_picks(store)
        assert picks[0].skill != "free-disk" and picks[-1].skill == "free-disk"
        # the cycle's own failures rank it lower but leave its confidence alone (the
        # loop's reliability counts them); a person's failures lower the confidence
        assert picks[-1].people == 1.0
        for _ in range(4):
            record_outcome(store, "free-disk", worked=False)
        [free] = [p for p in _disk_picks(store) if p.skill == "free-disk"]
        assert free.people < 1.0 and "people reported 0 worked, 4 failed" in free.why


def test_run_invokes_the_top_read_only_skill_in_process(tmp_path: Path) -> None:
    state = str(tmp_path)
    proc = run_cli("--state-dir", state, "recommend", "are my backups ok", "--run")
    assert "running: homelab-ops backup status" in proc.stdout
    assert "last restore test: never" in proc.stdout  # backup status's own output
    data = json.loads(run_cli("--state-dir", state, "recommend", "is the loop paused",
                              "--run", "--json").stdout)
    assert data["ran"]["argv"] == ["homelab-ops", "ops", "status"]
    assert data["ran"]["exit"] == 0 and "circuit breaker" in data["ran"]["output"]


def test_run_never_runs_a_change_and_fails_in_one_line(tmp_path: Path) -> None:
    state = str(tmp_path)
    with Store.open(tmp_path) as store:
        store.add_observation("nas", 1.0, True, {"containers": [
            {"name": "jellyfin", "state": "running"}]})
    proc = run_cli("--state-dir", state, "recommend", "restart jellyfin")
    assert "pyinfra <inventory.py> deploys/remediate.py --data playbook=restart " \
           "--data service=jellyfin" in proc.stdout
    proc = run_cli("--state-dir", state, "recommend", "nextcloud keeps crashing", "--run",
                   check=False)
    assert proc.returncode != 0 and len(proc.stderr.splitlines()) == 1
    assert "no service called 'nextcloud' runs here" in proc.stderr
    if "diagnose" not in cli.commands:  # until wt-skills is merged
        proc = run_cli("--state-dir", state, "recommend", "jellyfin keeps crashing", "--run",
                       check=False)
        assert proc.returncode != 0 and "command not available" in proc.stderr


def test_took_records_an_outcome(tmp_path: Path) -> None:
    proc = run_cli("--state-dir", str(tmp_path), "recommend", "--took", "backup-status",
                   "--failed", "--json")
    assert json.loads(proc.stdout)["tally"] == {"worked": 0, "failed": 1}
    bad = run_cli("--state-dir", str(tmp_path), "recommend", "--took", "backup-status",
                  check=False)
    assert bad.returncode == 2 and "--worked or --failed" in bad.stderr


def _observed(where: Path, **container) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    with Store.open(where) as store:
        store.add_observation("nas", now.timestamp(), True, {
            "host": "nas", "ts": now.isoformat(), "reachable": True, "networks": [],
            "filesystems": [], "containers": [{"name": "jellyfin", **container}]})


@pytest.mark.parametrize(("question", "skill"), [
    ("jellyfin keeps crashing", "diagnose-service"),
    ("why is jellyfin slow?", "slow-service"),
    ("how do i free disk space", "free-disk"),
    ("is my server secure", "audit"),
])
def test_ask_hands_a_task_to_the_recommender(tmp_path: Path, question: str, skill: str) -> None:
    from homelab_ops.query.run import ask
    from homelab_ops.recommend.handoff import task_for

    _observed(tmp_path, state="exited")
    with Store.open(tmp_path) as store:
        reply = ask(store, question, tasks=task_for)
    assert reply["recommended"][0]["id"] == skill, reply
    assert any("That sounds like a task" in line for line in reply["lines"])


def test_ask_answers_a_question_without_recommending(tmp_path: Path) -> None:
    from homelab_ops.query.run import ask
    from homelab_ops.recommend.handoff import task_for

    _observed(tmp_path, state="running")
    with Store.open(tmp_path) as store:
        reply = ask(store, "is jellyfin running", tasks=task_for)
    assert reply["intent"] == "service_running" and "recommended" not in reply


def _disk_picks(store):
    return for_finding(store, "disk_full", handling("disk_full"))
