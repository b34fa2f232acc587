"""The agent's backup run: the same pyinfra deploy a user runs with the pyinfra CLI,
driven through pyinfra's Python API, under the backup lock, with the space forecast
applied and every outcome recorded in the state store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import MISSING

from homelab_ops.backup import parents, rotation
from homelab_ops.collection.lib import naming, retention, transfer
from homelab_ops.collection.lib.layout import VolumeLayout, host_layouts
from homelab_ops.models.backup import BackupConfig
from homelab_ops.models.backup_run import BackupRun, HostRun, OpRun, Rotation, VolumeRun
from homelab_ops.models.event import Event
from homelab_ops.models.inventory import host_value
from homelab_ops.models.prediction import disk_key
from homelab_ops.models.settings import Thresholds

HostEntry = tuple[str, dict[str, Any]]


def _target_mount(config: BackupConfig, data: dict[str, Any]) -> tuple[str, str] | None:
    """(host, mountpoint) whose disk prediction governs rotation of the target."""
    if config.target is None:
        return None
    if config.target.pool is not None:
        pools = host_value(data, "btrfs_pools")
        return None if config.target.pool not in pools else ("", pools[config.target.pool])
    return (config.target.ssh or "", config.target.path or "")


def _thresholds() -> Thresholds:
    """The agent's disk thresholds (its settings file), defaults when it has none."""
    from homelab_ops.errors import HomelabError
    from homelab_ops.models.settings import load_settings

    try:
        return load_settings().thresholds
    except HomelabError:
        return Thresholds()


def target_rotation(store, name: str, data: dict[str, Any], config: BackupConfig,
                    now: datetime, thresholds: Thresholds | None = None) -> Rotation:
    """The space-forecast decision for the host's backup target: the predictor's
    cached disk prediction, or, for a pool of this host when the cache has none (it
    lives an hour; the timers run at night), one computed now from the store."""
    mount = _target_mount(config, data)
    prediction = None
    if mount is not None:
        host = mount[0] or name
        prediction = store.cache_get(disk_key(host, mount[1]))
        if prediction is None and config.target is not None and config.target.pool:
            from homelab_ops.predict.run import predict_filesystem

            limits = thresholds or _thresholds()
            prediction = predict_filesystem(store, host, mount[1], now.timestamp(),
                                            limits.crit_pct_for(mount[1])).model_dump()
    return rotation.plan_rotation(prediction, config.forecast_horizon_days)


def run_backup(hosts: list[HostEntry], store, *, now: datetime, schedule: str | None = None,
               tag: str | None = None, prune_only: bool = False,
               dry_run: bool = False, thresholds: Thresholds | None = None,
               rotate_early: bool = False
               ) -> BackupRun:
    """One run over ``hosts``; the caller holds the backup lock. ``thresholds`` (disk
    critical levels for the space forecast) default to the agent's settings."""
    from pyinfra.api.deploy import add_deploy
    from pyinfra.api.exceptions import PyinfraError
    from pyinfra.api.operations import run_ops

    from homelab_ops.collection.deploys.backup import backup
    from homelab_ops.collection.session import pyinfra_session
    from homelab_ops.inventory import inventory_from_entries

    at, now = now, now.replace(second=0, microsecond=0)  # the deploy names tagged ones by `at`
    prepared: list[HostEntry] = []
    runs: dict[str, HostRun] = {}
    failure: str | None = None  # pyinfra refused the whole run
    for name, data in hosts:
        config, _ = host_layouts(name, data)
        rot = target_rotation(store, name, data, config, now, thresholds)
        runs[name] = HostRun(rotation=rot, ok=True)
        prepared.append((name, {**data, "backup_rotate_early": rot.early or rotate_early}))
    with pyinfra_session(inventory_from_entries(prepared, "backup run")) as session:
        state = session.state
        for name, reason in session.unreachable.items():
            runs[name].ok, runs[name].error = False, f"unreachable: {reason}"
        before = _observe(state)
        for host in state.activated_hosts:
            _judge_parents(store, state, host, runs[host.name])
        try:
            add_deploy(state, backup, now=at, schedule=schedule, tag=tag,
                       prune_only=prune_only)
            if not dry_run:
                run_ops(state)
        except PyinfraError as exc:  # e.g. every host failed: still report and record
            failure = str(exc)
        after = before if dry_run else _observe(state)
        for host in state.activated_hosts:
            _report_host(state, host, runs[host.name], dry_run, failure)
            if not dry_run:
                _remember(store, state, host, now.timestamp())
    for name, data in hosts:
        if name in session.unreachable:
            if not dry_run:
                for vol in host_layouts(name, data)[1]:
                    if vol.selected(schedule, tag):
                        store.record_backup(name, f"{vol.volume.pool}/{vol.base}",
                                            "backup", False,
                                            {"error": runs[name].error,
                                             "schedule": vol.volume.schedule})
            continue
        _record(store, name, data, runs[name], before.get(name, {}),
                after.get(name, {}), now, dry_run, schedule, tag, prune_only)
    return BackupRun(now=now.isoformat(), dry_run=dry_run, hosts=runs,
                     error=MISSING if failure is None else failure,
                     ok=all(h.ok for h in runs.values()))


