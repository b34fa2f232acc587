"""A stack's health checks and what they found: ``deploy --json``'s ``health``, ``health
--json`` and the loop's verifier read this one shape."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Check(BaseModel):
    """One thing testinfra checks on a host about one declared container."""

    model_config = ConfigDict(frozen=True)

    host: str
    container: str
    kind: str  # running, healthy, listening, http
    target: str = ""  # address for listening/http


class CheckResult(Check):
    ok: bool
    seen: str  # what the check saw: a state, an error, "listening", ...
