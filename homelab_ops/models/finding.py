"""A finding: something observed (or predicted) that is wrong, with its evidence.

The health score, the loop's detectors and the decision log all read this one shape.
``clarity`` says how unambiguous the evidence is (0..1); the decider weighs it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str  # container_down, unhealthy, restart_loop, memory_leak, disk_full, ...
    subject: str  # a container, a mountpoint, a subvolume or the host
    message: str
    host: str = ""
    clarity: float = Field(1.0, ge=0.0, le=1.0)
    evidence: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes two findings the same problem (across cycles)."""
        return (self.host, self.code, self.subject)
