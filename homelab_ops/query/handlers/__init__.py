"""Typed read-only handlers: one function per intent, answering from the store.

A handler gets the store, the latest observation of every host, the filled slots and
the time, and returns an Answer. None of them runs a command or builds a query string
from the user's words: slot values are real names (already matched against the latest
observation) used as plain values in comparisons and parameterised store calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from homelab_ops.query.fmt import iso_ts
from homelab_ops.store import Store


@dataclass(frozen=True)
class Context:
    store: Store
    latest: dict[str, dict]  # host -> newest observation document
    now: float

    @property
    def observed_at(self) -> float | None:
        """When the answer's observation data is from: the oldest host's latest probe,
        so a stale host is never hidden behind a fresh one."""
        stamps = [iso_ts(doc["ts"]) or 0.0 for doc in self.latest.values()]
        return min(stamps) if stamps else None

    @property
    def many_hosts(self) -> bool:
        return len(self.latest) > 1

    def containers(self) -> list[tuple[str, dict]]:
        """(host, container document) of every reachable host."""
        return [(h, c) for h, doc in self.latest.items() for c in doc.get("containers", [])]


@dataclass(frozen=True)
class Answer:
    """``lines`` for people, ``data`` for --json; ``as_of`` dates the data used."""

    lines: list[str]
    data: Any
    as_of: float | None
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "data": self.data, "as_of": self.as_of,
                "sources": self.sources}


# slots are real names: the caller answers by itself when a name does not exist
Handler = Callable[[Context, dict[str, str]], Answer]


def label(ctx: Context, host: str, name: str) -> str:
    """A container's name, with its host when there is more than one host."""
    return f"{name} ({host})" if ctx.many_hosts else name


def no_observation() -> Answer:
    return Answer(["Nothing observed yet: run `homelab-ops observe` first."], None, None,
                  ["observations"])


def handlers() -> dict[str, Handler]:
    """Intent id -> handler (imported here so a module per area stays small)."""
    from homelab_ops.query.handlers import containers, infra, predictions, records

    return {**containers.HANDLERS, **infra.HANDLERS, **predictions.HANDLERS,
            **records.HANDLERS}
