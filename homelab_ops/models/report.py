"""The weekly intelligence report: one model, built once from the store; the JSON is its
dump, and the Markdown, the HTML and the HTML's charts are all drawn from it, so the
three renderings can never tell different stories."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from homelab_ops.models.decision import IncidentWeek
from homelab_ops.models.prediction import DiskPrediction, LeakPrediction

# (unix time, value) points, hourly at most, oldest first
Series = list[tuple[float, float]]


class Part(BaseModel):
    model_config = ConfigDict(frozen=True)


class Lowered(Part):
    """One reason that lowered a host's score during the window."""

    code: str
    subject: str
    message: str  # its newest wording
    observations: int  # in how many observations it counted
    worst_penalty: int


class HostHealth(Part):
    host: str
    score_now: int | None
    score_min: int | None
    score_avg: float | None
    observations: int
    unreachable: int  # observations where the host did not answer
    scores: Series  # the lowest score of each hour
    lowered_by: list[Lowered] = Field(default_factory=list)  # most costly first


class DiskOutlook(Part):
    prediction: DiskPrediction
    used_pct: Series  # hourly means over the window


class LeakOutlook(Part):
    prediction: LeakPrediction
    mem_mb: Series  # hourly means over the window


class Action(Part):
    """A decision of the cycle with what became of it."""

    id: int
    ts: float
    host: str
    subject: str
    finding: str
    action: str
    verdict: str
    confidence: float
    risk: str
    reason: str
    outcome: str | None = None
    outcome_reason: str | None = None
    snapshot: list[str] = Field(default_factory=list)
    verified: list[str] = Field(default_factory=list)  # the verification's checks


class DayCount(Part):
    day: str  # YYYY-MM-DD, local time
    by_outcome: dict[str, int]  # actions that ran, by outcome ("pending": none yet)


class Control(Part):
    ts: float
    action: str  # pause, resume, stop, breaker
    reason: str


class Activity(Part):
    decisions: list[Action] = Field(default_factory=list)  # newest first
    by_verdict: dict[str, int] = Field(default_factory=dict)
    by_outcome: dict[str, int] = Field(default_factory=dict)
    per_day: list[DayCount] = Field(default_factory=list)  # every day of the window
    controls: list[Control] = Field(default_factory=list)  # pauses, stops, breaker trips
    breaker_trips: int = 0
    # incidents opened in the window, per week: auto-resolved vs escalated
    incident_weeks: list[IncidentWeek] = Field(default_factory=list)
    pending_approvals: int = 0
    halted: str | None = None  # stopped, breaker or paused at the end of the window
    log_ok: bool = True  # the hash chain verified
    log_problem: str = ""


class VolumeBackup(Part):
    host: str
    subvolume: str
    schedule: str
    last_ok: float | None
    snapshot: str | None
    age_hours: float | None
    stale: bool


class RestoreTest(Part):
    host: str
    subvolume: str
    ts: float
    ok: bool
    error: str | None = None


class EarlyRotation(Part):
    host: str
    subject: str
    ts: float
    reason: str
    pruned: list[str] = Field(default_factory=list)


class Backups(Part):
    volumes: list[VolumeBackup] = Field(default_factory=list)
    restore_tests: list[RestoreTest] = Field(default_factory=list)
    early_rotations: list[EarlyRotation] = Field(default_factory=list)


class Drift(Part):
    """A drifted service the cycle found, and whether its repair worked."""

    host: str
    service: str
    found: float
    message: str
    action: str
    repaired: bool


class ResourceUser(Part):
    host: str
    container: str
    mem_mb_avg: float | None
    mem_mb_max: float | None
    cpu_pct_avg: float | None


Severity = Literal["critical", "warning", "info"]


class Attention(Part):
    severity: Severity
    topic: str  # actions, loop, backups, disks, memory, health, log
    message: str


class Report(Part):
    generated_at: float
    since: float
    until: float
    hosts: list[HostHealth] = Field(default_factory=list)
    disks: list[DiskOutlook] = Field(default_factory=list)
    leaks: list[LeakOutlook] = Field(default_factory=list)
    activity: Activity = Activity()
    backups: Backups = Backups()
    drift: list[Drift] = Field(default_factory=list)
    top_users: list[ResourceUser] = Field(default_factory=list)
    attention: list[Attention] = Field(default_factory=list)  # most urgent first
    notes: list[str] = Field(default_factory=list)
