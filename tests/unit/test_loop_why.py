"""``homelab-ops why SERVICE``: the newest decisions about a service and what would
have to change for the loop to act — for a protected service, one in cooldown, one
below the confidence line, through the real command line and a real store."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from homelab_ops.loop import controls, decide
from homelab_ops.loop import log as decision_log
from homelab_ops.loop.act import Actor
from homelab_ops.loop.playbooks import handling
from homelab_ops.models.decision import Decision
from homelab_ops.models.finding import Finding
from homelab_ops.models.observation import ContainerObs, Observation
from homelab_ops.models.settings import Settings
from homelab_ops.recommend.learn import for_finding
from homelab_ops.store import Store
from tests.conftest import run_cli
from tests.unit.test_loop_decide import BOOK


def _plan(store: Store, subject: str, clarity: float = 1.0):
    now = time.time()
    log = decision_log.entries(store)
    s = Settings()
    sit = decide.Situation(now=now, settings=s, log=log,
                           control=controls.control_state(log, 3),
                           tallies=decide.tallies(log, now),
                           skills={"container_down": for_finding(
                               store, "container_down", handling("container_down"))})
    obs = Observation(host="nas", ts=datetime.fromtimestamp(now, UTC), reachable=True,
                      containers=[ContainerObs(name=subject, id=subject, image="app:1",
                                               state="exited")])
    f = Finding(code="container_down", subject=subject, host="nas", clarity=clarity,
                message=f"{subject} is down")
    p = decide.plan(f, obs, BOOK, sit)
    Actor(store, s, inventory=None, cycle="c", observations={}).record(p)
    return p


def test_why_explains_protection_cooldown_and_confidence(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Store.open(state) as store:
        assert _plan(store, "traefik").verdict == "alerted"
        decision_log.append(store, Decision(  # a restart of wiki 5 minutes ago
            ts=time.time() - 300, cycle="c0", host="nas", subject="wiki",
            finding="container_down", action="restart", verdict="executed", reason="r"))
        assert _plan(store, "wiki").verdict == "skipped"
        assert _plan(store, "cron", clarity=0.6).verdict == "alerted"

    def why(service: str) -> str:
        return run_cli("--state-dir", str(state), "why", service).stdout

    out = why("traefik")
    assert "protected service" in out and "to act: protected:" in out
    assert "protected_services" in out.splitlines()[-1]
    out = why("wiki")
    last = out.splitlines()[-1]
    assert "cooldown after restart of wiki" in out and last.startswith("to act: cooldown:")
    assert re.search(r"\(in \d+ min\)$", last), last
    assert "not above 70 %" in why("cron")
    assert "picked by the recommender: skill restart ranked 1 of 2 for container_down" \
        in why("cron")
    assert "nothing wrong" in why("media")
    data = json.loads(run_cli("--state-dir", str(state), "why", "wiki", "--json").stdout)
    assert [d["verdict"] for d in data["decisions"]] == ["skipped", "executed"]
    assert data["decisions"][0]["detail"]["held_by"]["gate"] == "cooldown"
