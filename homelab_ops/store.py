"""The embedded state store: one SQLite file (WAL) under the state directory.

Holds observations, per-metric time series (downsampled as they age), events, a TTL
cache, backup records and, later, decisions. Schema changes are numbered migrations
applied in order (``PRAGMA user_version``), so an old store upgrades in place.
WAL lets readers (``ask``, ``status``) work while the observer writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homelab_ops.errors import HomelabError
from homelab_ops.models.event import Event

DB_NAME = "state.db"

# Ages (seconds) at which history is rolled up: raw -> hourly after 14 days,
# hourly -> daily after 90 days. Daily rows are kept (a year is ~365 rows per series).
RAW_KEEP = 14 * 86400
# cache scope of answers computed from observations: a new observation clears it
QUERY_CACHE_SCOPE = "query"
HOURLY_KEEP = 90 * 86400

MIGRATIONS: tuple[str, ...] = (
    # 1: observations, series, events, cache, backups
    """
    CREATE TABLE observations (
        id INTEGER PRIMARY KEY,
        host TEXT NOT NULL,
        ts REAL NOT NULL,
        reachable INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX observations_host_ts ON observations(host, ts);
    CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        host TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        metric TEXT NOT NULL,
        UNIQUE (host, kind, subject, metric)
    );
    CREATE TABLE samples (
        series_id INTEGER NOT NULL REFERENCES series(id),
        ts REAL NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (series_id, ts)
    ) WITHOUT ROWID;
    CREATE TABLE rollups (
        series_id INTEGER NOT NULL REFERENCES series(id),
        resolution INTEGER NOT NULL,
        ts REAL NOT NULL,
        avg REAL NOT NULL,
        min REAL NOT NULL,
        max REAL NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (series_id, resolution, ts)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        host TEXT NOT NULL,
        ts REAL NOT NULL,
        subject TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_subject_ts ON events(host, subject, ts);
    CREATE INDEX events_ts ON events(ts);
    CREATE TABLE cache (
        key TEXT PRIMARY KEY,
        scope TEXT NOT NULL,
        value TEXT NOT NULL,
        created REAL NOT NULL,
        expires REAL NOT NULL
    );
    CREATE INDEX cache_scope ON cache(scope);
    CREATE TABLE backups (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        host TEXT NOT NULL,
        subvolume TEXT NOT NULL,
        action TEXT NOT NULL,
        ok INTEGER NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX backups_action_ts ON backups(action, ts);
    """,
    # 2: the append-only decision log and the record of deployments
    """
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        host TEXT NOT NULL,
        subject TEXT NOT NULL,
        finding TEXT NOT NULL,
        action TEXT NOT NULL,
        verdict TEXT NOT NULL,
        confidence REAL NOT NULL,
        risk TEXT NOT NULL,
        reason TEXT NOT NULL,
        outcome TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX decisions_ts ON decisions(ts);
    CREATE TRIGGER decisions_append_only BEFORE DELETE ON decisions
        BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
    CREATE TABLE deployments (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        host TEXT NOT NULL,
        stack TEXT NOT NULL,
        service TEXT NOT NULL,
        pattern TEXT NOT NULL,
        spec_digest TEXT NOT NULL,
        ok INTEGER NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX deployments_ts ON deployments(ts);
    """,
    # 3: the decision log becomes hash-chained and refuses UPDATE as well as DELETE
    # (schema 2's table was never written by any command, so it is replaced, not
    # copied); its head (row count and last hash) detects a truncated log; the
    # approval queue holds what waits for a person
    """
    DROP TRIGGER decisions_append_only;
    DROP TABLE decisions;
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        cycle TEXT NOT NULL,
        host TEXT NOT NULL,
        subject TEXT NOT NULL,
        finding TEXT NOT NULL,
        action TEXT NOT NULL,
        verdict TEXT NOT NULL,
        confidence REAL NOT NULL,
        risk TEXT NOT NULL,
        reason TEXT NOT NULL,
        outcome TEXT,
        ref INTEGER,
        detail TEXT NOT NULL DEFAULT '{}',
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX decisions_ts ON decisions(ts);
    CREATE INDEX decisions_subject ON decisions(host, subject, ts);
    CREATE INDEX decisions_ref ON decisions(ref);
    CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
        BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
    CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
        BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
    CREATE TABLE decision_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        count INTEGER NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE approvals (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        decision INTEGER NOT NULL,
        host TEXT NOT NULL,
        subject TEXT NOT NULL,
        finding TEXT NOT NULL,
        action TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'pending',
        updated REAL NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX approvals_status ON approvals(status);
    """,
    # 4: each backup copy's ctransid when it was received, so a copy changed later (made
    # writable, written, set read-only again) is never an incremental parent
    """
    CREATE TABLE received_copies (
        host TEXT NOT NULL,
        dir TEXT NOT NULL,
        name TEXT NOT NULL,
        uuid TEXT NOT NULL,
        ctransid INTEGER NOT NULL,
        ts REAL NOT NULL,
        PRIMARY KEY (host, dir, name)
    );
    """,
    # 5: what recommend offered (a person, ask or the cycle) and what came of a skill
    # taken, so the ranking learns per (category, skill)
    """
    CREATE TABLE recommendations (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        source TEXT NOT NULL,
        text TEXT NOT NULL,
        category TEXT NOT NULL,
        skills TEXT NOT NULL
    );
    CREATE TABLE skill_outcomes (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        source TEXT NOT NULL,
        category TEXT NOT NULL,
        skill TEXT NOT NULL,
        worked INTEGER NOT NULL,
        recommendation INTEGER REFERENCES recommendations(id)
    );
    CREATE INDEX skill_outcomes_key ON skill_outcomes(category, skill);
    """,
)

# the first link of the decision log's hash chain
GENESIS_HASH = "0" * 64
DECISION_FIELDS = ("ts", "cycle", "host", "subject", "finding", "action", "verdict",
                   "confidence", "risk", "reason", "outcome", "ref", "detail")


class StoreError(HomelabError):
    """The state store cannot be opened or used; the message says what to do."""


QUARANTINE_HINT = "it is left as it is; `homelab-ops store quarantine` moves it aside"


def store_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """One line for an sqlite failure: a damaged file is never overwritten or repaired
    behind the user's back."""
    if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
        return StoreError(f"{path}: cannot write the state store ({exc}): make it "
                          "writable or choose another --state-dir")
    return StoreError(f"{path}: the state store is damaged ({exc}); {QUARANTINE_HINT}")


def _refuse_foreign(path: Path) -> None:
    """A file that is not SQLite (garbage, a truncated header) is refused before sqlite
    could treat it as empty and write a new database over it."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the state store ({exc.strerror})") from None
    if head and head != b"SQLite format 3\x00":
        raise StoreError(f"{path}: not an SQLite database, the state store is damaged; "
                         f"{QUARANTINE_HINT}")


def quarantine(state_dir: Path) -> list[Path]:
    """Move a damaged store (and its -wal/-shm files) aside as ``state.db.damaged-<time>``
    so the next command starts a new one; returns the new paths."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    moved = []
    for suffix in ("", "-wal", "-shm"):
        src = state_dir / f"{DB_NAME}{suffix}"
        if src.exists():
            dst = state_dir / f"{DB_NAME}.damaged-{stamp}{suffix}"
            src.rename(dst)
            moved.append(dst)
    return moved


@dataclass(frozen=True)
class SeriesKey:
    """Labels of one time series: ``host``, ``kind`` (host/container/filesystem),
    ``subject`` (container or mount name; "" for the host) and ``metric``."""

    host: str
    kind: str
    subject: str
    metric: str


class Store:
    """A connection to the state store. Cheap to open; one per process or thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _refuse_foreign(path)
        try:
            # private: the store holds what runs where, events and environment fingerprints
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # sqlite copies its
            path.chmod(0o600)  # mode to the -wal/-shm files; an older store is tightened
        except OSError as exc:
            raise StoreError(f"{exc.filename or path}: cannot create or write the state store "
                             f"({exc.strerror}): choose a writable directory with "
                             "--state-dir or $HOMELAB_OPS_STATE_DIR") from None
        try:
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._series_ids: dict[SeriesKey, int] = {}
            self._migrate()
        except sqlite3.Error as exc:
            raise store_error(path, exc) from None

    @classmethod
    def open(cls, state_dir: Path) -> Store:
        return cls(state_dir / DB_NAME)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: all of it lands or none of it (an interrupted observe
        never leaves half an observation)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            self._series_ids.clear()  # ids created inside the transaction are gone
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(f"{self.path} is from a newer homelab-ops (schema {version})")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as db:
                # another process may have migrated while this one waited for the lock
                if db.execute("PRAGMA user_version").fetchone()[0] >= number:
                    continue
                for statement in _statements(script):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    # -- observations -------------------------------------------------------------------
    def add_observation(self, host: str, ts: float, reachable: bool, doc: dict) -> int:
        cur = self.db.execute(
            "INSERT INTO observations(host, ts, reachable, doc) VALUES (?,?,?,?)",
            (host, ts, int(reachable), json.dumps(doc, separators=(",", ":"))),
        )
        return int(cur.lastrowid or 0)

    def latest_observations(self) -> dict[str, dict]:
        """The newest observation document of every host."""
        rows = self.db.execute(
            "SELECT host, doc FROM observations o WHERE ts = "
            "(SELECT MAX(ts) FROM observations WHERE host = o.host) ORDER BY host"
        )
        return {host: json.loads(doc) for host, doc in rows}

    def previous_observation(self, host: str, before: float,
                             reachable_only: bool = True) -> dict | None:
        """The newest observation of ``host`` before ``before`` (optionally only one
        where the host answered)."""
        row = self.db.execute(
            "SELECT doc FROM observations WHERE host=? AND ts<? AND reachable>=? "
            "ORDER BY ts DESC LIMIT 1",
            (host, before, int(reachable_only)),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def event_log_until(self, host: str) -> float | None:
        """Where the newest observation of ``host`` stopped reading podman's event log
        (read out of its document by SQLite, not by parsing the whole observation)."""
        row = self.db.execute(
            "SELECT json_extract(doc, '$.event_log.until') FROM observations "
            "WHERE host=? AND reachable=1 ORDER BY ts DESC LIMIT 1", (host,)).fetchone()
        return row[0] if row else None

    def health_history(self, since: float = 0.0, until: float = float("inf")
                       ) -> list[tuple[str, float, bool, dict | None]]:
        """(host, ts, reachable, health score document) of every observation in the
        window, oldest first; only the score is read out of each document."""
        rows = self.db.execute(
            "SELECT host, ts, reachable, json_extract(doc, '$.health') FROM observations "
            "WHERE ts >= ? AND ts <= ? ORDER BY ts, id", (since, _finite(until)))
        return [(h, t, bool(r), json.loads(doc) if doc else None) for h, t, r, doc in rows]

    # -- time series --------------------------------------------------------------------
    def series_id(self, key: SeriesKey) -> int:
        """The id of a series, created on first use (ids never change: cached)."""
        if key in self._series_ids:
            return self._series_ids[key]
        row = self.db.execute(
            "SELECT id FROM series WHERE host=? AND kind=? AND subject=? AND metric=?",
            (key.host, key.kind, key.subject, key.metric),
        ).fetchone()
        if row is None:
            row = self.db.execute(
                "INSERT INTO series(host, kind, subject, metric) VALUES (?,?,?,?) RETURNING id",
                (key.host, key.kind, key.subject, key.metric),
            ).fetchone()
        self._series_ids[key] = int(row[0])
        return self._series_ids[key]

    def add_samples(self, ts: float, values: Iterable[tuple[SeriesKey, float]]) -> int:
        rows = [(self.series_id(k), ts, float(v)) for k, v in values]
        self.db.executemany("INSERT OR REPLACE INTO samples VALUES (?,?,?)", rows)
        return len(rows)

    def add_points(self, key: SeriesKey, points: Sequence[tuple[float, float]]) -> None:
        """Bulk-load one series (imports, simulations, benchmarks)."""
        sid = self.series_id(key)
        self.db.executemany(
            "INSERT OR REPLACE INTO samples VALUES (?,?,?)", [(sid, t, v) for t, v in points]
        )

    def find_series(self, host: str | None = None, kind: str | None = None,
                    subject: str | None = None, metric: str | None = None) -> list[SeriesKey]:
        clauses, args = [], []
        for col, val in (("host", host), ("kind", kind), ("subject", subject),
                         ("metric", metric)):
            if val is not None:
                clauses.append(f"{col}=?")
                args.append(val)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.execute(f"SELECT host, kind, subject, metric FROM series {where}", args)
        return [SeriesKey(*r) for r in rows]

    def read_series(self, key: SeriesKey, since: float = 0.0,
                    until: float = float("inf")) -> list[tuple[float, float]]:
        """(ts, value) points in time order, mixing raw samples with the averages of
        rolled-up history, so callers see one series whatever its age."""
        sid = self.db.execute(
            "SELECT id FROM series WHERE host=? AND kind=? AND subject=? AND metric=?",
            (key.host, key.kind, key.subject, key.metric),
        ).fetchone()
        if not sid:
            return []
        rows = self.db.execute(
            "SELECT ts, avg FROM rollups WHERE series_id=? AND ts>=? AND ts<=? "
            "UNION ALL SELECT ts, value FROM samples WHERE series_id=? AND ts>=? AND ts<=? "
            "ORDER BY 1",
            (sid[0], since, _finite(until), sid[0], since, _finite(until)),
        )
        return [(float(t), float(v)) for t, v in rows]

    def downsample(self, now: float | None = None) -> dict[str, int]:
        """Roll raw samples older than 14 days into hourly rows and hourly rows older
        than 90 days into daily rows; returns how many rows moved."""
        now = time.time() if now is None else now
        moved = {}
        with self.transaction() as db:
            moved["raw_to_hourly"] = _roll(db, "samples", now - RAW_KEEP, 3600)
            moved["hourly_to_daily"] = _roll(db, "hourly", now - HOURLY_KEEP, 86400)
            cutoff = now - 14 * 86400
            moved["observations_pruned"] = db.execute(
                "DELETE FROM observations WHERE ts < ? AND id NOT IN "
                "(SELECT MAX(id) FROM observations GROUP BY host)", (cutoff,)
            ).rowcount
        return moved

    # -- events -------------------------------------------------------------------------
    def add_events(self, events: Iterable[Event]) -> None:
        self.db.executemany(
            "INSERT INTO events(host, ts, subject, kind, detail) VALUES (?,?,?,?,?)",
            [(e.host, e.ts, e.subject, e.kind, json.dumps(e.detail)) for e in events],
        )

    def events(self, host: str | None = None, subject: str | None = None,
               kinds: Sequence[str] | None = None, since: float = 0.0,
               limit: int = 100) -> list[Event]:
        """Newest first."""
        clauses, args = ["ts >= ?"], [since]
        if host is not None:
            clauses.append("host = ?")
            args.append(host)
        if subject is not None:
            clauses.append("subject = ?")
            args.append(subject)
        if kinds:
            clauses.append(f"kind IN ({','.join('?' * len(kinds))})")
            args.extend(kinds)
        rows = self.db.execute(
            f"SELECT host, ts, subject, kind, detail FROM events WHERE {' AND '.join(clauses)} "
            "ORDER BY ts DESC, id DESC LIMIT ?",
            [*args, limit],
        )
        return [Event(host=h, ts=t, subject=s, kind=k, detail=json.loads(d))
                for h, t, s, k, d in rows]

    # -- cache --------------------------------------------------------------------------
    def cache_get(self, key: str, now: float | None = None) -> Any | None:
        now = time.time() if now is None else now
        row = self.db.execute(
            "SELECT value FROM cache WHERE key=? AND expires>?", (key, now)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def cache_put(self, key: str, value: Any, ttl: float, scope: str = "default",
                  now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.db.execute(
            "INSERT OR REPLACE INTO cache(key, scope, value, created, expires) "
            "VALUES (?,?,?,?,?)",
            (key, scope, json.dumps(value, default=str), now, now + ttl),
        )

    def cache_delete(self, key: str) -> bool:
        return self.db.execute("DELETE FROM cache WHERE key=?", (key,)).rowcount > 0

    def cache_invalidate(self, scope: str | None = None) -> int:
        if scope is None:
            return self.db.execute("DELETE FROM cache").rowcount
        return self.db.execute("DELETE FROM cache WHERE scope=?", (scope,)).rowcount

    # -- backups ------------------------------------------------------------------------
    def record_backup(self, host: str, subvolume: str, action: str, ok: bool,
                      detail: dict[str, Any] | None = None, ts: float | None = None) -> None:
        """One backup step: action is e.g. snapshot, send, prune, restore_test."""
        self.db.execute(
            "INSERT INTO backups(ts, host, subvolume, action, ok, detail) VALUES (?,?,?,?,?,?)",
            (time.time() if ts is None else ts, host, subvolume, action, int(ok),
             json.dumps(detail or {}, default=str)),
        )

    def backups(self, action: str | None = None, ok: bool | None = None,
                limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        clauses, args = ["1=1"], []
        if action is not None:
            clauses.append("action=?")
            args.append(action)
        if ok is not None:
            clauses.append("ok=?")
            args.append(int(ok))
        rows = self.db.execute(
            "SELECT ts, host, subvolume, action, ok, detail FROM backups WHERE "
            f"{' AND '.join(clauses)} ORDER BY ts DESC, id DESC LIMIT ?", [*args, limit]
        )
        return [
            {"ts": t, "host": h, "subvolume": s, "action": a, "ok": bool(o),
             "detail": json.loads(d)}
            for t, h, s, a, o, d in rows
        ]

    def received_copies(self, host: str, directory: str) -> dict[str, dict[str, Any]]:
        """Copies in a target folder as first seen complete: name -> uuid, ctransid, ts."""
        rows = self.db.execute("SELECT name, uuid, ctransid, ts FROM received_copies "
                               "WHERE host=? AND dir=?", (host, directory))
        return {n: {"uuid": u, "ctransid": c, "ts": t} for n, u, c, t in rows}

    def record_received(self, host: str, directory: str,
                        copies: Mapping[str, tuple[str, int]], ts: float) -> None:
        """Remember ``copies`` (name -> (uuid, ctransid)) of a target folder: a name seen
        before under the same UUID keeps its first record; names gone are forgotten."""
        with self.transaction() as db:
            known = {n: r["uuid"] for n, r in self.received_copies(host, directory).items()}
            for name in set(known) - set(copies):
                db.execute("DELETE FROM received_copies WHERE host=? AND dir=? AND name=?",
                           (host, directory, name))
            for name, (uuid, ctransid) in copies.items():
                if known.get(name) != uuid:
                    db.execute("INSERT OR REPLACE INTO received_copies VALUES (?,?,?,?,?,?)",
                               (host, directory, name, uuid, ctransid, ts))


    # -- recommendations and what came of them ------------------------------------------
    def record_recommendation(self, *, source: str, text: str, category: str,
                              skills: Sequence[str], ts: float | None = None) -> int:
        cur = self.db.execute(
            "INSERT INTO recommendations(ts, source, text, category, skills) "
            "VALUES (?,?,?,?,?)", (time.time() if ts is None else ts, source, text,
                                   category, json.dumps(list(skills))))
        return int(cur.lastrowid or 0)

    def recommendation_with(self, skill: str) -> dict[str, Any] | None:
        """The newest recommendation that offered ``skill``."""
        rows = self.db.execute(
            "SELECT r.id, r.ts, r.category FROM recommendations r, json_each(r.skills) j "
            "WHERE j.value = ? ORDER BY r.id DESC LIMIT 1", (skill,)).fetchall()
        return {"id": rows[0][0], "ts": rows[0][1], "category": rows[0][2]} if rows else None

    def record_skill_outcome(self, *, source: str, category: str, skill: str, worked: bool,
                             recommendation: int | None = None,
                             ts: float | None = None) -> int:
        cur = self.db.execute(
            "INSERT INTO skill_outcomes(ts, source, category, skill, worked, recommendation) "
            "VALUES (?,?,?,?,?,?)", (time.time() if ts is None else ts, source, category,
                                     skill, int(worked), recommendation))
        return int(cur.lastrowid or 0)

    def skill_tally(self, source: str | None = None
                    ) -> dict[tuple[str, str], tuple[int, int]]:
        """(category, skill) -> (times it worked, times it failed), of every source
        (``person``, ``cycle``) or of one."""
        rows = self.db.execute("SELECT category, skill, SUM(worked), SUM(1 - worked) "
                               "FROM skill_outcomes WHERE ?1 IS NULL OR source = ?1 "
                               "GROUP BY category, skill", (source,))
        return {(c, s): (int(w), int(f)) for c, s, w, f in rows}

    # -- decisions and deployments -------------------------------------------------------
    def append_decision(self, row: Mapping[str, Any]) -> int:
        """Append one row (``DECISION_FIELDS``) to the hash-chained decision log and
        move its head in the same transaction: a crash leaves both or neither. The
        hash covers the row's id, its fields and the previous hash, so an edited,
        renumbered or removed row breaks the chain and a cut-off tail no longer
        matches the head."""
        values = {f: row.get(f) for f in DECISION_FIELDS}
        values["detail"] = canonical_json(values["detail"] or {})
        with self.transaction() as db:
            head = db.execute("SELECT count, hash FROM decision_head").fetchone()
            last = db.execute("SELECT MAX(id) FROM decisions").fetchone()[0] or 0
            rowid, prev_hash = last + 1, head[1] if head else GENESIS_HASH
            digest = decision_hash(rowid, values, prev_hash)
            db.execute(
                f"INSERT INTO decisions(id, {', '.join(DECISION_FIELDS)}, prev_hash, hash) "
                f"VALUES ({', '.join('?' * (len(DECISION_FIELDS) + 3))})",
                [rowid, *values.values(), prev_hash, digest])
            db.execute("INSERT OR REPLACE INTO decision_head(id, count, hash) "
                       "VALUES (1, ?, ?)", ((head[0] if head else 0) + 1, digest))
        return rowid

    def decision_rows(self, since: float = 0.0, after_id: int = 0) -> list[dict[str, Any]]:
        """Raw log rows in order (``detail`` still the stored JSON text)."""
        cur = self.db.execute("SELECT * FROM decisions WHERE ts >= ? AND id > ? ORDER BY id",
                              (since, after_id))
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur]

    def decision_head(self) -> tuple[int, str]:
        """(rows appended, hash of the last one) as the log itself last recorded."""
        row = self.db.execute("SELECT count, hash FROM decision_head").fetchone()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def decisions(self, since: float = 0.0, limit: int = 100) -> list[dict[str, Any]]:
        """Decisions newest first, each with the outcome appended for it later (the log
        is append-only: an outcome is its own row pointing at its decision)."""
        cur = self.db.execute(
            "SELECT d.*, o.outcome AS final_outcome, o.reason AS outcome_reason "
            "FROM decisions d "
            "LEFT JOIN decisions o ON o.ref = d.id "
            "WHERE d.ts >= ? AND d.ref IS NULL AND d.verdict NOT IN ('control', 'incident') "
            "ORDER BY d.ts DESC, d.id DESC LIMIT ?",
            (since, limit))
        rows = _rows(cur)
        for r in rows:
            r["outcome"] = r.pop("final_outcome") or r["outcome"]
        return rows

    # -- the approval queue --------------------------------------------------------------
    def add_approval(self, *, decision: int, host: str, subject: str, finding: str,
                     action: str, params: Mapping[str, Any], ts: float) -> int:
        cur = self.db.execute(
            "INSERT INTO approvals(ts, decision, host, subject, finding, action, params, "
            "updated) VALUES (?,?,?,?,?,?,?,?)",
            (ts, decision, host, subject, finding, action, canonical_json(params), ts))
        return int(cur.lastrowid or 0)

    def approvals(self, status: str | None = None) -> list[dict[str, Any]]:
        where, args = ("WHERE status = ?", [status]) if status else ("", [])
        cur = self.db.execute(f"SELECT * FROM approvals {where} ORDER BY id", args)
        rows = _rows(cur)
        for r in rows:
            r["params"] = json.loads(r["params"])
        return rows

    def set_approval(self, approval_id: int, status: str, ts: float, note: str = "") -> bool:
        """Move a queued action to ``status``; False when no such entry is open."""
        cur = self.db.execute(
            "UPDATE approvals SET status = ?, updated = ?, note = ? "
            "WHERE id = ? AND status IN ('pending', 'approved')",
            (status, ts, note, approval_id))
        return cur.rowcount == 1

    def record_deployment(self, *, host: str, stack: str, service: str, pattern: str,
                          spec_digest: str, ok: bool, detail: dict[str, Any] | None = None,
                          ts: float | None = None) -> None:
        self.db.execute(
            "INSERT INTO deployments(ts, host, stack, service, pattern, spec_digest, ok, "
            "detail) VALUES (?,?,?,?,?,?,?,?)",
            (time.time() if ts is None else ts, host, stack, service, pattern, spec_digest,
             int(ok), json.dumps(detail or {}, default=str)),
        )

    def forget_stack(self, stack: str) -> int:
        """Delete the record of ``stack``'s deployments (its containers stay); how many."""
        return self.db.execute("DELETE FROM deployments WHERE stack = ?", (stack,)).rowcount

    def good_deployments(self, host: str, stack: str, limit: int = 50
                         ) -> list[dict[str, Any]]:
        """``stack``'s deployments to ``host`` that passed health, newest first."""
        return _rows(self.db.execute(
            "SELECT * FROM deployments WHERE host = ? AND stack = ? AND ok = 1 "
            "ORDER BY id DESC LIMIT ?", (host, stack, limit)))

    def deployments(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest deployment of every (host, stack, service), newest first."""
        cur = self.db.execute(
            "SELECT * FROM deployments d WHERE id = (SELECT MAX(id) FROM deployments "
            "WHERE host = d.host AND stack = d.stack AND service = d.service) "
            "ORDER BY ts DESC LIMIT ?",
            (limit,),
        )
        return _rows(cur)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def decision_hash(rowid: int, values: Mapping[str, Any], prev_hash: str) -> str:
    """The chain link of one decision row: sha256 over the previous link, the id and
    every field in ``DECISION_FIELDS`` order (``detail`` as its stored JSON text)."""
    import hashlib

    body = canonical_json([prev_hash, rowid, *(values[f] for f in DECISION_FIELDS)])
    return hashlib.sha256(body.encode()).hexdigest()


def _statements(script: str) -> Iterator[str]:
    """Split a script into statements (a trigger body holds ";" of its own)."""
    pending = ""
    for chunk in script.split(";"):
        pending += chunk + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""


def _rows(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [c[0] for c in cur.description]
    out = []
    for row in cur:
        item = dict(zip(names, row, strict=True))
        if "detail" in item:
            item["detail"] = json.loads(item["detail"])
        out.append(item)
    return out


def _finite(value: float) -> float:
    return min(value, 1e18)


def _roll(db: sqlite3.Connection, source: str, cutoff: float, step: int) -> int:
    """Aggregate ``source`` rows older than ``cutoff`` into ``step``-second buckets.

    Only whole buckets are rolled, so a bucket is never split between two resolutions.
    """
    cutoff = cutoff - (cutoff % step)
    if source == "samples":
        select = (
            "SELECT series_id, CAST(ts / :step AS INTEGER) * :step AS b, AVG(value), "
            "MIN(value), MAX(value), COUNT(*) FROM samples WHERE ts < :cutoff "
            "GROUP BY series_id, b"
        )
        delete = "DELETE FROM samples WHERE ts < :cutoff"
    else:
        select = (
            "SELECT series_id, CAST(ts / :step AS INTEGER) * :step AS b, "
            "SUM(avg * n) / SUM(n), MIN(min), MAX(max), SUM(n) FROM rollups "
            "WHERE resolution = 3600 AND ts < :cutoff GROUP BY series_id, b"
        )
        delete = "DELETE FROM rollups WHERE resolution = 3600 AND ts < :cutoff"
    args = {"step": step, "cutoff": cutoff}
    rows = db.execute(select, args).fetchall()
    # a late sample for an already rolled bucket merges into it instead of replacing it
    db.executemany(
        "INSERT INTO rollups(series_id, resolution, ts, avg, min, max, n) "
        "VALUES (?,?,?,?,?,?,?) ON CONFLICT(series_id, resolution, ts) DO UPDATE SET "
        "avg = (avg * n + excluded.avg * excluded.n) / (n + excluded.n), "
        "min = MIN(min, excluded.min), max = MAX(max, excluded.max), n = n + excluded.n",
        [(sid, step, b, a, lo, hi, n) for sid, b, a, lo, hi, n in rows],
    )
    return db.execute(delete, args).rowcount
