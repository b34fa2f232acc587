"""OBSERVE: probe every inventory host in parallel (one command per host), build one
validated Observation each, and write it with its series and events to the store.

An unreachable host is recorded as unreachable with the reason; the others are
observed regardless. Each host's write is one transaction: an interrupted observe
never leaves half an observation behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

from pyinfra.api import Host, Inventory

from homelab_ops.backup.status import backup_status
from homelab_ops.collection.facts.probe import HostProbe
from homelab_ops.collection.lib.backend import declared_systemd
from homelab_ops.collection.session import FactFailed, fact_per_host, pyinfra_session
from homelab_ops.events import derive_events
from homelab_ops.health import backup_findings, score
from homelab_ops.inventory import distinct_hosts
from homelab_ops.models.observation import (
    ContainerObs,
    FilesystemObs,
    HostStats,
    NetworkObs,
    Observation,
    PodmanEventLog,
    ProbeCost,
    TimerObs,
    UnitObs,
)
from homelab_ops.models.settings import Settings
from homelab_ops.store import QUERY_CACHE_SCOPE, SeriesKey, Store

DOWNSAMPLE_EVERY = 3600.0


def observe(inventory: Inventory, store: Store, settings: Settings,
            now: datetime | None = None) -> list[Observation]:
    """Observe every distinct host of ``inventory``; ``now`` pins the timestamp
    (simulations)."""
    inventory = distinct_hosts(inventory)
    since = {h.name: store.event_log_until(h.name) for h in inventory}
    with pyinfra_session(inventory) as session:
        started = time.monotonic()
        probes = fact_per_host(session.state, HostProbe,
                               lambda h: {**_probe_kwargs(h), "events_since": since[h.name]})
        elapsed = time.monotonic() - started
    ts = now or datetime.now(UTC)
    observations = []
    for host in inventory:
        if host.name in session.unreachable:
            obs = Observation(host=host.name, ts=ts, reachable=False,
                              error=session.unreachable[host.name])
        elif isinstance(probes.get(host.name), FactFailed):
            obs = Observation(host=host.name, ts=ts, reachable=False,
                              error=f"probe failed: {probes[host.name]}")
        else:
            obs = build_observation(host.name, ts, probes[host.name], elapsed)
        observations.append(obs)
    backups = backup_status(store, ts.timestamp())
    for obs in observations:
        obs.health = score(obs, settings.thresholds, backup_findings(backups, obs.host))
    record(store, observations)
    return observations


def _probe_kwargs(host: Host) -> dict[str, object]:
    """Run healthchecks ourselves unless systemd runs them: host data decides as for the
    backend (lib/backend.py), else the probe detects systemd as PID 1 (None)."""
    systemd = declared_systemd(host.data)
    return {"run_healthchecks": None if systemd is None else not systemd}


def build_observation(host: str, ts: datetime, probe: dict, seconds: float) -> Observation:
    containers = [ContainerObs.model_validate(c) for c in probe["containers"]]
    networks = []
    for n in probe["networks"]:
        net = NetworkObs.model_validate(n)
        net.members = sorted(c.name for c in containers if net.name in c.networks)
        networks.append(net)
    systemd = probe["systemd"]
    stats = probe["stats"]
    return Observation(
        host=host,
        ts=ts,
        reachable=True,
        systemd=bool(probe["systemd_init"]),
        containers=containers,
        networks=networks,
        units=[UnitObs.model_validate(u) for u in systemd["units"]],
        timers=[TimerObs.model_validate(t) for t in systemd["timers"]],
        filesystems=[FilesystemObs.model_validate(f) for f in probe["filesystems"]],
        stats=HostStats.model_validate(stats) if stats else None,
        probe_errors=probe["errors"],
        event_log=PodmanEventLog.model_validate(probe["events"]) if probe["events"] else None,
        cost=ProbeCost(round_trips=1, seconds=round(seconds, 3)),
    )


def record(store: Store, observations: Iterable[Observation]) -> None:
    for obs in observations:
        ts = obs.ts.timestamp()
        last, last_seen = (
            _parse(store.previous_observation(obs.host, ts, reachable_only=flag))
            for flag in (False, True)
        )
        events = derive_events(last, last_seen, obs)
        with store.transaction():
            store.add_observation(obs.host, ts, obs.reachable, obs.model_dump(mode="json"))
            if obs.reachable:
                store.add_samples(ts, series_values(obs))
            store.add_events(events)
            store.cache_invalidate(QUERY_CACHE_SCOPE)
    if store.cache_get("observe:last-downsample") is None:
        store.downsample()
        store.cache_put("observe:last-downsample", time.time(), ttl=DOWNSAMPLE_EVERY)


def _parse(doc: dict | None) -> Observation | None:
    return Observation.model_validate(doc) if doc else None


def series_values(obs: Observation) -> list[tuple[SeriesKey, float]]:
    """The metrics kept as time series (names are a contract with predict and ask)."""
    h = obs.host
    out: list[tuple[SeriesKey, float]] = []
    for c in obs.containers:
        key = lambda m, name=c.name: SeriesKey(h, "container", name, m)  # noqa: E731
        out.append((key("running"), float(c.running)))
        out.append((key("restarts"), float(c.restart_count)))
        out.append((key("mem_limit_bytes"), float(c.mem_limit_bytes)))
        if c.mem_bytes is not None:
            out.append((key("mem_bytes"), float(c.mem_bytes)))
        if c.cpu_pct is not None:
            out.append((key("cpu_pct"), c.cpu_pct))
        if c.started_at is not None:
            out.append((key("started_at"), c.started_at.timestamp()))
    for fs in obs.filesystems:
        key = lambda m, mp=fs.mountpoint: SeriesKey(h, "filesystem", mp, m)  # noqa: E731
        out += [(key("used_bytes"), float(fs.used_bytes)),
                (key("size_bytes"), float(fs.size_bytes)),
                (key("avail_bytes"), float(fs.avail_bytes)),
                (key("used_pct"), fs.used_pct)]
    if obs.stats:
        s = obs.stats
        key = lambda m: SeriesKey(h, "host", "", m)  # noqa: E731
        out += [(key("mem_used_bytes"), float(s.mem_used_bytes)),
                (key("mem_total_bytes"), float(s.mem_total_bytes)),
                (key("swap_used_bytes"), float(s.swap_used_bytes)),
                (key("load1"), s.load1),
                (key("cpu_count"), float(s.cpu_count))]
    return out