def _target_copies(state, host) -> dict[str, dict[str, Any] | str | None]:
    """Each target folder of ``host`` (a ``parents.key``) -> its subvolumes with their
    ctransid: read in-process for a folder of this machine, else by the target's own
    python3 (BtrfsCtransids); a str says why it could not be read, None: unreachable."""
    from pyinfra.api.facts import get_fact
    from pyinfra.context import ctx_host, ctx_state

    from homelab_ops.collection.facts.btrfs import BtrfsCtransids

    config, layouts = host_layouts(host.name, host.data.dict())
    seen: dict[str, dict[str, Any] | str | None] = {}
    for vol in layouts:
        if vol.target is None or (folder := parents.key(vol)) in seen:
            continue
        if (directory := parents.local_target(host.name, vol)) is not None:
            seen[folder] = parents.local_copies(directory)
            continue
        assert config.target is not None
        with ctx_state.use(state), ctx_host.use(host):
            seen[folder] = get_fact(state, host, BtrfsCtransids, kwargs={
                "directory": vol.target.dir, "ssh": vol.target.ssh,
                "ssh_config": vol.target.ssh_config, "python": config.target.python})
    return seen


def _judge_parents(store, state, host, out: HostRun) -> None:
    """Name the copies that are never an incremental parent (report ``unusable`` and
    the deploy's host data ``backup_unusable``: target folder -> copy -> why), and say
    where a copy's changes since its receive could not be checked."""
    _, layouts = host_layouts(host.name, host.data.dict())
    seen = _target_copies(state, host)
    unusable: dict[str, dict[str, str]] = {}
    unchecked: dict[str, str] = {}
    for vol in layouts:
        if vol.target is None:
            continue
        copies = seen[parents.key(vol)]
        if isinstance(copies, str):
            unchecked[parents.key(vol)] = (
                f"{parents.key(vol)}: cannot tell whether a copy changed after its receive: "
                f"{copies}; only restore tests keep a changed copy from being a parent")
        copies = copies if isinstance(copies, dict) else None
        if found := parents.unusable(store, host.name, vol, copies):
            unusable.setdefault(vol.target.dir, {}).update(found)
    out.unusable = unusable
    if unchecked:
        out.unchecked = unchecked
    host.data.backup_unusable = unusable


def _remember(store, state, host, ts: float) -> None:
    """Record the ctransid of each copy first seen complete, right after the run."""
    for folder, copies in _target_copies(state, host).items():
        if isinstance(copies, dict):
            parents.remember(store, host.name, folder, copies, ts)


def _observe(state) -> dict[str, dict[str, dict[str, Any]]]:
    """Subvolumes in every snapshot and target directory of every connected host,
    keyed by directory (facts run on the host, so SSH hosts and targets work too)."""
    from pyinfra.api.facts import get_fact
    from pyinfra.context import ctx_host, ctx_state

    from homelab_ops.collection.facts.btrfs import BtrfsSubvolumes

    seen: dict[str, dict[str, dict[str, Any]]] = {}
    with ctx_state.use(state):
        for host in state.activated_hosts:
            _, layouts = host_layouts(host.name, host.data.dict())
            places = {p for v in layouts for p in (v.snapshots, v.target) if p is not None}
            with ctx_host.use(host):
                # an unreachable place reads as {}: this is only the report's view
                seen[host.name] = {
                    p.dir: get_fact(state, host, BtrfsSubvolumes,
                                    kwargs=p.fact_kwargs()) or {}
                    for p in places
                }
    return seen


def _report_host(state, host, out: HostRun, dry_run: bool,
                 run_error: str | None) -> None:
    for op_hash in state.get_op_order():
        data = state.ops.get(host, {}).get(op_hash)
        if data is None:
            continue
        meta = data.operation_meta
        op = OpRun(name=", ".join(sorted(state.get_op_meta(op_hash).names)))
        if dry_run:
            op.would_change = bool(meta.will_change)
        elif meta.is_complete():
            op.changed, op.ok = meta.did_change(), meta.did_succeed()
            if not op.ok:
                op.error = " ".join(meta.stderr_lines[-3:]) or "failed"
        else:
            op.ok, op.error = False, "not run (an earlier operation failed)"
        out.ops.append(op)
    if run_error and not all(o.ok is True for o in out.ops):
        out.error = run_error
    out.ok = (host not in state.failed_hosts and out.error is MISSING
              and not any(o.failed for o in out.ops))


