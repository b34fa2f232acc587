"""Backoff that resets and escalates (issue 17 item 2), over the real decider, the real
incident tracking and a decision log kept in memory: attempts spaced by the backoff,
exactly one escalation per incident, and a failure after H healthy starts again at
the base delay. Properties over many random event sequences."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from homelab_ops.loop import controls, decide, incidents
from homelab_ops.models.decision import Decision
from homelab_ops.models.finding import Finding
from homelab_ops.models.observation import Observation
from homelab_ops.models.settings import LoopSettings, Settings
from tests.unit.test_loop_decide import BOOK

T0 = 1_800_000_000.0
EXAMPLES = int(os.environ.get("HOMELAB_PROPERTY_EXAMPLES", "2000"))


class Sim:
    """One service through many cycles: the cycle's own steps (incident rows, plan,
    record, outcome) on a list instead of the store."""

    def __init__(self, loop: LoopSettings) -> None:
        self.settings = Settings(loop=loop)
        self.log: list[Decision] = []

    def append(self, d: Decision) -> int:
        d = d.model_copy(update={"id": len(self.log) + 1})
        self.log.append(d)
        return d.id or 0

    def cycle(self, now: float, failing: bool, works: bool, subject: str = "wiki",
              obs: Observation | None = None):
        f = Finding(code="container_down", subject=subject, host="nas",
                    message=f"{subject} is down")
        found = incidents.incidents(self.log)
        for row in incidents.transitions(found, [f] if failing else [], {"nas"}, now,
                                         self.settings.loop, "c"):
            self.append(row)
        if not failing:
            return None
        sit = decide.Situation(
            now=now, settings=self.settings, log=self.log,
            control=controls.control_state(self.log, self.settings.loop.breaker_failures),
            tallies={}, incidents=incidents.incidents(self.log))
        p = decide.plan(f, obs, BOOK, sit)
        rowid = self.append(Decision(
            ts=now, cycle="c", host="nas", subject=subject, finding=f.code,
            action=p.playbook or "none", verdict=p.verdict, reason=p.reason,
            detail={"held_by": p.held_by.model_dump() if p.held_by else None}))
        if p.acts:
            self.append(Decision(ts=now + 1, cycle="c", host="nas", subject=subject,
                                 finding=f.code, action=p.playbook or "none",
                                 verdict=p.verdict, reason="r", ref=rowid,
                                 outcome="success" if works else "failed"))
        return p

    def by_incident(self) -> list[list[Decision]]:
        """The log cut at every incident opening: the decisions of each incident."""
        out: list[list[Decision]] = []
        for d in self.log:
            if d.verdict == "incident" and d.action == "opened":
                out.append([])
            elif out and d.verdict != "incident" and d.ref is None:
                out[-1].append(d)
        return out


LOOP = LoopSettings(cooldown_minutes={}, service_cooldown_minutes=0, restart_budget=3,
                    backoff_base_minutes=10, backoff_cap_minutes=40, healthy_minutes=60,
                    breaker_failures=10_000)


def _escalations(ds: list[Decision]) -> list[Decision]:
    return [d for d in ds if d.verdict == "queued"
            and (d.detail.get("held_by") or {}).get("gate") == "budget"]


def test_a_container_that_keeps_failing_backs_off_escalates_once_then_resets() -> None:
    sim, now = Sim(LOOP), T0
    acted = []
    for _ in range(40):  # a cycle every 5 minutes, the container down every time
        p = sim.cycle(now, failing=True, works=False)
        if p.acts:
            acted.append(now)
        now += 300
    # attempts at 0, +10, +30 (then the budget of 3 is spent): gaps 10 and 20 minutes
    assert [round((t - T0) / 60) for t in acted] == [0, 10, 30]
    [incident] = sim.by_incident()
    assert len(_escalations(incident)) == 1  # exactly one, never a flood
    held = [d for d in incident if d.verdict == "skipped"]
    assert held[-1].detail["held_by"]["gate"] == "escalated"
    # fixed by a person: healthy for H (60 min) resolves the incident
    for _ in range(13):
        sim.cycle(now, failing=False, works=True)
        now += 300
    assert [d.action for d in sim.log if d.verdict == "incident"][-1] == "resolved"
    # the next failure is a new incident: acted on at once, then at the base delay
    again = []
    for _ in range(4):
        if sim.cycle(now, failing=True, works=False).acts:
            again.append(now)
        now += 300
    assert [round((t - again[0]) / 60) for t in again] == [0, 10]
    first, second = incidents.history(sim.log)
    assert (first.state, first.actions, first.last_outcome) == ("resolved", 3, "failed")
    assert first.escalated is not None and second.state == "open"
    [week] = incidents.weekly([first])
    assert (week.escalated_pct, week.auto_resolved_pct) == (100.0, 0.0)


def test_a_failure_before_h_healthy_continues_the_incident() -> None:
    sim, now = Sim(LOOP), T0
    assert sim.cycle(now, True, True).acts
    sim.cycle(now + 300, False, True)  # cleared, but not for H
    p = sim.cycle(now + 900, True, True)  # back within H: same incident, 2nd attempt
    assert p.acts
    assert [d.action for d in sim.log if d.verdict == "incident"] == [
        "opened", "cleared", "reopened"]
    p = sim.cycle(now + 1200, True, True)  # third attempt waits 20 min after the 2nd
    assert not p.acts and p.held_by.gate == "backoff"


events = st.lists(st.tuples(st.floats(30, 7200), st.booleans(), st.booleans()),
                  min_size=1, max_size=40)
loops = st.builds(lambda base, mult, h, budget: LoopSettings(
    cooldown_minutes={}, service_cooldown_minutes=0, restart_budget=budget,
    backoff_base_minutes=base, backoff_cap_minutes=base * mult, healthy_minutes=h,
    breaker_failures=10_000),
    st.floats(0, 120), st.integers(1, 16), st.floats(1, 240), st.integers(1, 5))


@settings(max_examples=EXAMPLES, deadline=None)
@given(events, loops)
def test_property_backoff_spacing_and_one_escalation_per_incident(seq, loop) -> None:
    sim, now = Sim(loop), T0
    for dt, failing, works in seq:
        now += dt
        sim.cycle(now, failing, works)
    for ds in sim.by_incident():
        attempts = [d.ts for d in ds if d.acts]
        for n in range(1, len(attempts)):  # the n-th gap: base x 2^(n-1), at most cap
            wait = min(loop.backoff_cap_minutes, loop.backoff_base_minutes * 2 ** (n - 1))
            assert attempts[n] - attempts[n - 1] >= wait * 60 - 1e-6
        span = loop.restart_budget_hours * 3600  # the budget holds in every window
        assert all(sum(1 for u in attempts if t <= u < t + span) <= loop.restart_budget
                   for t in attempts)
        assert len(_escalations(ds)) <= 1  # at most one escalation per incident
        # never a silent stop: once the budget holds it, the first such decision
        # is the escalation
        spent = [d for d in ds if (d.detail.get("held_by") or {}).get("gate")
                 in ("budget", "escalated")]
        if spent:
            assert spent[0].verdict == "queued"
    # never more than one incident open per service at a time
    opened = sum(1 for d in sim.log if d.verdict == "incident" and d.action == "opened")
    resolved = sum(1 for d in sim.log if d.verdict == "incident" and d.action == "resolved")
    assert opened - resolved in (0, 1)

