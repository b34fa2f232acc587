"""What a send must do, decided from the subvolumes on both sides (pure).

Subvolume records are the dicts the btrfs facts (and the local btrfsutil listing)
return: ``uuid``, ``parent_uuid``, ``received_uuid``, ``readonly``. A copy on the target
counts only when it is complete: read-only with a received UUID that matches the source
snapshot. ``btrfs receive`` sets both only at the very end of a stream, so a transfer
that was cut off leaves a writable subvolume without a received UUID: that is garbled,
must be deleted, and the snapshot is sent again.

A complete-looking copy can still be unfit to be an incremental parent: changed after it
was received, or failed its last restore test. What the caller knows of that arrives as
an ``unusable`` reason on the record (``mark``); such a copy is never a parent, and its
name blocks receiving the same snapshot again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homelab_ops.collection.lib.naming import of_volume

Subvolumes = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class SendPlan:
    garbled: tuple[str, ...]  # incomplete copies on the target: delete before sending
    send: str | None  # the snapshot to send (None: the newest is already there)
    parent: str | None  # incremental parent (None: full send)
    # why the newest snapshot cannot be received: its name is taken on the target by a
    # subvolume that is not a usable copy of it (None: not blocked)
    blocked: str | None = None


def mark(target: Subvolumes, unusable: Mapping[str, str] | None) -> dict[str, Mapping[str, Any]]:
    """``target`` with each copy named in ``unusable`` carrying its reason."""
    return {n: {**rec, "unusable": unusable[n]} if unusable and n in unusable else rec
            for n, rec in target.items()}


def is_complete_copy(source: Mapping[str, Any], copy: Mapping[str, Any]) -> bool:
    """``copy`` on the target is a finished receive of ``source``, fit to be a parent."""
    sent_as = source.get("received_uuid") or source.get("uuid")
    return (bool(copy.get("readonly")) and copy.get("received_uuid") == sent_as
            and not copy.get("unusable"))


def damage(copy: Mapping[str, Any]) -> str | None:
    """What makes a copy on the target unfit as a backup and as a parent, whatever its
    source (None: intact as far as its record tells, or garbled: deleted and re-sent)."""
    if is_garbled(copy):
        return None
    if copy.get("unusable"):
        return str(copy["unusable"])
    if not copy.get("received_uuid"):
        return "read-only without a received UUID (made writable after it was received?)"
    if not copy.get("readonly"):
        return "writable: made writable after it was received"
    return None


def why_unusable(source: Mapping[str, Any], copy: Mapping[str, Any]) -> str | None:
    """Why ``copy``, present under ``source``'s name, can neither count as its backup
    nor be replaced by receiving it again (None: it is a usable copy, or garbled and so
    deleted before the send)."""
    if is_complete_copy(source, copy) or is_garbled(copy):
        return None
    return damage(copy) or "received from another snapshot of that name"


def garbled(target: Subvolumes, base: str) -> list[str]:
    """Our-named subvolumes on the target that a cut-off ``btrfs receive`` left:
    writable *and* without a received UUID. A read-only subvolume without one is an
    ordinary local snapshot and a writable one with one is a finished copy someone made
    writable: neither is ours to delete."""
    return [s.name for s in of_volume(set(target), base) if is_garbled(target[s.name])]


def is_garbled(copy: Mapping[str, Any]) -> bool:
    """What a cut-off ``btrfs receive`` leaves: writable and without a received UUID."""
    return not copy.get("readonly") and not copy.get("received_uuid")


def common(source: Subvolumes, target: Subvolumes, base: str) -> list[str]:
    """Snapshots present on both sides, oldest first."""
    return [s.name for s in of_volume(set(source), base)
            if s.name in target and is_complete_copy(source[s.name], target[s.name])]


def blocked(source: Subvolumes, target: Subvolumes, name: str) -> str | None:
    """Why snapshot ``name`` cannot be received on the target (its name is taken)."""
    if name not in source or name not in target:
        return None
    return why_unusable(source[name], target[name])


def plan_send(source: Subvolumes, target: Subvolumes, base: str) -> SendPlan:
    """Send the newest read-only snapshot of ``base`` unless the target has it, using
    the newest snapshot present on both sides as the incremental parent."""
    bad = tuple(garbled(target, base))
    ready = [s.name for s in of_volume(set(source), base) if source[s.name].get("readonly")]
    if not ready:
        return SendPlan(bad, None, None)
    newest = ready[-1]
    both = common(source, target, base)
    if newest in both:
        return SendPlan(bad, None, None)
    if reason := blocked(source, target, newest):
        return SendPlan(bad, None, None, f"{newest} on the target is {reason}")
    older = [n for n in both if n < newest]
    return SendPlan(bad, newest, older[-1] if older else None)


def newest_common(source: Subvolumes, target: Subvolumes, base: str) -> str | None:
    both = common(source, target, base)
    return both[-1] if both else None
