"""How one host runs containers, chosen once: systemd running quadlet units, or plain
``podman run`` (the lab's @local). As testinfra's ``Service.get_module_class`` picks a
service class per host, ``choose`` picks a backend and the deploys ask it what to do;
none of them reads host data ``systemd`` again, so a host whose PID 1 is systemd gets
the systemd restart and timers as well as its quadlet units.

Host data ``systemd`` wins, else systemd as PID 1 (the QuadletHost fact) decides; host
data ``systemd_user`` wins, else a rootless connection means the user's manager.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar
from weakref import WeakKeyDictionary

from pydantic import TypeAdapter
from pyinfra import host as current
from pyinfra.context import ctx_host
from pyinfra.operations import systemd
from pyinfra.operations.util import any_changed

from homelab_ops.collection.facts.quadlet import QuadletHost, StackFiles
from homelab_ops.collection.operations import podman, quadlet
from homelab_ops.models.inventory import host_value

if TYPE_CHECKING:
    from homelab_ops.collection.lib.plan import HostPlan
    from homelab_ops.models.stack import DeclaredStack


class Backend:
    """What a deploy asks of a host's backend; each method adds pyinfra operations."""

    systemd: ClassVar[bool]  # systemd manages units and timers; journald keeps the logs

    def deploy_stack(self, declared: DeclaredStack, plan: HostPlan) -> None:
        raise NotImplementedError

    def restart(self, container: str) -> None:
        raise NotImplementedError

    def stop(self, container: str) -> None:
        raise NotImplementedError

    def enable_timers(self, names: Sequence[str], written: Sequence[Any]) -> None:
        """Enable and start timer units ``names`` once ``written`` (their file puts)."""
        raise NotImplementedError


@dataclass(frozen=True)
class PodmanRun(Backend):
    """No systemd: containers run through ``podman run``, timer units are only written."""

    systemd: ClassVar[bool] = False

    def deploy_stack(self, declared: DeclaredStack, plan: HostPlan) -> None:
        _write_files(declared, plan)  # kept beside the containers: drift reads them
        podman.networks(name=f"Networks of {declared.name}", specs=declared.networks)
        podman.containers(name=f"Containers of {declared.name}", stack=declared.name,
                          specs=plan.containers)

    def restart(self, container: str) -> None:
        podman.restarted(name=f"Restart {container}", service=container)

    def stop(self, container: str) -> None:
        podman.stopped(name=f"Stop {container}", service=container)

    def enable_timers(self, names: Sequence[str], written: Sequence[Any]) -> None:
        return None  # no systemd to run them


@dataclass(frozen=True)
class QuadletUnits(Backend):
    """systemd runs each container as the service of its quadlet unit."""

    systemd: ClassVar[bool] = True
    user_mode: bool = False  # the user's manager (systemctl --user)

    def deploy_stack(self, declared: DeclaredStack, plan: HostPlan) -> None:
        """Read before writing: which units change decides what is restarted or
        stopped. Quadlet units are generated, so they are never enabled: their
        [Install] section does that."""
        live = current.get_fact(StackFiles, directory=plan.target.quadlet_dir,
                                stack=declared.name)
        for name in sorted(set(live) - set(plan.units)):
            if name.endswith(".container"):
                systemd.service(name=f"Stop {name}", service=service_of(name),
                                running=False, user_mode=self.user_mode)
        _write_files(declared, plan)
        # decided from the facts read above, not with `_if`: a conditional operation
        # still counts as a change when changes are counted before running (--dry)
        if live != {n: quadlet.digest(t) for n, t in plan.units.items()}:
            systemd.daemon_reload(name="Reload systemd", user_mode=self.user_mode)
        for c in plan.containers:
            unit = f"{c.name}.container"
            self._start(c.name, restarted=live.get(unit) != quadlet.digest(plan.units[unit]))

    def restart(self, container: str) -> None:
        self._start(container, restarted=True)

    def _start(self, container: str, restarted: bool) -> None:
        """A unit that failed (hit its start limit) refuses every start until its failed
        state is cleared: cleared first, a noop unless failed."""
        unit = service_of(container)
        quadlet.reset_failed(name=f"Clear {unit}'s failed state", unit=unit,
                             user_mode=self.user_mode)
        verb = "Restart" if restarted else "Start"
        systemd.service(name=f"{verb} {unit}", service=unit, running=True,
                        restarted=restarted, user_mode=self.user_mode)

    def stop(self, container: str) -> None:
        unit = service_of(container)
        quadlet.unit_stopped(name=f"Stop {unit}", unit=unit, user_mode=self.user_mode)

    def enable_timers(self, names: Sequence[str], written: Sequence[Any]) -> None:
        systemd.daemon_reload(name="Reload systemd", _if=any_changed(*written))
        for name in names:
            systemd.service(name=f"Enable {name}", service=name, enabled=True, running=True)


def service_of(container: str) -> str:
    """The service quadlet generates for ``container`` (or its ``.container`` file)."""
    return container.removesuffix(".container") + ".service"


def _write_files(declared: DeclaredStack, plan: HostPlan) -> None:
    quadlet.stack_files(name=f"Quadlet units of {declared.name}",
                        directory=plan.target.quadlet_dir, stack=declared.name,
                        contents=plan.units)
    quadlet.stack_files(name=f"Secret environment files of {declared.name}",
                        directory=plan.target.secrets_dir, stack=declared.name,
                        contents=plan.env_files, private=True)


_SWITCH = TypeAdapter(bool | None)  # as HostData reads it: "false" is False


def declared_systemd(data: Any) -> bool | None:
    """Host data ``systemd``: True or False decides, None leaves it to PID 1."""
    return _SWITCH.validate_python(host_value(data, "systemd"))


def choose(data: Any, fact: Callable[[], Mapping[str, Any]]) -> Backend:
    """The backend of a host with host data ``data``; ``fact`` returns its QuadletHost
    fact (uid, home, systemd) and is called only when the data leaves a choice open."""
    systemd_runs = declared_systemd(data)
    if not (fact()["systemd"] if systemd_runs is None else systemd_runs):
        return PodmanRun()
    user = _SWITCH.validate_python(host_value(data, "systemd_user"))
    return QuadletUnits(user_mode=fact()["uid"] != 0 if user is None else user)


_CHOSEN: WeakKeyDictionary[Any, Backend] = WeakKeyDictionary()


def backend_of(host: Any) -> Backend:
    """The backend of pyinfra ``host``, chosen on the first ask and kept with the host
    (one Host object per inventory, so per run): its fact is read at most once.

    Deploys pass pyinfra's ``host`` proxy, which hashes and compares as the host it
    points at but outlives it: the choice is kept with that Host, never with the proxy,
    or a later Host at the freed one's address would inherit its backend."""
    if host is current:
        host = ctx_host.get()
    if host not in _CHOSEN:
        _CHOSEN[host] = choose(host.data, cache(lambda: host.get_fact(QuadletHost)))
    return _CHOSEN[host]
