"""Notifications people keep switched on (issue 17 item 5), through the real cycle
ACT step and a real HTTP receiver on 127.0.0.1: one digest for many alerts, at most
one message per incident per service within the window, a new incident is told."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from homelab_ops.loop import controls, cycle, decide, incidents
from homelab_ops.loop import log as decision_log
from homelab_ops.loop.act import Actor
from homelab_ops.models.decision import CycleReport
from homelab_ops.models.finding import Finding
from homelab_ops.models.observation import Observation
from homelab_ops.models.settings import Notifications, Settings
from homelab_ops.store import Store
from tests.conftest import run_cli
from tests.unit.test_loop_decide import BOOK


class Receiver:
    def __init__(self) -> None:
        got = self.got = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/"


def _cycle(store: Store, settings: Settings, subjects: list[str], now: float) -> CycleReport:
    """One cycle's incident tracking, decisions and notices for ``subjects`` down
    (clarity 0.6: alerts, nothing acts)."""
    findings = [Finding(code="container_down", subject=s, host="nas", clarity=0.6,
                        message=f"{s} exited") for s in subjects]
    seen = {"nas": Observation(host="nas", ts=datetime.fromtimestamp(now, UTC),
                               reachable=True)}
    resolved = cycle._track_incidents(store, findings, seen, "c", settings, now)
    log = decision_log.entries(store)
    sit = decide.Situation(now=now, settings=settings, log=log,
                           control=controls.control_state(log, 3), tallies={},
                           incidents=incidents.incidents(log))
    report = CycleReport(cycle="c", started=now, resolved=resolved,
                         planned=[decide.plan(f, None, BOOK, sit) for f in findings])
    actor = Actor(store, settings, inventory=None, cycle="c", observations={},
                  clock=lambda: now)
    cycle._act(actor, report, sit)
    return report


def test_one_digest_then_one_message_per_incident(tmp_path: Path) -> None:
    rx = Receiver()
    try:
        settings = Settings(notifications=Notifications(urls=(rx.url,)))
        ten = [f"job{i}" for i in range(10)]
        with Store.open(tmp_path) as store:
            now = time.time()
            first = _cycle(store, settings, ten, now)
            assert {p.verdict for p in first.planned} == {"alerted"}
            assert len(rx.got) == 1 and all(n in rx.got[0]["message"] for n in ten)
            assert (first.notice_events, first.notice_messages) == (10, 1)
            # the same ten an hour later: same incidents, inside the window: quiet
            assert _cycle(store, settings, ten, now + 3600).notifications == []
            assert len(rx.got) == 1
            # job0 is fine for longer than H: its incident is resolved, and it is
            # told (a person heard of it); then it fails again: a new incident, told
            _cycle(store, settings, ten[1:], now + 7200)
            resolved = _cycle(store, settings, ten[1:], now + 7200 + 3601)
            assert len(resolved.resolved) == 1 and "job0" in rx.got[-1]["message"]
            assert "resolved" in rx.got[-1]["message"]
            told = len(rx.got)
            again = _cycle(store, settings, ten, now + 7200 + 3700)
            assert len(rx.got) == told + 1 and "job0 exited" in rx.got[-1]["message"]
            assert "job1" not in rx.got[-1]["message"]  # still its first incident
            assert again.notice_events == 10
        # the incidents: job0's first ended without a person (auto-resolved), the rest
        # are open; nothing was escalated
        out = json.loads(run_cli("--state-dir", str(tmp_path), "incidents", "--json",
                                 "--since", "30d").stdout)
        job0 = [i for i in out["incidents"] if i["subject"] == "job0"]
        assert [i["state"] for i in job0] == ["resolved", "open"]
        assert job0[0]["mttr_s"] == 7200 and job0[0]["escalated"] is None
        assert len(out["incidents"]) == 11
        assert sum(w["incidents"] for w in out["weeks"]) == 11
        text = run_cli("--state-dir", str(tmp_path), "incidents", "--service", "job0",
                       "--since", "30d").stdout
        assert "time to recover 2.0 h" in text and "auto-resolved" in text
    finally:
        rx.server.shutdown()
