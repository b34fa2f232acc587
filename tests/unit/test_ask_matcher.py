"""The matcher's parts: normaliser, templates, slot filling, the database file."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homelab_ops.query.intents import compile_template, load_database, parse_database
from homelab_ops.query.matcher import carried, match
from homelab_ops.query.normalize import MAX_CHARS, normalize
from homelab_ops.query.slots import Names
from tests.conftest import REPO, run_cli

NAMES = Names(service={"jellyfin": "jellyfin", "immich-server": "immich_server",
                       "db": "db"},
              network={"proxy": "proxy"}, filesystem={"/": "/", "/mnt/data": "/mnt/data"})


@given(st.text(max_size=3000))
def test_normalise_is_idempotent_and_bounded(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once and len(once) <= MAX_CHARS


@pytest.mark.parametrize(("raw", "expected"), [
    ("Is JELLYFIN Running?!", "is jellyfin running"),
    ("\uff49\uff53 jellyfin \uff55\uff50", "is jellyfin up"),  # full-width letters
    ("is \u0458ellyfin up", "is jellyfin up"),  # Cyrillic je
    ("jelly\u200bfin", "jellyfin"),  # zero-width space
    ("what's up; rm -rf /", "whats up rm rf /"),
    ("immich_server...", "immich-server"),
])
def test_normalise(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_template_syntax() -> None:
    t = compile_template("[what is] [the] (status|state) of {service}")
    assert t.match("status of {service}") and t.match("what is the state of immich server")
    assert not t.match("the status")


def test_database_is_complete() -> None:
    db = load_database()
    ids = [i.id for i in db.intents]
    assert len(ids) == len(set(ids)) >= 16
    assert 0 < db.threshold < 1 and 0 < db.margin < 1
    for intent in db.intents:
        assert len(intent.examples) >= 15 and intent.description and intent.ttl > 0
        assert set(intent.required) <= set(intent.slots)


def test_database_ships_with_the_package() -> None:
    assert '"query/*.json"' in (REPO / "pyproject.toml").read_text()


@pytest.mark.parametrize(("question", "intent", "slots"), [
    ("is jelyfin runing", "service_running", {"service": "jellyfin"}),
    ("when did immich server restart", "last_restart", {"service": "immich_server"}),
    ("whos on the prxy network", "network_members", {"network": "proxy"}),
    ("how full is the data pool", "disk_detail", {"filesystem": "/mnt/data"}),
    ("is db up", "service_running", {"service": "db"}),
])
def test_slots_are_filled_with_names_that_exist(question, intent, slots) -> None:
    m = match(question, NAMES)
    assert m.intent is not None and m.intent.id == intent
    assert {k: s.name for k, s in m.slots.items()} == slots


def test_short_names_must_match_exactly() -> None:
    m = match("is dc up", NAMES)
    assert "db" not in [s.name for s in m.slots.values()]


def test_unknown_name_keeps_what_was_said_with_close_names() -> None:
    m = match("is jellyfox running", NAMES)
    assert m.intent is not None and m.intent.id == "service_running"
    slot = m.slots["service"]
    assert slot.name is None and slot.said == "jellyfox" and "jellyfin" in slot.close


def test_low_confidence_is_not_a_guess() -> None:
    m = match("what is the capital of france", NAMES)
    assert m.intent is None and len(m.ranking) >= 3
    assert match("", NAMES).intent is None


def test_ask_imports_nothing_heavy(tmp_path) -> None:
    """The real command on a cold process: no pyinfra, numpy or pydantic loaded."""
    proc = run_cli("--state-dir", str(tmp_path), "ask", "is jellyfin running",
                   env={"PYTHONPROFILEIMPORTTIME": "1", "PATH": "/usr/bin:/bin"})
    loaded = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
              if line.startswith("import time:")}
    assert "homelab_ops.query.run" in loaded
    heavy = {m for m in loaded if m.split(".")[0] in {"pyinfra", "numpy", "pydantic",
                                                      "rich", "jinja2", "btrfsutil"}}
    assert heavy == set(), heavy


def test_numbers_tell_names_apart() -> None:
    names = Names(service={"svc-7": "svc-7", "postgres-16": "postgres-16"})
    assert match("is svc-77 running", names).slots["service"].name is None
    assert match("is svc 7 running", names).slots["service"].name == "svc-7"
    assert match("is postgrse-16 up", names).slots["service"].name == "postgres-16"


@pytest.mark.parametrize(("question", "intent", "slots"), [
    ("has jellyfin stopped", "service_running", {"service": "jellyfin"}),
    ("did db die", "service_running", {"service": "db"}),
    ("did anything die", "service_status", {}),
    ("when did jellyfin die", "last_restart", {"service": "jellyfin"}),
])
def test_a_failure_verb_asks_about_the_service_it_names(question, intent, slots) -> None:
    m = match(question, NAMES)
    assert m.intent is not None and m.intent.id == intent, m
    assert {k: s.name for k, s in m.slots.items()} == slots


def test_a_required_slot_that_is_filled_wins_within_the_band() -> None:
    """service_status needs no name, service_running needs one: with a name given, the
    intent that uses it wins even when it scores a little lower."""
    m = match("has jellyfin stopped", NAMES)
    assert "fail" in m.canonical.split() and m.intent.id == "service_running"
    assert m.cues and m.via == "cue"


@pytest.mark.parametrize("question", ["delete all snapshots", "wipe /mnt/data",
                                      "sudo reboot", "remove the jellyfin container",
                                      "restart jellyfin", "stop the proxy", "reboot",
                                      "could you restart jellyfin", "please stop the proxy",
                                      "turn off jellyfin", "give jellyfin more memory"])
def test_a_request_to_act_is_refused(question: str) -> None:
    m = match(question, NAMES)
    assert m.intent is None and m.via == "refused" and m.refused


def test_a_command_verb_inside_a_question_is_no_command() -> None:
    assert match("restart history of jellyfin", NAMES).intent.id == "last_restart"
    assert match("start time of jellyfin", NAMES).intent.id == "last_restart"


def test_a_polite_question_is_no_command() -> None:
    assert match("can you check whether jellyfin is running", NAMES).intent.id == \
        "service_running"
    assert match("give me a health check", NAMES).intent.id == "health_score"


def test_a_question_nearer_to_what_ask_does_not_answer_is_refused() -> None:
    """"back up my photos now" clears the threshold for last_backup, but the database's
    out-of-scope examples are nearer: it is refused, and no such label is suggested."""
    m = match("back up my photos now", NAMES)
    assert m.intent is None and m.via == "outside"
    assert m.score >= load_database().threshold
    assert {i for i, _ in m.ranking} <= {i.id for i in load_database().intents}


def test_a_network_name_before_networks_describes_them() -> None:
    names = Names(network={"podman": "podman", "proxy": "proxy"})
    assert match("all podman networks", names).intent.id == "network_overview"
    assert match("who is on the podman network", names).slots["network"].name == "podman"


def test_explain_names_the_words_that_carried_the_match() -> None:
    m = match("which container is the ram pig", NAMES)
    assert m.intent.id == "top_memory" and m.canonical.split()[-2:] == ["memory", "hog"]
    words = [w for w, _ in carried(m)]
    assert "memory" in words[:2]


@pytest.mark.parametrize(("change", "field"), [
    (lambda raw: raw["lexicon"].update(extra=["ram"]), "lexicon: 'ram'"),
    (lambda raw: raw["intents"][0].update(cues=[{"all": ["ram"]}]), "cues: ['ram']"),
])
def test_a_contradiction_in_the_database_names_its_field(change, field) -> None:
    raw = json.loads((REPO / "homelab_ops/query/intents.json").read_text())
    change(raw)
    with pytest.raises(ValueError, match=re.escape(field)):
        parse_database(raw)