def _record(store, name: str, data: dict[str, Any], out: HostRun,
            before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]],
            now: datetime, dry_run: bool, schedule: str | None, tag: str | None,
            prune_only: bool) -> None:
    """Per volume: the newest snapshot, whether the target holds it (a successful
    backup), what was pruned, and the rotation decision with its alert. Recorded as
    action "backup", or "snapshot" for a tagged run and "prune" for a prune-only run
    (neither is a backup the health score may count)."""
    action = "snapshot" if tag else "prune" if prune_only else "backup"
    _, layouts = host_layouts(name, data)
    for vol in layouts:
        if not vol.selected(schedule, tag):
            continue
        key = f"{vol.volume.pool}/{vol.base}"
        src_after = after.get(vol.snapshots.dir, {})
        newest = naming.of_volume(set(src_after), vol.base, tag)
        row = VolumeRun(snapshot=newest[-1].name if newest else None,
                        schedule=vol.volume.schedule,
                        pruned_source=sorted(set(before.get(vol.snapshots.dir, {}))
                                             - set(src_after)),
                        ok=out.ok and bool(newest))
        if vol.target is not None and tag is None:
            _sent(row, vol, out, before, after, now)
        out.volumes[key] = row
        if not dry_run:
            store.record_backup(name, key, action, row.ok, {
                **row.model_dump(mode="json"), "rotation": out.rotation.model_dump(),
                "errors": [o.model_dump(mode="json") for o in out.ops if o.failed]})
            store.add_events(_events(name, key, row, out.rotation, now))


def _sent(row: VolumeRun, vol: VolumeLayout, out: HostRun,
          before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]],
          now: datetime) -> None:
    """Fill in ``row``'s target side: the newest copy both sides hold (the backup is
    good when it is the newest snapshot), what was cleaned and pruned there, how the
    new copy was sent, and an alert when even early rotation cannot free space."""
    assert vol.target is not None
    src_after = after.get(vol.snapshots.dir, {})
    unusable = {n: why for n, why in out.unusable.get(vol.target.dir, {}).items()
                if (p := naming.parse(n)) and p.base == vol.base}
    tgt_before = transfer.mark(before.get(vol.target.dir, {}), unusable)
    tgt_after = transfer.mark(after.get(vol.target.dir, {}), unusable)
    row.target = vol.target.dir
    if out.unchecked is not MISSING and (why := out.unchecked.get(parents.key(vol))):
        row.unchecked = why
    row.on_target = transfer.newest_common(src_after, tgt_after, vol.base)
    row.ok = row.ok and row.on_target == row.snapshot
    row.garbled_cleaned = transfer.garbled(tgt_before, vol.base)
    row.pruned_target = sorted(set(tgt_before) - set(tgt_after))
    row.unusable = {s.name: why for s in naming.of_volume(set(tgt_after), vol.base)
                    if (why := transfer.damage(tgt_after[s.name]))}
    if row.on_target and row.on_target not in tgt_before:
        row.sent_from = _parent_copy({**tgt_before, **tgt_after}, row.on_target)
    at_min = retention.deletions(retention.plan(
        [n for n in tgt_before if (p := naming.parse(n)) and p.base == vol.base],
        vol.volume.target_retention.minimal(), now,
        protect={transfer.newest_common(before.get(vol.snapshots.dir, {}),
                                        tgt_before, vol.base)}))
    if alert := rotation.alert(out.rotation, len(at_min)):
        row.alert = alert


def _parent_copy(target: dict[str, Any], name: str) -> str | None:
    """The copy ``name`` was received incrementally from (None: sent in full): an
    incremental receive snapshots its parent copy, so the new copy's parent UUID is the
    parent copy's own UUID."""
    parent = target[name].get("parent_uuid")
    return next((n for n, rec in target.items() if parent and rec.get("uuid") == parent),
                None)


def _events(host: str, key: str, row: VolumeRun, rot: Rotation,
            now: datetime) -> list[Event]:
    """What a person should hear about in "recent events": a failed backup, an early
    rotation (and why) and an alert that even that is not enough."""
    subject, ts = f"backup:{key}", now.timestamp()
    sent = row.target is not MISSING
    events = []
    if not row.ok:
        events.append(Event(host=host, ts=ts, subject=subject, kind="backup_failed",
                            detail={"snapshot": row.snapshot,
                                    "target": row.target if sent else None}))
    if rot.early and sent:
        events.append(Event(host=host, ts=ts, subject=subject, kind="backup_early_rotation",
                            detail={"reason": rot.reason, "pruned": row.pruned_target}))
    if row.alert is not MISSING:
        events.append(Event(host=host, ts=ts, subject=subject, kind="backup_alert",
                            detail={"alert": row.alert}))
    return events
