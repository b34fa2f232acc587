"""One entry of the decision log, and the report of one cycle.

The log is append-only: a decision is written before its action runs and the outcome
is appended later as its own entry pointing back (``ref``), so an interrupted cycle
leaves a decision without an outcome, never a half-updated row."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from homelab_ops.models.finding import Finding

Risk = Literal["low", "medium", "high"]
# executed: run automatically; notified: notify, then run; queued: waits for a person;
# alerted: a person is told, nothing runs; refused: a gate said no (protected, no
# snapshot); skipped: not now (paused, stopped, breaker open, cooldown, window);
# dropped: a queued action whose finding went away; control: pause/stop/resume/breaker;
# incident: an incident opened, cleared, reopened or resolved (loop/incidents.py)
Verdict = Literal["executed", "notified", "queued", "alerted", "refused", "skipped",
                  "dropped", "control", "incident"]
# what became of an action: success, failed (ran or verified badly), interrupted (the
# cycle died during it), dry-run (decided only)
Outcome = Literal["success", "failed", "interrupted", "dry-run"]
ACTING: frozenset[str] = frozenset({"executed", "notified"})


class GateResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    gate: str  # protected, halted, window, cooldown, budget, snapshot, ...
    ok: bool
    detail: str = ""
    until: float | None = None  # a gate that holds only for a while: when it lets go
    change: str = ""  # a gate that holds: what would have to change for the loop to act


class Verification(BaseModel):
    """The check after a playbook (or its rollback) ran: each check as a verdict line."""

    ok: bool
    checks: list[str]
    error: str | None = None
    seconds: float


class Rollback(BaseModel):
    """What undoing a failed action did, recorded with the action's outcome next to its
    own failed verification: the data restored from the pre-action snapshot, the state
    it replaced (kept as a snapshot), the spec re-applied, and the rollback's own
    verification. ``ok`` only when all of it worked and verified."""

    ok: bool
    restored: list[str] = Field(default_factory=list)  # "path <- snapshot dir"
    kept: list[str] = Field(default_factory=list)  # the replaced state's snapshots
    spec: str | None = None  # the deployment re-applied, e.g. "deployment #12 of web"
    # the spec digests (container -> digest) that failed: the loop does not apply them
    # again until the stack file changes (no redeploy/rollback flap)
    bad: dict[str, str] = Field(default_factory=dict)
    verification: Verification | None = None
    error: str | None = None
    seconds: float = 0.0


class Decision(BaseModel):
    """A row of the decision log (a decision, an outcome or a control entry)."""

    id: int | None = None
    ts: float
    cycle: str
    host: str = ""
    subject: str = ""
    finding: str = ""
    action: str = "none"  # a playbook name, or none / pause / resume / stop / breaker
    verdict: Verdict
    confidence: float = 0.0
    risk: str = "-"
    reason: str
    outcome: Outcome | None = None
    ref: int | None = None  # the decision an outcome entry completes
    detail: dict[str, Any] = Field(default_factory=dict)

    @property
    def acts(self) -> bool:
        return self.verdict in ACTING


class SkillPick(BaseModel):
    """The recommender's pick of a playbook for a cycle finding, kept with the decision
    (which skill, and why)."""

    skill: str
    playbook: str
    rank: int  # 1: the first of ``of`` skills whose playbook handles the finding
    of: int
    rate: float  # learned success rate for the category, every source: the ranking
    # what people reported (``recommend --took``) as a factor <= 1 on the decision's
    # confidence; the cycle's own outcomes already count through the loop's reliability
    people: float = 1.0
    why: str


class Planned(BaseModel):
    """What the decider made of one finding, before anything ran."""

    finding: Finding
    playbook: str | None
    params: dict[str, Any] = Field(default_factory=dict)
    confidence: float
    risk: Risk
    matrix: Verdict  # what the matrix alone says
    verdict: Verdict  # after the gates
    gates: list[GateResult] = Field(default_factory=list)
    reason: str
    approval: int | None = None  # the queue entry this runs for
    skill: SkillPick | None = None  # the recommender's pick that named the playbook
    # why the loop does not act (None when it does): the gate that decided, with its
    # until and what would have to change; the matrix and protection count as gates
    held_by: GateResult | None = None

    @property
    def acts(self) -> bool:
        return self.verdict in ACTING


class ActionRecord(BaseModel):
    """What ACT did for one planned action."""

    decision: int
    playbook: str
    host: str
    target: str
    snapshot: str | None = None
    outcome: Outcome
    error: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    seconds: dict[str, float] = Field(default_factory=dict)
    rollback: Rollback | None = None  # a failed action undone (or the attempt)


class CycleReport(BaseModel):
    """The whole cycle: what was observed, decided and done, and how long each took."""

    cycle: str
    started: float
    dry_run: bool = False
    hosts: dict[str, dict[str, Any]] = Field(default_factory=dict)  # host -> summary
    findings: list[Finding] = Field(default_factory=list)
    planned: list[Planned] = Field(default_factory=list)
    actions: list[ActionRecord] = Field(default_factory=list)
    interrupted: list[int] = Field(default_factory=list)  # decisions found unfinished
    resolved: list[str] = Field(default_factory=list)  # incidents this cycle resolved
    notifications: list[dict[str, Any]] = Field(default_factory=list)
    notice_events: int = 0  # things worth telling this cycle, before deduplication
    notice_messages: int = 0  # the messages they became (the dedup ratio's divisor)
    phases: dict[str, float] = Field(default_factory=dict)  # phase -> seconds
    halted: str | None = None  # why the cycle stopped early
    skipped: str | None = None  # why the cycle did nothing at all (lock held)


class IncidentWeek(BaseModel):
    """The incidents opened in one ISO week (FBAR's framing): how many the loop ended
    on its own (resolved, never escalated), how many it handed to a person
    (escalated), and how many are still open; shares in % of the week's incidents."""

    model_config = ConfigDict(frozen=True)

    week: str  # 2026-W49
    incidents: int
    auto_resolved: int
    escalated: int
    open: int  # neither yet: not resolved and not escalated
    auto_resolved_pct: float
    escalated_pct: float
    median_mttr_s: float | None = None  # of the resolved ones
