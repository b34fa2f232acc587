"""Undo an action whose verification failed: the playbooks that change a service's data
or definition declare it (``Playbook.rollback``); this runs it. For ``redeploy``: the
service's data comes back from its pre-action snapshot and the stack as last deployed
healthy is deployed again (the declared stack recorded with that deployment, not a
guess from the live host), then both are verified again.

Never the only copy: before anything is replaced, the live state of each subvolume to
be restored is snapshotted read-only itself (tag ``pre-rollback``, kept 14 days by
default: the backup settings' ``tags``). When that snapshot
cannot be taken nothing is restored. The pre-action snapshot is only read (copied with
reflinks), never moved or deleted. So the state before the action and the broken state
both survive, whatever the restore's outcome.
"""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from homelab_ops.loop import snapshot
from homelab_ops.models.decision import Planned, Rollback
from homelab_ops.models.stack import DeclaredStack

TAG = "pre-rollback"


@dataclass
class Point:
    """What a rollback returns to, taken before the action ran."""

    previous: DeclaredStack | None
    deployment: int | None = None
    error: str | None = None


def can(playbook: str | None) -> bool:
    from homelab_ops.loop.playbooks import PLAYBOOKS

    return bool(playbook in PLAYBOOKS and PLAYBOOKS[playbook].rollback)


def should(acted_ok: bool, verified_ok: bool | None, playbook: str | None,
           dry_run: bool) -> bool:
    """Roll back when a real run of a playbook that declares a rollback did not end
    verified: its run failed (a half-applied deploy) or its verification did."""
    return can(playbook) and not dry_run and not (acted_ok and verified_ok)


def point(store, p: Planned) -> Point:
    """The stack as last deployed healthy to the finding's host (before this action)."""
    from homelab_ops.stacks.run import previous

    stack = p.finding.evidence.get("stack")
    if not stack:
        return Point(None, error=f"{p.finding.subject} is not a deployed stack's service: "
                                 "no previous spec to return to")
    found = previous(store, p.finding.host, stack)
    if found is None:
        return Point(None, error=f"no healthy deployment of stack {stack} to "
                                 f"{p.finding.host} is recorded with its spec")
    return Point(found[0], found[1])


def undo(actor: Any, p: Planned, pt: Point, snap: snapshot.Snapshot,
         paths: list[str]) -> Rollback:
    """Restore the data, re-apply the previous stack, verify; never raises."""
    started = time.monotonic()
    bad = bad_digests(p, pt.previous)

    def done(**kw: Any) -> Rollback:
        return Rollback(bad=bad, seconds=round(time.monotonic() - started, 3), **kw)

    if pt.previous is None:
        return done(ok=False, error=pt.error)
    try:
        restored, kept = _restore(actor, p, snap, paths)
    except _Failed as exc:
        return done(ok=False, kept=exc.kept, error=str(exc))
    spec = f"deployment #{pt.deployment} of stack {pt.previous.name}"
    try:
        check = _reapply(actor, p.finding.host, pt.previous)
    except Exception as exc:  # recorded and escalated, never a crash
        from homelab_ops.loop.playbooks import _line

        return done(ok=False, restored=restored, kept=kept, spec=spec,
                    error=f"re-applying {spec} failed: {_line(exc)}")
    return done(ok=check.ok, restored=restored, kept=kept, spec=spec, verification=check,
                error=None if check.ok else check.error or "verification failed")


class _Failed(Exception):
    def __init__(self, why: str, kept: list[str] | None = None) -> None:
        super().__init__(why)
        self.kept = kept or []


def _restore(actor: Any, p: Planned, snap: snapshot.Snapshot,
             paths: list[str]) -> tuple[list[str], list[str]]:
    """Keep the live state as a snapshot, then copy the pre-action one back over the
    service's writable data (its container stopped first): (restored, kept)."""
    from homelab_ops.collection.deploys.remediate import restore_data
    from homelab_ops.loop.playbooks import _deploy

    if not (snap.ok and snap.names and paths):
        return [], []  # acted without a snapshot (settings allowed it): spec only
    host = p.finding.host
    data = next(h for h in actor.inventory if h.name == host).data.dict()
    pairs = pairs_for(host, data, paths, snap.names)
    keep = snapshot.take(actor.store, actor.settings.state_dir, host, data, paths,
                         datetime.fromtimestamp(actor.clock()), tag=TAG)
    if not keep.ok:
        raise _Failed(f"the state to replace could not be kept as a snapshot "
                      f"({keep.error}): nothing restored")
    ok, _, error, _ = _deploy(actor.inventory, host, restore_data,
                              {"paths": pairs, "stop": [p.finding.subject]}, False)
    if not ok:
        raise _Failed(f"restoring the data failed: {error}", keep.names)
    return [f"{live} <- {src}" for src, live in pairs], keep.names


def pairs_for(host: str, data: dict[str, Any], paths: list[str],
              names: list[str]) -> list[tuple[str, str]]:
    """(directory inside the pre-action snapshot, live directory) for every path, from
    the snapshot names ``pool/subvolume:snapshot`` the pre-action snapshot took."""
    from homelab_ops.collection.lib.layout import host_layouts

    taken = dict(n.split(":", 1) for n in names)
    layouts = host_layouts(host, data)[1]
    out = []
    for path in paths:
        lay = next((lay for lay in layouts if _within(path, lay.source)
                    and f"{lay.volume.pool}/{lay.base}" in taken), None)
        if lay is None:
            raise _Failed(f"{path}: no pre-action snapshot of a subvolume holding it")
        rel = posixpath.relpath(posixpath.normpath(path), posixpath.normpath(lay.source))
        inside = lay.snapshots.path(taken[f"{lay.volume.pool}/{lay.base}"])
        out.append((inside if rel == "." else f"{inside}/{rel}", path))
    return out


def _within(child: str, parent: str) -> bool:
    child, parent = posixpath.normpath(child), posixpath.normpath(parent)
    return child == parent or child.startswith(parent.rstrip("/") + "/")


def _reapply(actor: Any, host: str, declared: DeclaredStack):
    """Deploy the previous stack again, verify it (health, no drift from it) and record
    the deployment, healthy or not, so the store knows what runs."""
    from homelab_ops.collection.lib.secrets import read_secrets
    from homelab_ops.loop.playbooks import verify_declared
    from homelab_ops.stacks.run import deploy, record

    result = deploy(actor.inventory, declared, read_secrets(declared))
    mine = result.hosts.get(host)
    if mine is not None and not mine.ok:
        from homelab_ops.models.decision import Verification

        check = Verification(ok=False, checks=[], error=f"deploy: {mine.error}", seconds=0)
    else:
        check = verify_declared(actor.inventory, declared)
    record(actor.store, declared, result, {h: check.ok for h in result.hosts})
    return check


def bad_digests(p: Planned, previous: DeclaredStack | None) -> dict[str, str]:
    """Container -> spec digest the stack file now declares where it differs from the
    previous deployment: the spec that failed, not applied again until it changes."""
    from homelab_ops.errors import HomelabError
    from homelab_ops.stacks.load import load_stack

    stack = p.params.get("stack")
    try:
        now = load_stack(Path(stack)).containers if stack else []
    except HomelabError:
        return {}
    before = {c.name: c.digest() for c in previous.containers} if previous else {}
    return {c.name: c.digest() for c in now if before.get(c.name) != c.digest()}
