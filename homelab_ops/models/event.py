"""An event: something that happened to a host or a container at a moment (a restart,
a failed backup, an early rotation), as the store keeps it and "recent events", the
report and the loop's detectors read it.

A frozen dataclass, not a pydantic model: ``ask`` reads events from the store on a
cold process that must not load pydantic (tests/unit/test_ask_matcher.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    host: str
    ts: float
    subject: str  # a container, "backup:<pool>/<base>", or "" for the host
    kind: str  # started, restarted, died, oom_killed, backup_failed, ...
    detail: dict[str, Any]
