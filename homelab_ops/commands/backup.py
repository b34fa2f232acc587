"""``homelab-ops backup``: BTRFS snapshots, sends, retention, restore tests, freshness.

Hosts and their backup configuration (host data ``backup``) come from a pyinfra
inventory (``-i``, else the settings' inventory, else the lab's): the agent runs the very
deploy ``pyinfra INVENTORY deploys/backup.py`` runs. ``list``, ``prune --dry-run`` and
``verify`` inspect this machine in-process (btrfsutil): they cover its @local hosts.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from homelab_ops.commands.base import App, command, emit, inventory_option, resolve_inventory
from homelab_ops.render import backup as render


@click.group()
def backup() -> None:
    """BTRFS backups: snapshot, send, prune, restore-test, status."""


def _inventory_options(fn):
    fn = click.option("--host", "hosts", multiple=True,
                      help="Only these inventory hosts (repeatable).")(fn)
    return inventory_option(fn)


def _hosts(app: App, inventory: Path | None, hosts: tuple[str, ...],
           local_only: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """(name, host data) of the chosen hosts; ``local_only`` keeps @local ones (what
    in-process btrfsutil can see)."""
    from homelab_ops.collection.lib.layout import host_layouts
    from homelab_ops.inventory import inventory_file, only_hosts

    inv = resolve_inventory(app, inventory)
    source = str(inventory_file(inventory, app.settings))
    for h in inv:  # every host's backup data is valid before anything runs
        host_layouts(h.name, h.data.dict(), source)
    found = [(h.name, h.data.dict()) for h in only_hosts(inv, hosts)]
    return [h for h in found if h[0].startswith("@local")] if local_only else found


@command(backup, "run")
@_inventory_options
@click.option("--schedule", type=click.Choice(["daily", "weekly"]),
              help="Only volumes with this schedule (what the timers pass).")
@click.option("--tag", help="Take tagged snapshots (e.g. pre-action): not sent, own retention.")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
def backup_run(app: App, inventory: Path | None, hosts: tuple[str, ...], schedule: str | None,
               tag: str | None, dry_run: bool) -> int:
    """Snapshot, send and prune every configured subvolume (one run at a time)."""
    from homelab_ops.backup.lock import backup_lock
    from homelab_ops.backup.runner import run_backup
    from homelab_ops.metrics import refresh as refresh_metrics

    entries = _hosts(app, inventory, hosts)
    with backup_lock(app.settings.state_dir), app.store() as store:
        report = run_backup(entries, store, now=datetime.now(), schedule=schedule, tag=tag,
                            dry_run=dry_run, thresholds=app.settings.thresholds)
        refresh_metrics(store, app.settings)
    emit(app, report.model_dump(mode="json"), render.run)
    return 0 if report.ok else 1


@command(backup, "list")
@_inventory_options
def backup_list(app: App, inventory: Path | None, hosts: tuple[str, ...]) -> None:
    """Snapshots and backups of every configured subvolume on this machine."""
    from homelab_ops.backup.listing import copies

    rows = copies(_hosts(app, inventory, hosts, local_only=True))
    emit(app, [r.model_dump(mode="json") for r in rows], render.copies)


@command(backup, "prune")
@_inventory_options
@click.option("--dry-run", is_flag=True,
              help="Show every snapshot with keep/delete and the reason; delete nothing.")
def backup_prune(app: App, inventory: Path | None, hosts: tuple[str, ...], dry_run: bool) -> int:
    """Apply retention to snapshots and backups (never the newest or the next parent)."""
    if dry_run:
        from homelab_ops.backup.listing import prune_plan

        plan = prune_plan(_hosts(app, inventory, hosts, local_only=True), datetime.now())
        emit(app, [r.model_dump(mode="json") for r in plan], render.prune_plan)
        return 0
    from homelab_ops.backup.lock import backup_lock
    from homelab_ops.backup.runner import run_backup

    with backup_lock(app.settings.state_dir), app.store() as store:
        report = run_backup(_hosts(app, inventory, hosts), store, now=datetime.now(),
                            prune_only=True, thresholds=app.settings.thresholds)
    emit(app, report.model_dump(mode="json"), render.run)
    return 0 if report.ok else 1


@command(backup, "verify")
@_inventory_options
def backup_verify(app: App, inventory: Path | None, hosts: tuple[str, ...]) -> int:
    """Restore test: restore the newest backup to scratch and compare it with its
    source snapshot (file list and checksums); the result is recorded."""
    from homelab_ops.backup.lock import backup_lock
    from homelab_ops.backup.restore import verify_hosts
    from homelab_ops.metrics import refresh as refresh_metrics

    with backup_lock(app.settings.state_dir), app.store() as store:
        results = verify_hosts(_hosts(app, inventory, hosts, local_only=True), store)
        refresh_metrics(store, app.settings)
    emit(app, results, render.restore_tests)
    return 0 if results and all(r["ok"] for r in results) else 1


@command(backup, "status")
def backup_status_cmd(app: App) -> None:
    """Last successful backup per subvolume and the last restore test (from the store)."""
    from homelab_ops.backup.status import backup_status

    with app.store() as store:
        data = backup_status(store, time.time())
    emit(app, data.model_dump(mode="json"), render.status)


