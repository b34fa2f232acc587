"""DECIDE: for each finding, the playbook, its confidence and risk, the decision
matrix, and every gate's verdict. Pure functions over plain data.

Confidence = how clear the evidence is (the finding's ``clarity``) x how reliable the
playbook has been for this kind of finding (LEARN): a Beta posterior over the
outcomes in the decision log with a prior of 29 successes and 1 failure, so a new
install trusts a playbook at 0.97, each failure costs a few points and repeated
failures push it below the execute line until successes bring it back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, get_args

from pydantic import BaseModel, ConfigDict

from homelab_ops.loop import controls
from homelab_ops.loop import incidents as incidents_mod
from homelab_ops.loop import log as decision_log
from homelab_ops.loop.detect import PATTERN_LABEL, SERVICE_LABEL
from homelab_ops.models.decision import (
    Decision,
    GateResult,
    Planned,
    Risk,
    SkillPick,
    Verdict,
)
from homelab_ops.models.finding import Finding
from homelab_ops.models.observation import ContainerObs, Observation
from homelab_ops.models.settings import LoopSettings, Settings
from homelab_ops.models.stack import GRACE_LABEL

PRIOR_SUCCESS, PRIOR_FAILURE = 29.0, 1.0
LEARN_WINDOW_S = 90 * 86400
RISKS: tuple[Risk, ...] = get_args(Risk)  # in order of rising risk


class PlaybookLike(Protocol):
    name: str
    risk: Risk
    handles: tuple[str, ...]


class Situation(BaseModel):
    """Everything the gates read, taken once per cycle."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    now: float
    settings: Settings
    control: controls.ControlState
    log: list[Decision]
    tallies: dict[tuple[str, str], tuple[int, int]]
    pending: dict[tuple[str, str, str], int] = {}  # finding key -> open approval id
    incidents: dict[tuple[str, str], incidents_mod.Incident] = {}  # (host, subject)
    # finding code -> the recommender's skills for it, best first (recommend/learn.py)
    skills: dict[str, list[SkillPick]] = {}


def tallies(log: Iterable[Decision], now: float) -> dict[tuple[str, str], tuple[int, int]]:
    """(finding kind, playbook) -> (successes, failures) over the learning window."""
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for d, result in decision_log.acted(log):
        if result is None or d.ts < now - LEARN_WINDOW_S or result.outcome not in (
                "success", "failed"):
            continue
        out[(d.finding, d.action)][result.outcome == "failed"] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def reliability(successes: int, failures: int) -> float:
    return (successes + PRIOR_SUCCESS) / (successes + failures + PRIOR_SUCCESS + PRIOR_FAILURE)


def confidence(finding: Finding, record: tuple[int, int], people: float = 1.0) -> float:
    """Clarity x the loop's own record x what people reported (``SkillPick.people``)."""
    return round(finding.clarity * reliability(*record) * people, 4)


def service_risk(playbook_risk: Risk, labels: Mapping[str, str], settings: Settings) -> Risk:
    """The playbook's risk, raised to medium for services that own a database."""
    floor: Risk = "medium" if labels.get(PATTERN_LABEL) in \
        settings.loop.medium_risk_patterns else "low"
    return max(playbook_risk, floor, key=RISKS.index)


def matrix(conf: float, risk: Risk) -> Verdict:
    """The decision matrix, exactly: > 90 % and low risk -> execute; > 80 % and medium
    risk -> notify, then execute; > 70 % any risk -> queue; otherwise alert."""
    if conf > 0.9 and risk == "low":
        return "executed"
    if conf > 0.8 and risk == "medium":
        return "notified"
    if conf > 0.7:
        return "queued"
    return "alerted"


