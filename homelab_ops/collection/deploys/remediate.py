"""Remediation playbooks as deploys: what the autonomous loop runs to fix a finding, and
what a user runs by hand with the plain pyinfra CLI (``deploys/remediate.py``).

    from homelab_ops.collection.deploys.remediate import restart, free_disk
"""

from __future__ import annotations

import re

from pyinfra import host
from pyinfra.api import FactBase, QuoteString, StringCommand, deploy, operation

from homelab_ops.collection.lib.backend import backend_of
from homelab_ops.collection.operations.btrfs import restore_dir
from homelab_ops.collection.operations.podman import checked_name, podman

# json-file / k8s-file logs podman keeps for each container (journald logs have none)
LOG_PATHS = ("podman ps -a --format '{{.ID}}' | xargs -r podman inspect "
             "--format '{{.HostConfig.LogConfig.Type}} {{.HostConfig.LogConfig.Path}}'")


class Reclaimable(FactBase):
    """What free-disk can free: dangling images and volumes, non-empty container logs.

    ``{"images": ["3f2a..."], "volumes": ["old-data"], "logs": {"/var/lib/.../ctr.log": 4096}}``
    """

    requires_command = "podman"

    def command(self) -> str:
        return ("echo @images; podman images -q --filter dangling=true; "
                "echo @volumes; podman volume ls -q --filter dangling=true; "
                f"echo @logs; {LOG_PATHS} | while read -r kind path; do "
                'case $kind in json-file|k8s-file) [ -s "$path" ] && '
                'echo "$(stat -c %s "$path") $path";; esac; done; true')

    def process(self, output: list[str]) -> dict:
        out: dict = {"images": [], "volumes": [], "logs": {}}
        section = ""
        for line in output:
            if line.startswith("@"):
                section = line[1:]
            elif not line.strip():
                continue
            elif section == "logs":
                size, path = line.split(" ", 1)
                out["logs"][path] = int(size)
            elif section:
                out[section].append(line.strip())
        return out


class UsedBytes(FactBase):
    """Bytes used on the filesystem holding ``mountpoint`` (``df``): ``123456789``."""

    def command(self, mountpoint: str) -> str:
        return StringCommand("df", "-B1", "--output=used", QuoteString(mountpoint)).get_raw_value()

    def process(self, output: list[str]) -> int:
        return int(output[-1].strip())


@deploy("Restart container")
def restart(service: str, dependents: list[str] | tuple[str, ...] = ()):
    """Restart a container, then the containers that depend on it, in order.

    + service: the container's name (its quadlet unit is ``NAME.container``)
    + dependents: containers restarted after it (they share its network namespace or
      require it), in this order

    ``systemctl restart NAME.service`` where systemd runs its quadlet unit (the host's
    backend, lib/backend.py; a unit failed on its start limit is ``reset-failed``
    first), else ``podman restart NAME``. Restarting a leaking container before it reaches its limit
    is the same deploy.

    **Example:**

    .. code:: python

        restart(service="home-wiki")
    """
    for name in [checked_name(service), *map(checked_name, dependents)]:
        backend_of(host).restart(name)


@deploy("Restore data from a snapshot")
def restore_data(paths: list[tuple[str, str]] | tuple[tuple[str, str], ...],
                 stop: list[str] | tuple[str, ...] = ()):
    """Restore live directories from a snapshot, the containers writing them stopped.

    + paths: (directory inside a read-only snapshot, live directory) pairs
    + stop: containers to stop first (``systemctl stop`` of their unit where systemd
      runs quadlets: the host's backend, lib/backend.py)

    Whatever re-applies their spec starts the containers again.

    **Example:**

    .. code:: python

        restore_data(
            paths=[("/srv/.snapshots/data.20260301T0630/wiki", "/srv/data/wiki")],
            stop=["home-wiki"],
        )
    """
    for name in map(checked_name, stop):
        backend_of(host).stop(name)
    for snap, live in paths:
        restore_dir(name=f"Restore {live} from {snap}", snapshot_dir=snap, path=live)


@operation()
def reclaimed():
    """Prune dangling images and volumes and empty the containers' json/k8s-file logs.

    Takes no argument; nothing when there is nothing to free (fact ``Reclaimable``).

    **Example:**

    .. code:: python

        reclaimed(name="Prune images, volumes and container logs")
    """
    found = host.get_fact(Reclaimable)
    if not (found["images"] or found["volumes"] or found["logs"]):
        host.noop("no dangling images or volumes, no container log to vacuum")
        return
    if found["images"]:
        yield podman("image", "prune", "-f")
    if found["volumes"]:
        yield podman("volume", "prune", "-f")
    for path in sorted(found["logs"]):
        yield StringCommand("truncate", "-s", "0", QuoteString(path))


@deploy("Free disk")
def free_disk(journal_max: str | None = None):
    """Free the disk space podman holds: dangling images and volumes, container logs.

    + journal_max: also vacuum the journal to this size where journald keeps the logs
      (a systemd host: its backend, lib/backend.py), e.g. ``"200M"`` for
      ``journalctl --vacuum-size``

    **Example:**

    .. code:: python

        free_disk(journal_max="200M")
    """
    reclaimed(name="Prune images, volumes and container logs")
    if journal_max and backend_of(host).systemd:
        if not re.match(r"^[0-9]+[KMG]$", journal_max):
            raise ValueError(f"journal_max: not a size like 200M: {journal_max!r}")
        _journal(name=f"Vacuum the journal to {journal_max}", size=journal_max)


@operation(is_idempotent=False)
def _journal(size: str):
    """Vacuum the systemd journal down to ``size``.

    + size: e.g. ``"200M"``, checked by ``free_disk``

    Not idempotent: journalctl decides what is left to vacuum.

    **Example:**

    .. code:: python

        _journal(name="Vacuum the journal to 200M", size="200M")
    """
    yield StringCommand("journalctl", f"--vacuum-size={size}")
