"""Remediation playbooks as deploys: what the autonomous loop runs to fix a finding, and
what a user runs by hand with the plain pyinfra CLI (``deploys/remediate.py``).

    from homelab_ops.collection.deploys.remediate import restart, free_disk
"""

from __future__ import annotations

import re

from pyinfra import host
from pyinfra.api import FactBase, QuoteString, StringCommand, deploy, operation
from pyinfra.operations import systemd

from homelab_ops.collection.facts.systemd import UnitActiveState, UnitFailed
from homelab_ops.collection.operations.btrfs import restore_dir
from homelab_ops.collection.operations.podman import podman
from homelab_ops.models.inventory import host_value

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
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


def _checked(service: str) -> str:
    if not _NAME.match(service or ""):
        raise ValueError(f"not a container name: {service!r}")
    return service


@operation(is_idempotent=False)
def restarted(service: str):
    """Restart a container with ``podman restart`` (the backend without systemd).

    + service: the container's name

    Not idempotent: it always restarts.

    **Example:**

    .. code:: python

        restarted(name="Restart home-wiki", service="home-wiki")
    """
    yield podman("restart", _checked(service))


@operation()
def reset_failed(unit: str, user_mode: bool = False):
    """Clear ``unit``'s failed state so systemd accepts a start again.

    + unit: the unit's full name, e.g. ``home-wiki.service``
    + user_mode: the user's systemd instance instead of the system's

    After its start limit (``StartLimitBurst`` restarts within
    ``StartLimitIntervalSec``) every ``systemctl restart`` is refused ("Start request
    repeated too quickly") until ``systemctl reset-failed``. Nothing when the unit is
    not failed.

    **Example:**

    .. code:: python

        reset_failed(name="Clear home-wiki's failed state", unit="home-wiki.service")
    """
    if not host.get_fact(UnitFailed, unit=unit, user_mode=user_mode):
        host.noop(f"{unit} is not failed")
        return
    yield StringCommand("systemctl", *(("--user",) if user_mode else ()), "reset-failed",
                        QuoteString(unit))


@deploy("Restart container")
def restart(service: str, dependents: list[str] | tuple[str, ...] = ()):
    """Restart a container, then the containers that depend on it, in order.

    + service: the container's name (its quadlet unit is ``NAME.container``)
    + dependents: containers restarted after it (they share its network namespace or
      require it), in this order

    ``systemctl restart NAME.service`` where systemd runs its quadlet unit (host data
    ``systemd``; a unit failed on its start limit is ``reset-failed`` first), else
    ``podman restart NAME``. Restarting a leaking container before it reaches its limit
    is the same deploy.

    **Example:**

    .. code:: python

        restart(service="home-wiki")
    """
    for name in [_checked(service), *map(_checked, dependents)]:
        if host_value(host.data, "systemd"):
            user_mode = bool(host_value(host.data, "systemd_user"))
            reset_failed(name=f"Clear {name}.service's failed state", unit=f"{name}.service",
                         user_mode=user_mode)
            systemd.service(name=f"Restart {name}.service", service=f"{name}.service",
                            running=True, restarted=True, user_mode=user_mode)
        else:
            restarted(name=f"Restart {name}", service=name)


@operation(is_idempotent=False)
def stopped(service: str):
    """Stop a container with ``podman stop`` (the backend without systemd).

    + service: the container's name

    A missing container is no error. Not idempotent: podman is asked every time.

    **Example:**

    .. code:: python

        stopped(name="Stop home-wiki", service="home-wiki")
    """
    yield podman("stop", "--ignore", "--time", "10", _checked(service))


# ActiveStates in which a unit is not running and will not start again by itself
_AT_REST = ("inactive", "failed", "")


@operation()
def unit_stopped(unit: str, user_mode: bool = False):
    """Stop ``unit`` unless it is at rest (inactive or failed).

    A ``Restart=always`` unit whose start failed sits in ``activating``
    (``auto-restart``) and starts again in a moment: pyinfra's
    ``systemd.service(running=False)`` sees it as stopped and does nothing, so its
    container could write while its data is being restored.

    + unit: the unit's full name, e.g. ``home-wiki.service``
    + user_mode: the user's systemd instance instead of the system's

    **Example:**

    .. code:: python

        unit_stopped(unit="home-wiki.service")
    """
    state = host.get_fact(UnitActiveState, unit=unit, user_mode=user_mode)
    if state in _AT_REST:
        host.noop(f"{unit} is {state or 'unknown'}")
        return
    yield StringCommand("systemctl", *(("--user",) if user_mode else ()), "stop",
                        QuoteString(unit))


@deploy("Restore data from a snapshot")
def restore_data(paths: list[tuple[str, str]] | tuple[tuple[str, str], ...],
                 stop: list[str] | tuple[str, ...] = ()):
    """Restore live directories from a snapshot, the containers writing them stopped.

    + paths: (directory inside a read-only snapshot, live directory) pairs
    + stop: containers to stop first (``systemctl stop`` of their unit where systemd
      runs quadlets, host data ``systemd``)

    Whatever re-applies their spec starts the containers again.

    **Example:**

    .. code:: python

        restore_data(
            paths=[("/srv/.snapshots/data.20260301T0630/wiki", "/srv/data/wiki")],
            stop=["home-wiki"],
        )
    """
    for name in map(_checked, stop):
        if host_value(host.data, "systemd"):
            unit_stopped(name=f"Stop {name}.service", unit=f"{name}.service",
                         user_mode=bool(host_value(host.data, "systemd_user")))
        else:
            stopped(name=f"Stop {name}", service=name)
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
      (host data ``systemd``), e.g. ``"200M"`` for ``journalctl --vacuum-size``

    **Example:**

    .. code:: python

        free_disk(journal_max="200M")
    """
    reclaimed(name="Prune images, volumes and container logs")
    if journal_max and host_value(host.data, "systemd"):
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
