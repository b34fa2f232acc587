"""Events derived from two consecutive observations of a host.

podman's own event log rotates and is lost with the container; deriving events from
what we observed keeps "when was X last restarted?" answerable for as long as the
store keeps history. A restart is dated by the container's new start time, not by
when we happened to look.

Where the observation carries podman's event log (systemd hosts: the journal), its
entries between the two observations are taken as well: every death with its exit
code, and every start, so a service that systemd restarted three times between two
looks counts three restarts, not one (its starts replace the derived one).
"""

from __future__ import annotations

from homelab_ops.models.event import Event
from homelab_ops.models.observation import ContainerObs, Observation, PodmanEventLog

# Event kinds, for readers that filter by kind.
APPEARED, DISAPPEARED = "appeared", "disappeared"
STARTED, STOPPED, RESTARTED, DIED = "started", "stopped", "restarted", "died"
HEALTH_CHANGED, OOM_KILLED = "health_changed", "oom_killed"
HOST_UNREACHABLE, HOST_REACHABLE = "host_unreachable", "host_reachable"


def derive_events(last: Observation | None, last_seen: Observation | None,
                  cur: Observation) -> list[Event]:
    """Events between the previous observation ``last`` (reachability changes) and the
    last one where the host answered, ``last_seen`` (container changes), and ``cur``."""
    host, now = cur.host, cur.ts.timestamp()
    if not cur.reachable:
        if last is None or last.reachable:
            return [Event(host=host, ts=now, subject="", kind=HOST_UNREACHABLE,
                          detail={"error": cur.error})]
        return []
    events = []
    if last is not None and not last.reachable:
        events.append(Event(host=host, ts=now, subject="", kind=HOST_REACHABLE, detail={}))
    before = {c.name: c for c in last_seen.containers} if last_seen else None
    for c in cur.containers:
        old = before.get(c.name) if before is not None else None
        if before is not None and old is None:
            events.append(_event(host, now, c, APPEARED, state=c.state))
        events.extend(_container_changes(host, now, old, c))
    if before is not None:
        current = {c.name for c in cur.containers}
        events.extend(
            Event(host=host, ts=now, subject=name, kind=DISAPPEARED, detail={"image": old.image})
            for name, old in before.items()
            if name not in current
        )
    if cur.event_log is not None:
        events = _with_event_log(host, events, cur.event_log, before or {})
    return events


def _with_event_log(host: str, derived: list[Event], log: PodmanEventLog,
                    before: dict[str, ContainerObs]) -> list[Event]:
    """``derived`` with the event log's deaths, OOM kills and starts; a container's
    logged starts replace its derived start or restart. A start of a container that
    ran before (or died earlier in the log) is a restart. The death that left a
    container stopped is its derived stop already."""
    logged = {e.name for e in log.events if e.status == "start"}
    oom = {e.subject for e in derived if e.kind == OOM_KILLED}
    stopped = {e.subject for e in derived if e.kind == STOPPED}
    out = [e for e in derived if not (e.kind in (STARTED, RESTARTED) and e.subject in logged)]
    ran = {name for name, c in before.items() if c.running}
    source = {"source": "podman events"}
    entries = sorted(log.events, key=lambda e: e.ts)
    final_death = {e.name: i for i, e in enumerate(entries) if e.status == "died"}
    for i, e in enumerate(entries):
        if e.status == "died" and e.name in stopped and final_death[e.name] == i:
            ran.add(e.name)
        elif e.status == "died":
            out.append(Event(host=host, ts=e.ts, subject=e.name, kind=DIED,
                             detail={"exit_code": e.exit_code, **source}))
            ran.add(e.name)
        elif e.status == "oom" and e.name not in oom:
            out.append(Event(host=host, ts=e.ts, subject=e.name, kind=OOM_KILLED, detail=source))
        elif e.status == "start":
            out.append(Event(host=host, ts=e.ts, subject=e.name,
                             kind=RESTARTED if e.name in ran else STARTED, detail=source))
            ran.add(e.name)
    return out


def _container_changes(host: str, now: float, old: ContainerObs | None,
                       c: ContainerObs) -> list[Event]:
    """Changes of one container; with no earlier view, record its current start once."""
    started = c.started_at.timestamp() if c.started_at else now
    if old is None:
        return [_event(host, started, c, STARTED, first_seen=True)] if c.running else []
    out = []
    if c.running and not old.running:
        out.append(_event(host, started, c, STARTED, restart_count=c.restart_count))
    elif c.running and (c.started_at != old.started_at or c.restart_count > old.restart_count):
        out.append(_event(host, started, c, RESTARTED, restart_count=c.restart_count,
                          previous_start=old.started_at.isoformat() if old.started_at else None))
    elif old.running and not c.running:
        when = c.finished_at.timestamp() if c.finished_at else now
        out.append(_event(host, when, c, STOPPED, exit_code=c.exit_code, state=c.state))
    if c.oom_killed and not old.oom_killed:
        when = c.finished_at.timestamp() if c.finished_at else now
        out.append(_event(host, when, c, OOM_KILLED, mem_limit_bytes=c.mem_limit_bytes))
    if c.health != old.health and (c.running or old.health is not None) and c.health:
        out.append(_event(host, now, c, HEALTH_CHANGED, old=old.health, new=c.health))
    return out


def _event(host: str, ts: float, c: ContainerObs, kind: str, **detail: object) -> Event:
    return Event(host=host, ts=ts, subject=c.name, kind=kind, detail={"image": c.image, **detail})