def choose_playbook(finding: Finding, playbooks: Mapping[str, PlaybookLike],
                    skills: Sequence[SkillPick] = ()) -> PlaybookLike | None:
    """The playbook that handles this kind of finding and has the evidence it needs,
    in the recommender's order of its skills (best learned first; equal rates keep the
    registry's order); a disk that holds backup copies is relieved by rotating them
    early, any other by freeing space, whatever was learned."""
    order = {s.playbook: i for i, s in enumerate(skills)}
    fits = sorted((p for p in playbooks.values() if finding.code in p.handles
                   and all(finding.evidence.get(k) for k in getattr(p, "needs", ()))),
                  key=lambda p: order.get(p.name, len(order)))
    if finding.code == "disk_full":
        want = "rotate-snapshots" if finding.evidence.get("backup_target") else "free-disk"
        fits = [p for p in fits if p.name == want] or fits
    return fits[0] if fits else None


def is_protected(finding: Finding, obs: Observation | None, names: Sequence[str]) -> bool:
    """Protected by its container name, its stack service name or its image's name
    (``traefik`` protects docker.io/library/traefik:v3.1 whatever it is called)."""
    c = obs.container(finding.subject) if obs else None
    known = {finding.subject}
    if c is not None:
        known |= {c.labels.get(SERVICE_LABEL, ""), _image_name(c.image)}
    return bool(known & set(names))


def plan(finding: Finding, obs: Observation | None, playbooks: Mapping[str, PlaybookLike],
         sit: Situation) -> Planned:
    """One finding's decision with every gate's verdict recorded."""
    skills = sit.skills.get(finding.code, [])
    pb = choose_playbook(finding, playbooks, skills)
    if pb is None:
        short = [f"{p.name} needs {', '.join(getattr(p, 'needs', ()))}"
                 for p in playbooks.values() if finding.code in p.handles]
        why = f"no playbook handles {finding.code}" + (
            f" with this evidence ({'; '.join(short)})" if short else "")
        return Planned(finding=finding, playbook=None, confidence=finding.clarity,
                       risk="low", matrix="alerted", verdict="alerted",
                       reason=f"{why}: a person must look",
                       held_by=GateResult(gate="playbook", ok=False, detail=why,
                                          change="a person must fix it: " + why))
    c = obs.container(finding.subject) if obs else None
    labels = c.labels if c else {}
    pick = next((s for s in skills if s.playbook == pb.name), None)
    conf = confidence(finding, sit.tallies.get((finding.code, pb.name), (0, 0)),
                      pick.people if pick else 1.0)
    risk = service_risk(pb.risk, labels, sit.settings)
    by_matrix = matrix(conf, risk)
    gates = _gates(finding, obs, pb.name, sit)
    verdict, reason, held_by = _verdict(by_matrix, gates, conf, risk, sit.settings,
                                        finding, pb.name)
    params = params_for(finding, labels)
    if pb.name in controls.RESTARTS and c is not None and obs is not None and (
            deps := dependents(obs, c.name, sit.settings.protected_services)):
        params["dependents"] = deps  # restarted with it, in order, verified too
    return Planned(finding=finding, playbook=pb.name, params=params,
                   confidence=conf, risk=risk, matrix=by_matrix, verdict=verdict,
                   gates=gates, reason=reason, held_by=held_by, skill=pick)


def held(p: Planned, verdict: Verdict, reason: str, gate: GateResult) -> Planned:
    """The decision after a later gate (at the moment of acting) held it back: its
    final verdict, why, and that gate recorded with the others."""
    return p.model_copy(update={"verdict": verdict, "reason": reason,
                                "gates": [*p.gates, gate], "held_by": gate})


