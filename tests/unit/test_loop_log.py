"""The decision log: append-only in the store itself, hash-chained, and verify names
the first row that was edited, deleted or cut off (by hand, with sqlite3)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from homelab_ops.loop import log
from homelab_ops.models.decision import Decision
from homelab_ops.store import Store


def _fill(store: Store, n: int = 5) -> None:
    for i in range(n):
        log.append(store, Decision(ts=1000.0 + i, cycle="c", host="nas", subject=f"svc{i}",
                                   finding="container_down", action="restart",
                                   verdict="executed", confidence=0.95, risk="low",
                                   reason="down", detail={"i": i, "nested": {"k": [1, 2]}}))


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "state.db") as s:
        _fill(s)
        yield s


def _tamper(store: Store, *sql: str) -> None:
    """What a person with sqlite3 can do: drop the guards, change rows."""
    db = sqlite3.connect(store.path)
    db.execute("DROP TRIGGER decisions_no_update")
    db.execute("DROP TRIGGER decisions_no_delete")
    for s in sql:
        db.execute(s)
    db.commit()
    db.close()


def test_a_fresh_log_verifies(store: Store) -> None:
    check = log.verify(store)
    assert check.ok and check.rows == 5


def test_the_store_refuses_update_and_delete(store: Store) -> None:
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("UPDATE decisions SET reason = 'fine' WHERE id = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("DELETE FROM decisions WHERE id = 2")
    assert log.verify(store).ok


def test_an_edited_row_is_named(store: Store) -> None:
    _tamper(store, "UPDATE decisions SET verdict = 'refused' WHERE id = 3")
    check = log.verify(store)
    assert not check.ok and check.bad_row == 3 and "changed" in check.problem


def test_an_edited_detail_is_named(store: Store) -> None:
    _tamper(store, """UPDATE decisions SET detail = '{"i":9}' WHERE id = 4""")
    assert log.verify(store).bad_row == 4


def test_a_deleted_row_is_named(store: Store) -> None:
    _tamper(store, "DELETE FROM decisions WHERE id = 2")
    check = log.verify(store)
    assert not check.ok and check.bad_row == 2 and "missing" in check.problem


def test_a_truncated_tail_is_detected(store: Store) -> None:
    _tamper(store, "DELETE FROM decisions WHERE id >= 4")
    check = log.verify(store)
    assert not check.ok and check.bad_row == 4 and "2 missing at the end" in check.problem


def test_a_rehashed_row_still_breaks_the_next_link(store: Store) -> None:
    # a forger who recomputes row 2's own hash still breaks row 3's prev_hash
    from homelab_ops.store import DECISION_FIELDS, decision_hash

    row = store.decision_rows()[1]
    row["reason"] = "forged"
    forged = decision_hash(2, {f: row[f] for f in DECISION_FIELDS}, row["prev_hash"])
    _tamper(store, f"UPDATE decisions SET reason = 'forged', hash = '{forged}' WHERE id = 2")
    assert log.verify(store).bad_row == 3


def test_outcomes_attach_to_their_decision(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as s:
        d = log.append(s, Decision(ts=1.0, cycle="c", host="h", subject="a",
                                   finding="container_down", action="restart",
                                   verdict="executed", reason="x"))
        log.append(s, Decision(ts=2.0, cycle="c", host="h", subject="a",
                               finding="container_down", action="restart",
                               verdict="executed", reason="ok", outcome="success", ref=d))
        rows = log.query(s)
        assert len(rows) == 1 and rows[0]["outcome"] == "success"
        assert log.unfinished(log.entries(s), "other") == []


def test_an_action_without_outcome_is_unfinished_for_a_later_cycle(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as s:
        log.append(s, Decision(ts=1.0, cycle="c1", host="h", subject="a",
                               finding="container_down", action="restart",
                               verdict="executed", reason="x"))
        entries = log.entries(s)
        assert [d.subject for d in log.unfinished(entries, "c2")] == ["a"]
        assert log.unfinished(entries, "c1") == []  # the cycle itself is still at it


def test_restarts_the_loops_own_actions_made_are_no_crash_loop(tmp_path: Path) -> None:
    """A restart that fell inside an action the loop ran to its end (decided ..
    finished) is the playbook's own, not counted; one outside it, or inside an action
    that was interrupted, is the service's."""
    from homelab_ops.loop.cycle import _restarts
    from homelab_ops.models.event import Event

    def action(s: Store, ts: float, outcome: str, subject: str = "db") -> None:
        d = log.append(s, Decision(ts=ts, cycle="c", host="h", subject=subject,
                                   finding="drift", action="redeploy", verdict="notified",
                                   reason="x"))
        log.append(s, Decision(ts=ts + 30, cycle="c", host="h", subject=subject,
                               finding="drift", action="redeploy", verdict="notified",
                               reason="done", outcome=outcome, ref=d))

    now = 100_000.0
    with Store(tmp_path / "s.db") as s:
        action(s, now - 500, "success")
        action(s, now - 300, "interrupted")
        action(s, now - 200, "failed", subject="web")  # another service's
        s.add_events([Event(host="h", ts=ts, subject="db", kind="restarted", detail={}) for ts in (
            now - 900, now - 480, now - 290, now - 190)]
            + [Event(host="other", ts=now - 480, subject="db", kind="restarted", detail={})])
        assert _restarts(s, "h", now, log.entries(s)) == {"db": 3}
        assert _restarts(s, "other", now, log.entries(s)) == {"db": 1}
