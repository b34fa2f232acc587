"""``homelab-ops diagnose SERVICE``: what the agent already knows of a service (its
events, the cached leak prediction, its stack's drift) plus a fresh look (inspect,
healthcheck log, last log lines), judged by ``cause``. Reads only."""

from __future__ import annotations

import time
from pathlib import Path

from pyinfra.api import Inventory

from homelab_ops import events as ev
from homelab_ops.collection.facts.look import ContainerLook, checked_name
from homelab_ops.diagnose.cause import Evidence, findings
from homelab_ops.diagnose.hosts import find_service, reader
from homelab_ops.errors import HomelabError
from homelab_ops.models.diagnosis import ContainerView, Diagnosis
from homelab_ops.models.prediction import REPORT_KEY
from homelab_ops.models.settings import Settings
from homelab_ops.models.stack import STACK_LABEL
from homelab_ops.store import Store

HOUR = 3600.0
LOG_LINES = 20
EVENTS_SHOWN = 10


def diagnose(inventory: Inventory, store: Store, settings: Settings, said: str,
             now: float | None = None) -> Diagnosis:
    now = time.time() if now is None else now
    try:
        checked_name(said)
    except ValueError:
        raise HomelabError(f"{said!r} is not a container name") from None
    with reader(inventory) as hosts:
        looks = _looks(hosts, said)
        host, name = find_service(said, {h: lk.names for h, lk in looks.items()},
                                  hosts.failures)
        if name != said:  # spelled differently: look again at the real one
            looks = _looks(hosts, name)
        failures = list(hosts.failures)
    look = looks.get(host)
    if look is None or look.container is None:
        raise HomelabError(f"{host}: {name} disappeared while it was being looked at")
    diagnosis = Diagnosis(service=name, host=host, container=look.container,
                          last_exit_code=look.last_exit_code, health_log=look.health_log,
                          log_tail=look.log_tail, podman_events=look.events,
                          failures=failures)
    known, died = _known(diagnosis, store, now)
    return _judged(known, died, inventory, store, settings)


def _looks(hosts, name: str) -> dict[str, ContainerView]:
    got = hosts.read(ContainerLook, lambda h: {"container": name, "lines": LOG_LINES})
    return {h: ContainerView.model_validate(v) for h, v in got.items()}


def _known(d: Diagnosis, store: Store, now: float) -> tuple[Diagnosis, list[int]]:
    """What the store knows (the events of the last day, the cached leak prediction)
    beside podman's own event log of the last hour; and the exit codes of the deaths
    in that hour."""
    recent = store.events(host=d.host, subject=d.service, since=now - 24 * HOUR, limit=200)
    hour = [e for e in recent if e.ts >= now - HOUR]
    logged = d.podman_events
    died = [e.exit_code for e in logged if e.status == "died"] or [
        e.detail.get("exit_code") for e in hour if e.kind == ev.DIED]
    report = store.cache_get(REPORT_KEY)
    leak = next((m for m in (report or {}).get("leaks", [])
                 if m["host"] == d.host and m["container"] == d.service), None)
    notes = [] if report else ["no cached predictions: run `homelab-ops observe`"]
    return d.model_copy(update={
        "events": [{"ts": e.ts, "kind": e.kind, **e.detail} for e in recent[:EVENTS_SHOWN]],
        "restarts_1h": max(sum(e.kind in (ev.RESTARTED, ev.DIED) for e in hour),
                           restarts_logged(logged)),
        "ooms_1h": max(sum(e.kind == ev.OOM_KILLED for e in hour),
                       sum(e.status == "oom" for e in logged)),
        "leak": leak, "notes": d.notes + notes}), [c for c in died if isinstance(c, int)]


def _judged(d: Diagnosis, died: list[int], inventory: Inventory, store: Store,
            settings: Settings) -> Diagnosis:
    drift, note = _drift(d, inventory, store)
    found = findings(Evidence(
        container=d.container, last_exit_code=d.last_exit_code, log_tail=d.log_tail,
        health_log=d.health_log, restarts_1h=d.restarts_1h, ooms_1h=d.ooms_1h,
        died_codes=died, leak=d.leak, drift=drift,
        restart_loop_count=settings.thresholds.restart_loop_count))
    found = [f.model_copy(update={"host": d.host}) for f in found]
    return d.model_copy(update={"findings": found, "drift": drift,
                                "cause": found[0].message if found else None,
                                "notes": d.notes + ([note] if note else [])})


def _drift(d: Diagnosis, inventory: Inventory, store: Store) -> tuple[list[str], str]:
    """The drift lines of this container (and its unit) in its deployed stack."""
    from homelab_ops.collection.lib.secrets import read_secrets
    from homelab_ops.stacks import run
    from homelab_ops.stacks.known import deployed_files
    from homelab_ops.stacks.load import load_stack

    stack = d.container.labels.get(STACK_LABEL)
    path = deployed_files(store).get(stack or "")
    if path is None:
        return [], "drift not checked: not part of a stack homelab-ops deployed"
    try:
        declared = load_stack(Path(path))
        found = run.drift(inventory, declared, read_secrets(declared))
    except HomelabError as exc:
        return [], f"drift not checked: {exc}"
    mine = (d.service, f"{d.service}.container")
    return [x.line() for x in found if x.host == d.host and x.subject in mine], ""


def restarts_logged(events) -> int:
    """Restarts in podman's event log: deaths that a later start followed (whoever
    started it again: podman's restart policy, systemd or a person)."""
    starts = [e.ts for e in events if e.status == "start"]
    return sum(any(s > e.ts for s in starts) for e in events if e.status == "died")