def plan_approved(approval: Mapping[str, Any], finding: Finding | None,
                  sit: Situation) -> Planned | None:
    """A person approved it: run it now if its finding still holds (the matrix,
    protection, cooldowns and budget were the person's call; pause, stop and the
    breaker still hold it back). None when the finding went away."""
    if finding is None:
        return None
    halted = sit.control.halted
    gate = GateResult(gate="halted", ok=halted is None, detail=halted or "running",
                      change="" if halted is None else RESUME)
    return Planned(finding=finding, playbook=approval["action"],
                   params=dict(approval["params"]), confidence=1.0, risk="low",
                   matrix="executed", verdict="executed" if halted is None else "skipped",
                   gates=[GateResult(gate="approved", ok=True,
                                     detail=f"approved as #{approval['id']}"), gate],
                   reason=f"approved by a person (#{approval['id']})" if halted is None
                   else f"approved (#{approval['id']}) but the loop is {halted}",
                   approval=approval["id"], held_by=None if halted is None else gate)


def dependents(obs: Observation, name: str, protected: Sequence[str]) -> list[str]:
    """Containers that need ``name`` (share its network namespace or require it), and
    those that need them, in the order to restart them after it; a protected one is
    never among them (it is never acted on automatically)."""
    ids = {c.name: c.id for c in obs.containers}
    out: list[str] = []
    todo = [name]
    while todo:
        parent = todo.pop(0)
        pid = ids.get(parent, parent)
        for c in obs.containers:
            if c.name in out or c.name == name:
                continue
            if any(n == parent or (len(n) >= 12 and pid.startswith(n)) for n in c.needs):
                out.append(c.name)
                todo.append(c.name)
    return [d for d in out if not is_protected(
        Finding(code="dependent", subject=d, message="", host=obs.host), obs, protected)]


def params_for(finding: Finding, labels: Mapping[str, str]) -> dict[str, Any]:
    if finding.code == "disk_full":
        return {"mountpoint": finding.subject}
    params: dict[str, Any] = {"service": finding.subject}
    if finding.evidence.get("stack_file"):  # verified with its stack's health checks
        params["stack"] = finding.evidence["stack_file"]
    return params


def _gates(finding: Finding, obs: Observation | None, playbook: str,
           sit: Situation) -> list[GateResult]:
    s, host = sit.settings, finding.host
    prot = is_protected(finding, obs, s.protected_services)
    halted = sit.control.halted
    window = controls.in_window(s.loop.maintenance_windows, sit.now)
    cool = controls.cooldown(sit.log, host, finding.subject, playbook, sit.now, s.loop)
    gates = [
        GateResult(gate="protected", ok=not prot,
                   detail="protected service: never acted on automatically" if prot
                   else "not protected",
                   change="it is in settings protected_services: act by hand, or take "
                          "it out of that list" if prot else ""),
        GateResult(gate="halted", ok=halted is None, detail=_halted(sit.control),
                   change=RESUME if halted else ""),
        GateResult(gate="window", ok=window, detail="inside a maintenance window" if window
                   else f"outside the maintenance windows {', '.join(s.loop.maintenance_windows)}",
                   change="" if window else "wait for a maintenance window "
                   f"({', '.join(s.loop.maintenance_windows)}, settings loop.maintenance_windows)"),
        GateResult(gate="cooldown", ok=cool.until is None, detail=cool.why or "no cooldown",
                   until=cool.until,
                   change="" if cool.until is None else f"wait until {controls.clock(cool.until)} "
                   "(settings loop.cooldown_minutes, loop.service_cooldown_minutes)"),
    ]
    c = obs.container(finding.subject) if obs else None
    gates.append(grace_gate(finding, c, sit.now, s.loop))
    if finding.evidence.get("spec_digest"):  # a finding about a declared spec (drift)
        gates.append(rolled_back_gate(finding, sit.log))
    inc = incidents_mod.open_incident(sit.incidents, host, finding.subject)
    tried = incidents_mod.attempts(sit.log, inc, host, finding.subject)
    back = incidents_mod.backoff_until(tried, s.loop)
    waits = back is not None and back > sit.now
    gates.append(GateResult(
        gate="backoff", ok=not waits, until=back if waits else None,
        detail=f"backoff after {len(tried)} attempt(s) in this incident, until "
               f"{controls.clock(back)}" if waits and back else
               f"{len(tried)} attempt(s) in this incident",
        change=f"wait until {controls.clock(back)} (settings loop.backoff_base_minutes, "
               "loop.backoff_cap_minutes; it starts again from the base once the service "
               f"has been healthy for {s.loop.healthy_minutes:g} min)" if waits and back
               else ""))
    if playbook in controls.RESTARTS:
        times = [t for t in controls.restart_times(sit.log, host, finding.subject, sit.now,
                                                   s.loop) if not inc or t >= inc.opened]
        spent = len(times) >= s.loop.restart_budget
        frees = min(times) + s.loop.restart_budget_hours * 3600 if spent else None
        gates.append(GateResult(
            gate="budget", ok=not spent, until=frees,
            detail=f"{len(times)} of {s.loop.restart_budget} restarts used in this "
                   f"incident ({s.loop.restart_budget_hours:g} h)",
            change="" if frees is None else "a person approves the queued restart, or "
                   f"wait until {controls.clock(frees)} when the oldest restart leaves "
                   "the budget"))
        if spent and inc is not None and inc.escalated is not None:
            gates.append(GateResult(
                gate="escalated", ok=False,
                detail=f"incident #{inc.id} was escalated at {controls.clock(inc.escalated)}"
                       ": once per incident",
                change="a person decides the queued action (`homelab-ops queue list`); "
                       f"a new incident starts after {s.loop.healthy_minutes:g} min "
                       "healthy"))
    return gates


