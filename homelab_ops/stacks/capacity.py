"""What a deploy adds to a host, as requirements for the predictions' capacity check.

Only what is new counts: containers that do not exist yet (their memory limits) and
the named volumes they bring (their expected sizes, on the filesystem of podman's
storage). A redeploy of a running stack needs nothing, so it is never refused.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from homelab_ops.collection.lib.plan import HostPlan
from homelab_ops.models.observation import ContainerObs
from homelab_ops.models.prediction import CapacityRequirements
from homelab_ops.models.stack import DeclaredStack


def requirements(plan: HostPlan, declared: DeclaredStack, live: Iterable[ContainerObs],
                 storage_mount: str) -> CapacityRequirements:
    present = {c.name for c in live}
    new = [c for c in plan.containers if c.name not in present]
    sizes = {v.name: v.size_bytes for v in declared.volumes}
    new_volumes = {m.source for c in new for m in c.mounts if m.kind == "volume"}
    disk = sum(sizes.get(v, 0) for v in new_volumes)
    return CapacityRequirements(
        host=plan.target.name,
        memory_bytes=sum(c.memory_bytes for c in new),
        disk_bytes={storage_mount: disk} if disk else {},
    )


def mount_of(path: str, mountpoints: Iterable[str]) -> str:
    """The mount point holding ``path``: the longest one that is a prefix of it."""
    best = "/"
    for mp in mountpoints:
        inside = path == mp or path.startswith(mp.rstrip("/") + "/")
        if inside and len(mp) > len(best):
            best = mp
    return posixpath.normpath(best)
