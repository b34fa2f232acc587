"""A difference between a declared stack and a live host, as ``drift`` prints it and
the loop's detectors read it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Difference(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str
    stack: str
    subject: str  # container name or unit file name
    kind: str  # missing, unexpected, stopped, image, env, label, ports, networks, mounts,
    #            unit_missing, unit_changed, unit_unexpected
    field: str = ""
    declared: Any = None
    live: Any = None

    def line(self) -> str:
        where = f"{self.subject}" + (f" {self.field}" if self.field else "")
        return f"{self.host}: {where}: {self.kind} (declared {self.declared}, live {self.live})"