def rolled_back_gate(finding: Finding, log: Sequence[Decision]) -> GateResult:
    """No redeploy of a spec that was already rolled back: the stack file still
    declares, for this container, the spec digest whose deploy failed its verification
    (the newest rollback about it says so). One "no action" until the file changes."""
    digest = finding.evidence.get("spec_digest")
    last = next((d for d in reversed(log) if d.ref is not None and d.host == finding.host
                 and d.subject == finding.subject and d.detail.get("rollback")), None)
    bad = (last.detail["rollback"].get("bad") or {}).get(finding.subject) if last else None
    if digest is None or last is None or bad != digest:
        return GateResult(gate="rolled_back", ok=True, detail="no rolled-back spec")
    return GateResult(
        gate="rolled_back", ok=False,
        detail=f"rolled back at {controls.clock(last.ts)}: the stack file still declares "
               f"the spec {digest} that failed its verification",
        change=f"fix {finding.evidence.get('stack_file') or 'the stack file'} (the spec "
               f"of {finding.subject} it declares was deployed, failed and was rolled back)")


def grace_gate(finding: Finding, c: ContainerObs | None, now: float,
               loop: LoopSettings) -> GateResult:
    """No action on a running container inside its start-up grace — its healthcheck's
    start period or its service's declared ``grace``, from when it started — nor while
    its healthcheck still reports ``starting``, nor while its log says it is recovering
    (for at most ``recovery_max_minutes`` after it started). A crash loop or an OOM
    kill is not a slow start: those are judged at once."""
    if c is None or not c.running or finding.code in ("restart_loop", "oom_killed"):
        return GateResult(gate="grace", ok=True, detail="not starting")
    period = max(c.health_start_period_s, _seconds(c.labels.get(GRACE_LABEL)))
    started = c.started_at.timestamp() if c.started_at else None
    until = started + period if started is not None and period else None
    if until is not None and until > now:
        return GateResult(
            gate="grace", ok=False, until=until,
            detail=f"{c.name} started at {controls.clock(started or now)} and is in its "
                   f"start-up grace of {period:g} s, until {controls.clock(until)}",
            change=f"wait until {controls.clock(until)}: the grace is its healthcheck's "
                   f"start period or its service's `grace` in the stack file")
    said = next((line for line in reversed(c.log_tail)
                 if any(p.lower() in line.lower() for p in loop.recovery_patterns)), None)
    bound = started + loop.recovery_max_minutes * 60 if started is not None else None
    if said is not None and bound is not None and bound > now:
        return GateResult(
            gate="grace", ok=False, until=bound,
            detail=f"{c.name} is recovering (its log: {said[:120]!r})",
            change=f"wait until it has recovered, at most until {controls.clock(bound)} "
                   "(settings loop.recovery_patterns, loop.recovery_max_minutes)")
    if c.health == "starting":
        return GateResult(gate="grace", ok=False,
                          detail=f"{c.name}'s healthcheck still reports starting",
                          change="wait until its healthcheck passes or fails")
    return GateResult(gate="grace", ok=True, detail="past its start-up grace")


