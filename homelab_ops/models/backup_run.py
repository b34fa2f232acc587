"""What one backup run did: per host its space forecast, operations and volumes.

``backup run --json`` prints ``BackupRun``'s dump, and each ``VolumeRun``'s dump is the
``detail`` of its backup row in the store, so both keep the shape they always had: a
key that exists only in some runs (an ssh target's ``unchecked``, a new copy's
``sent_from``, a dry run's ``would_change``) is a field that defaults to ``MISSING``,
which pydantic leaves out of every dump; ``None`` is a value that is printed."""

from __future__ import annotations

from pydantic import MISSING, BaseModel, ConfigDict, Field


class Rotation(BaseModel):
    """The space forecast's verdict on a backup target: prune it early, and why."""

    model_config = ConfigDict(frozen=True)

    early: bool
    reason: str


class OpRun(BaseModel):
    """One pyinfra operation on one host: ``would_change`` in a dry run, else
    ``changed``/``ok`` once it ran (``error`` when it failed or never ran)."""

    name: str
    would_change: bool | MISSING = MISSING
    changed: bool | MISSING = MISSING
    ok: bool | MISSING = MISSING
    error: str | MISSING = MISSING

    @property
    def failed(self) -> bool:
        return self.ok is False


class VolumeRun(BaseModel):
    """One subvolume after the run; the target fields exist when it is sent."""

    snapshot: str | None  # the newest snapshot of the volume (None: there is none)
    schedule: str
    pruned_source: list[str]
    target: str | MISSING = MISSING
    unchecked: str | MISSING = MISSING  # why the copies' changes could not be checked
    on_target: str | MISSING | None = MISSING  # the newest copy both sides hold
    garbled_cleaned: list[str] | MISSING = MISSING
    pruned_target: list[str] | MISSING = MISSING
    unusable: dict[str, str] | MISSING = MISSING  # copy -> why it is never a parent
    sent_from: str | MISSING | None = MISSING  # a new copy's parent (None: sent in full)
    alert: str | MISSING = MISSING
    ok: bool


class HostRun(BaseModel):
    rotation: Rotation
    volumes: dict[str, VolumeRun] = Field(default_factory=dict)  # "<pool>/<base>" ->
    ops: list[OpRun] = Field(default_factory=list)
    ok: bool
    unusable: dict[str, dict[str, str]] = Field(default_factory=dict)  # folder -> copy ->
    unchecked: dict[str, str] | MISSING = MISSING  # target folder -> why
    error: str | MISSING = MISSING


class BackupRun(BaseModel):
    now: str  # the run's minute, ISO 8601
    dry_run: bool
    hosts: dict[str, HostRun]
    error: str | MISSING = MISSING  # pyinfra refused the whole run
    ok: bool
