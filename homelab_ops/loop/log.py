"""The decision log: append-only in fact (the store refuses UPDATE and DELETE) and
hash-chained, so an edited, deleted or truncated row is detected by ``verify``.

Every question about what the loop did — cooldowns, budgets, the breaker, learning,
``decisions``, ``ask`` — is answered from these rows: they are the one source of truth.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from homelab_ops.models.decision import ACTING, Decision
from homelab_ops.store import DECISION_FIELDS, GENESIS_HASH, Store, decision_hash


class LogCheck(BaseModel):
    ok: bool
    rows: int
    bad_row: int | None = None  # the first row that does not hold
    problem: str = ""


def append(store: Store, decision: Decision) -> int:
    return store.append_decision(decision.model_dump(exclude={"id"}))


def entries(store: Store, since: float = 0.0, after_id: int = 0) -> list[Decision]:
    """Every row in log order (decisions, outcomes and control entries)."""
    return [_decision(r) for r in store.decision_rows(since, after_id)]


def verify(store: Store) -> LogCheck:
    """Walk the chain from its first link; compare its end with the recorded head."""
    prev, expected_id, last_id = GENESIS_HASH, 1, 0
    rows = store.decision_rows()
    for row in rows:
        rid = row["id"]
        if rid != expected_id:
            return LogCheck(ok=False, rows=len(rows), bad_row=expected_id,
                            problem=f"row {expected_id} is missing (next row is {rid})")
        if row["prev_hash"] != prev:
            return LogCheck(ok=False, rows=len(rows), bad_row=rid,
                            problem=f"row {rid} does not follow row {rid - 1}")
        if decision_hash(rid, {f: row[f] for f in DECISION_FIELDS}, prev) != row["hash"]:
            return LogCheck(ok=False, rows=len(rows), bad_row=rid,
                            problem=f"row {rid} was changed after it was written")
        prev, expected_id, last_id = row["hash"], rid + 1, rid
    count, head = store.decision_head()
    if count != len(rows) or head != prev:
        missing = count - len(rows)
        problem = (f"the log ends at row {last_id} but {count} rows were written "
                   f"({missing} missing at the end)" if missing > 0
                   else "the log's head does not match its last row")
        return LogCheck(ok=False, rows=len(rows), bad_row=last_id + 1, problem=problem)
    return LogCheck(ok=True, rows=len(rows))


def query(store: Store, since: float = 0.0, host: str | None = None,
          service: str | None = None, verdict: str | None = None,
          outcome: str | None = None) -> list[dict[str, Any]]:
    """Decisions (not outcome or control rows) newest first, each with its outcome."""

    rows = store.decisions(since=since, limit=100_000)
    keep = []
    for r in rows:
        if (host and r["host"] != host) or (service and r["subject"] != service) or \
                (verdict and r["verdict"] != verdict) or (outcome and r["outcome"] != outcome):
            continue
        keep.append(r)
    return keep


def unfinished(log: Iterable[Decision], current_cycle: str) -> list[Decision]:
    """Acting decisions of earlier cycles that never got an outcome: the cycle died."""
    rows = list(log)
    done = {d.ref for d in rows if d.ref is not None}
    return [d for d in rows if d.acts and d.ref is None and d.id not in done
            and d.cycle != current_cycle]


def outcomes(log: Iterable[Decision]) -> dict[int, Decision]:
    """Decision id -> its outcome entry."""
    return {d.ref: d for d in log if d.ref is not None}


def acted(log: Iterable[Decision]) -> list[tuple[Decision, Decision | None]]:
    """(decision, its outcome) for every decision that acted for real, in order."""
    rows = list(log)
    done = outcomes(rows)
    return [(d, done.get(d.id)) for d in rows
            if d.verdict in ACTING and d.ref is None and not d.detail.get("dry_run")]


def action_spans(log: Iterable[Decision], host: str) -> dict[str, list[tuple[float, float]]]:
    """Subject -> (decided, finished) of every action the loop ran to its end on
    ``host``: what the playbook itself restarted in there is not the service's doing."""
    out: dict[str, list[tuple[float, float]]] = {}
    for d, result in acted(log):
        if d.host == host and result is not None and result.outcome != "interrupted":
            out.setdefault(d.subject, []).append((d.ts, result.ts))
    return out


def refused(log: Iterable[Decision]) -> list[tuple[Decision, None]]:
    """Every action refused at the moment of acting (it never ran), in order."""
    return [(d, None) for d in log
            if d.verdict == "refused" and d.ref is None and not d.detail.get("dry_run")]


def _decision(row: dict[str, Any]) -> Decision:
    fields = {f: row[f] for f in DECISION_FIELDS}
    fields["detail"] = json.loads(fields["detail"])
    return Decision(id=row["id"], **fields)