def _seconds(text: str | None) -> float:
    try:
        return max(0.0, float(text or 0))
    except ValueError:
        return 0.0


def _verdict(by_matrix: Verdict, gates: Sequence[GateResult], conf: float, risk: Risk,
             settings: Settings, finding: Finding, playbook: str
             ) -> tuple[Verdict, str, GateResult | None]:
    """The verdict, why, and the gate that held the action back (None: it acts)."""
    failed = {g.gate: g for g in gates if not g.ok}
    why = f"confidence {conf:.0%}, {risk} risk"
    if "protected" in failed:
        verdict: Verdict = "queued" if settings.loop.protected_action == "queue" else "alerted"
        return verdict, f"protected service ({why}): {verdict} instead of acting", \
            failed["protected"]
    if "grace" in failed:  # starting is not a fault yet: neither act nor alert
        return "skipped", f"{why}, but {failed['grace'].detail}", failed["grace"]
    if "rolled_back" in failed:  # the known-bad spec is neither applied nor queued
        return "skipped", f"{why}, but {failed['rolled_back'].detail}", failed["rolled_back"]
    if by_matrix == "alerted":
        detail = f"confidence {conf:.0%} is not above 70 %"
        return "alerted", f"{why}: {detail}, so alert only", GateResult(
            gate="confidence", ok=False, detail=detail,
            change=f"confidence above 70 % queues it, above {_execute_line(risk)} runs it: "
                   f"clearer evidence (this finding's clarity is {finding.clarity:.0%}) or "
                   f"a better record of {playbook} on {finding.code}")
    if by_matrix == "queued":
        detail = f"confidence {conf:.0%} at {risk} risk is below the line to act alone"
        return "queued", f"{why}: the matrix says queue for approval", GateResult(
            gate="approval", ok=False, detail=detail,
            change="a person approves it (`homelab-ops queue approve ID`); the loop acts "
                   f"alone above {_execute_line(risk)}")
    for gate in ("halted", "window", "cooldown", "backoff", "escalated"):
        if gate in failed:
            return "skipped", f"{why}, but {failed[gate].detail}", failed[gate]
    if "budget" in failed:
        return "queued", f"restart budget spent ({failed['budget'].detail}): escalated", \
            failed["budget"]
    return by_matrix, f"{why}: the matrix says {_words[by_matrix]}", None


def _execute_line(risk: Risk) -> str:
    return {"low": "90 %", "medium": "80 %"}.get(risk, "no line (high risk always waits "
                                                       "for a person)")


_words = {"executed": "execute", "notified": "notify, then execute",
          "queued": "queue for approval", "alerted": "alert only"}


RESUME = "`homelab-ops ops resume`"


def _halted(state: controls.ControlState) -> str:
    if state.stopped:
        return "the loop is stopped (`homelab-ops ops resume` to go on)"
    if state.breaker_open:
        return (f"the circuit breaker is open after {state.consecutive_failures} failed "
                "actions in a row (`homelab-ops ops resume` to close it)")
    if state.paused:
        return "the loop is paused (`homelab-ops ops resume` to go on)"
    return "running"


def _image_name(image: str) -> str:
    """docker.io/library/traefik:v3.1 -> traefik."""
    last = image.rsplit("/", 1)[-1]
    return last.split("@", 1)[0].split(":", 1)[0]
