"""BTRFS operations: read-only snapshots, incremental send/receive, retention pruning,
restoring a directory from a snapshot.

Each operation reads its facts when it runs (pyinfra 3 generates commands lazily), so a
send sees the snapshot an earlier operation of the same deploy just took, and every
operation is idempotent: a second run yields no commands. Commands are btrfs-progs,
built from validated names with StringCommand/QuoteString, so the same operation works
on @local and over SSH. A backup target on another machine is a ``Place`` with ``ssh``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pyinfra import host, state
from pyinfra.api import QuoteString, StringCommand, operation

from homelab_ops.collection.facts.btrfs import BtrfsSubvolume, BtrfsSubvolumes
from homelab_ops.collection.lib import naming, retention, transfer
from homelab_ops.collection.lib.place import Place, checked_name, checked_path
from homelab_ops.models.backup import RetentionPolicy


def subvolumes(place: Place) -> dict[str, dict[str, Any]] | None:
    """Subvolumes in ``place``, read on the host this operation runs on, or None when
    it cannot be read (SSH host unreachable, pool not mounted, the folder around it
    missing)."""
    return host.get_fact(BtrfsSubvolumes, **place.fact_kwargs())


def skip_reason(existing: Mapping[str, Mapping[str, Any]], source: Mapping[str, Any] | None,
                snap: naming.SnapshotName, onchange: bool,
                peer: Mapping[str, Mapping[str, Any]] | None = None) -> str | None:
    """Why no snapshot ``snap`` is to be taken now, or None when it is due.

    ``peer`` (the target's subvolumes, marked with what the caller knows is unusable):
    an unchanged subvolume is snapshotted anyway when the newest snapshot's name is
    taken on the target by a copy that is not usable, since that name can never be
    received again; a fresh name can."""
    if snap.name in existing:
        return f"snapshot {snap.name} exists"
    if onchange and snap.tag is None:
        mine = naming.of_volume(set(existing), snap.base)
        if mine and source and source["generation"] <= existing[mine[-1].name][
                "gen_at_creation"] and not (
                    peer is not None and transfer.blocked(existing, peer, mine[-1].name)):
            return f"unchanged since {mine[-1].name}"
    return None


@operation()
def snapshot(source: str, directory: str, snapshot: str, onchange: bool = True,
             peer: Place | None = None, unusable: Mapping[str, str] | None = None):
    """Take a read-only snapshot ``directory/snapshot`` of the subvolume ``source``.

    + source: the subvolume to snapshot
    + directory: where its snapshots live (created when missing)
    + snapshot: the snapshot's name, ``<base>.<YYYYMMDDTHHMM>[_<tag>]`` (see
      backup.naming)
    + onchange: skip an untagged snapshot when ``source`` has not changed since the
      newest one (btrbk's ``snapshot_create onchange``)
    + peer: the backup target, read only to see whether the newest snapshot's name is
      usable there
    + unusable: target copy name -> why it is not usable (what the caller knows beyond
      the listing)

    The name carries the minute, so a rerun within it changes nothing. With
    ``onchange``, an unchanged subvolume is snapshotted anyway when the newest
    snapshot's name is taken on ``peer`` by a copy that is not usable: that name can
    never be received again, a fresh one can.

    **Example:**

    .. code:: python

        btrfs.snapshot(
            name="Snapshot /srv/data", source="/srv/data", directory="/srv/.snapshots",
            snapshot="data.20260301T0630",
        )
    """
    checked_path(source)
    place = Place(directory)
    snap = checked_name(snapshot)
    existing = subvolumes(place) or {}
    theirs = subvolumes(peer) if peer is not None and onchange and snap.tag is None else None
    if reason := skip_reason(existing, host.get_fact(BtrfsSubvolume, path=source), snap,
                             onchange, None if theirs is None else
                             transfer.mark(theirs, unusable)):
        host.noop(f"{source}: {reason}")
        return
    yield StringCommand("mkdir", "-p", QuoteString(directory))
    yield StringCommand("btrfs", "subvolume", "snapshot", "-r", QuoteString(source),
                        QuoteString(place.path(snapshot)))


@operation()
def send(source: Place, base: str, target: Place, expect: str | None = None,
         expect_from: str | None = None, onchange: bool = True,
         unusable: Mapping[str, str] | None = None):
    """Send the newest snapshot of ``base`` to ``target``, incrementally when possible.

    + source: the snapshot directory on this host
    + base: the subvolume's snapshot base name
    + target: the backup target (a ``Place``, on another machine with ``ssh``)
    + expect: the snapshot an earlier operation of the deploy takes, counted as taken
      while pyinfra only predicts changes
    + expect_from: the subvolume ``expect`` is taken of
    + onchange: the ``snapshot`` operation's ``onchange`` for ``expect``
    + unusable: target copy name -> why it is never a parent (changed after it was
      received, failed its restore test)

    The parent is the newest snapshot both sides hold, unusable copies left out; with
    none the send is in full. Garbled copies left by a cut-off transfer are deleted
    first and the received copy is verified (read-only, received UUID set). When the
    newest snapshot's name is taken on the target by a copy that is not usable, the
    operation fails saying so. ``expect`` makes the preview (``--dry``, or the count
    before a run) show the send the run will make.

    **Example:**

    .. code:: python

        btrfs.send(
            name="Send data", source=Place("/srv/.snapshots"), base="data",
            target=Place("/backup/data", ssh="root@nas", strict=True),
        )
    """
    mine, theirs = subvolumes(source), subvolumes(target)
    if mine is None or theirs is None:
        yield (source if mine is None else target).unreachable()
        return
    theirs = transfer.mark(theirs, unusable)
    if expect and expect_from and not state.is_executing:
        snap = checked_name(expect)
        src = host.get_fact(BtrfsSubvolume, path=checked_path(expect_from))
        if skip_reason(mine, src, snap, onchange, theirs) is None:
            mine = {**mine, expect: {"uuid": None, "received_uuid": None, "readonly": True}}
    plan = transfer.plan_send(mine, theirs, base)
    if plan.garbled:
        yield target.run("btrfs", "subvolume", "delete",
                         *(QuoteString(target.path(n)) for n in plan.garbled))
    if plan.blocked:  # a later minute's snapshot gets a name of its own
        yield StringCommand("echo", QuoteString(
            f"cannot receive {plan.blocked}: the next run takes a new snapshot"), ">&2",
            ";", "exit", "1")
        return
    if plan.send is None:
        if not plan.garbled:
            host.noop(f"{base}: newest snapshot already on {target.dir}")
        return
    parent = ("-p", QuoteString(source.path(plan.parent))) if plan.parent else ()
    yield target.make() if target.strict else target.run("mkdir", "-p",
                                                         QuoteString(target.dir))
    yield StringCommand(
        "btrfs", "send", "-q", *parent, QuoteString(source.path(plan.send)), "|",
        target.run("btrfs", "receive", QuoteString(target.dir)),
    )
    copy = QuoteString(target.path(plan.send))
    yield target.run(
        "btrfs", "subvolume", "show", copy, "|", "grep", "-Eq",
        QuoteString("Received UUID:[[:space:]]+[0-9a-f]"), "&&",
        "btrfs", "property", "get", "-ts", copy, "ro", "|", "grep", "-qx", "ro=true",
    )


@operation()
def prune(place: Place, base: str, policy: RetentionPolicy, now: datetime,
          peer: Place | None = None, place_is_target: bool = False,
          tag_policies: Mapping[str, RetentionPolicy] | None = None,
          unusable: Mapping[str, str] | None = None):
    """Delete the snapshots of ``base`` in ``place`` that the retention plan drops.

    + place: the snapshot directory or the backup target
    + base: the subvolume's snapshot base name
    + policy: the retention policy for untagged snapshots
    + now: the time the plan is made at
    + peer: the other side of the transfer; the newest snapshot common to both is kept,
      it is the parent of the next incremental send
    + place_is_target: ``place`` is the target side and ``peer`` the source
    + tag_policies: tag -> retention of the snapshots with that tag
    + unusable: target copy name -> why it is never a parent (see ``send``)

    Only read-only snapshots of ``base`` count; anything else in ``place`` stays.

    **Example:**

    .. code:: python

        btrfs.prune(
            name="Prune data", place=Place("/srv/.snapshots"), base="data",
            policy=RetentionPolicy(preserve="7d 4w"), now=datetime.now(),
        )
    """
    mine = subvolumes(place)
    if mine is None:
        yield place.unreachable()
        return
    protect: set[str] = set()
    if peer is not None:
        theirs = subvolumes(peer)
        if theirs is None:  # without it the next incremental parent is unknown
            yield peer.unreachable()
            return
        source, target = (theirs, mine) if place_is_target else (mine, theirs)
        target = transfer.mark(target, unusable)
        common = transfer.newest_common(source, target, base)
        protect = {common} if common else set()
    names = [n for n, rec in mine.items()
             if (p := naming.parse(n)) and p.base == base and rec.get("readonly")]
    doomed = retention.deletions(
        retention.plan(names, policy, now, protect=protect, tag_policies=tag_policies))
    if not doomed:
        host.noop(f"{base}: nothing to prune in {place.dir}")
        return
    yield place.run("btrfs", "subvolume", "delete", *(QuoteString(place.path(n))
                                                        for n in doomed))


@operation(is_idempotent=False)
def restore_dir(snapshot_dir: str, path: str):
    """Make ``path`` hold exactly what ``snapshot_dir`` holds.

    + snapshot_dir: the same directory inside a read-only snapshot
    + path: the live directory to restore

    The directory is emptied and filled from the snapshot (``cp --reflink``: shared
    extents, no second copy); the directory itself stays (a bind mount or a subvolume
    root keeps its inode). The caller stops what writes to it and keeps the state it
    replaces as a snapshot first: this deletes that state. Not idempotent: it always
    copies.

    **Example:**

    .. code:: python

        btrfs.restore_dir(
            name="Restore the wiki's data",
            snapshot_dir="/srv/.snapshots/data.20260301T0630/wiki", path="/srv/data/wiki",
        )
    """
    checked_path(snapshot_dir)
    checked_path(path)
    yield StringCommand("test", "-d", QuoteString(snapshot_dir))
    yield StringCommand("mkdir", "-p", QuoteString(path))
    yield StringCommand("find", QuoteString(path), "-mindepth", "1", "-maxdepth", "1",
                        "-exec", "rm", "-rf", "--", "{}", "+")
    yield StringCommand("cp", "-a", "--reflink=auto", "--",
                        QuoteString(snapshot_dir.rstrip("/") + "/."), QuoteString(path))
