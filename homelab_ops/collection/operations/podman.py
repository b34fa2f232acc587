"""podman operations for hosts without systemd (the lab backend): networks and
containers run from the declared ``ContainerSpec`` with plain ``podman run``, and a
container restarted or stopped by name (``lib/backend.PodmanRun``).

pyinfra 3.10 has none (its docker operations hard-code ``docker``). Each operation
reads the live state when it runs and yields nothing when it already matches, so a
second deploy changes nothing. A container is compared with its spec by the same
function drift uses: a stopped one is started, any other difference recreates it.
Commands are argument lists quoted by pyinfra; names were validated by the models.
"""

from __future__ import annotations

import re

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from homelab_ops.collection.facts.podman import PodmanContainers, PodmanNetworks
from homelab_ops.collection.lib.drift import container_drift
from homelab_ops.collection.lib.units import run_args
from homelab_ops.models.observation import ContainerObs
from homelab_ops.models.stack import STACK_LABEL, ContainerSpec, NetworkSpec

STOP_SECONDS = "10"
# what a container name given by hand (a playbook's ``service``) may be
CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def podman(*args: str) -> StringCommand:
    return StringCommand("podman", *(QuoteString(a) for a in args))


def checked_name(service: str) -> str:
    """``service`` when it is a container name, else ValueError."""
    if not CONTAINER_NAME.match(service or ""):
        raise ValueError(f"not a container name: {service!r}")
    return service


def _live() -> dict[str, ContainerObs]:
    live = host.get_fact(PodmanContainers, run_healthchecks=False)
    return {c["name"]: ContainerObs.model_validate(c) for c in live}


@operation()
def networks(specs: list[NetworkSpec]):
    """Create the declared podman networks that do not exist yet.

    + specs: the networks, created with ``--internal`` when declared so

    An existing network is left as it is (podman cannot change one in place).

    **Example:**

    .. code:: python

        podman.networks(name="Networks of wiki", specs=[NetworkSpec(name="wiki-net")])
    """
    live = {n["name"] for n in host.get_fact(PodmanNetworks)}
    missing = [spec for spec in specs if spec.name not in live]
    if not missing:
        host.noop(f"networks exist: {', '.join(s.name for s in specs) or 'none declared'}")
        return
    for spec in missing:
        yield podman("network", "create", *(["--internal"] if spec.internal else []),
                     spec.name)


@operation()
def containers(stack: str, specs: list[ContainerSpec]):
    """Run exactly ``specs`` for ``stack`` with ``podman run``, in the given order.

    + stack: the stack's name (its containers carry the ``homelab-ops.stack`` label)
    + specs: the stack's containers, in start order

    One operation for the whole stack reads the live containers once (each read is a
    full inspect). Containers labelled as part of ``stack`` but not declared are
    removed first; a stopped one that matches its spec is started; any other
    difference recreates the container.

    **Example:**

    .. code:: python

        podman.containers(name="Containers of wiki", stack="wiki", specs=plan.containers)
    """
    live = _live()
    declared = {spec.name for spec in specs}
    commands = [podman("rm", "--force", "--time", STOP_SECONDS, name)
                for name, c in sorted(live.items())
                if c.labels.get(STACK_LABEL) == stack and name not in declared]
    for spec in specs:
        commands += _container(spec, live.get(spec.name))
    if not commands:
        host.noop(f"{stack}: every container runs as declared")
    yield from commands


def _container(spec: ContainerSpec, live: ContainerObs | None) -> list[StringCommand]:
    differences = container_drift(spec, live)
    if not differences:
        return []
    if live is not None and {d["kind"] for d in differences} == {"stopped"}:
        return [podman("start", spec.name)]
    remove = [podman("rm", "--force", "--time", STOP_SECONDS, spec.name)] if live else []
    return [*remove, run_or_remove(spec)]


def run_or_remove(spec: ContainerSpec) -> StringCommand:
    """``podman run``; when it fails (a port taken, a missing bind source) podman may
    leave the container ``Created`` with the spec's labels, which would look deployed:
    remove it and fail with podman's own message."""
    cleanup = podman("rm", "--force", "--time", "0", spec.name)
    return StringCommand(podman(*run_args(spec)), "||", "{", cleanup, ">/dev/null", "2>&1;",
                         "false;", "}")


@operation(is_idempotent=False)
def restarted(service: str):
    """Restart a container with ``podman restart`` (the backend without systemd).

    + service: the container's name

    Not idempotent: it always restarts.

    **Example:**

    .. code:: python

        podman.restarted(name="Restart home-wiki", service="home-wiki")
    """
    yield podman("restart", checked_name(service))


@operation(is_idempotent=False)
def stopped(service: str):
    """Stop a container with ``podman stop`` (the backend without systemd).

    + service: the container's name

    A missing container is no error. Not idempotent: podman is asked every time.

    **Example:**

    .. code:: python

        podman.stopped(name="Stop home-wiki", service="home-wiki")
    """
    yield podman("stop", "--ignore", "--time", STOP_SECONDS, checked_name(service))
