"""The stack deploy: one declared stack on the current host.

    from homelab_ops.collection.deploys.stack import stack
    stack(declared, secrets)

Units and secret environment files are written first. Where systemd runs, it is
reloaded and each container's service started in dependency order (its failed state
cleared first, restarted when its unit changed; quadlet units are generated, so they
are never enabled: their [Install] section does that). Where it does not (host data
``systemd: False``, or PID 1 is not systemd — the lab), the same specs run through ``podman run``.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import systemd

from homelab_ops.collection.deploys.remediate import reset_failed
from homelab_ops.collection.facts.quadlet import QuadletHost, StackFiles
from homelab_ops.collection.lib.hosts import host_target
from homelab_ops.collection.lib.plan import host_plan
from homelab_ops.collection.operations import podman, quadlet
from homelab_ops.models.stack import DeclaredStack


@deploy("Stack")
def stack(declared: DeclaredStack, secrets: dict[str, str]):
    """Deploy one declared stack on the current host, when it is one of its hosts.

    + declared: the stack as loaded from its stack file (``stacks.load.load_stack``)
    + secrets: secret name -> value, written to the stack's private environment files

    Quadlet units and their services where systemd runs, else the same specs through
    ``podman run`` (see the module's docstring).

    **Example:**

    .. code:: python

        from homelab_ops.collection.deploys.stack import stack
        stack(declared, secrets)
    """
    if declared.hosts and host.name not in declared.hosts:
        return
    target = host_target(host.name, host.data.dict(), host.get_fact(QuadletHost))
    plan = host_plan(declared, target, secrets)
    if target.systemd:
        # read before writing: which units change decides what is restarted or stopped
        live_units = host.get_fact(StackFiles, directory=target.quadlet_dir,
                                   stack=declared.name)
        for name in sorted(set(live_units) - set(plan.units)):
            if name.endswith(".container"):
                systemd.service(name=f"Stop {name}", service=_service(name), running=False,
                                user_mode=target.user_mode)
    quadlet.stack_files(name=f"Quadlet units of {declared.name}",
                        directory=target.quadlet_dir, stack=declared.name, contents=plan.units)
    quadlet.stack_files(name=f"Secret environment files of {declared.name}",
                        directory=target.secrets_dir, stack=declared.name,
                        contents=plan.env_files, private=True)
    if target.systemd:
        # decided from the facts read above, not with `_if`: a conditional operation
        # still counts as a change when changes are counted before running (--dry)
        if live_units != {n: quadlet.digest(t) for n, t in plan.units.items()}:
            systemd.daemon_reload(name="Reload systemd", user_mode=target.user_mode)
        for c in plan.containers:
            unit = f"{c.name}.container"
            # a unit that failed (a broken spec deployed before this one hit its start
            # limit) refuses every start until its failed state is cleared
            reset_failed(name=f"Clear {c.name}'s failed state", unit=_service(unit),
                         user_mode=target.user_mode)
            systemd.service(name=f"Start {c.name}", service=_service(unit), running=True,
                            restarted=live_units.get(unit) != quadlet.digest(plan.units[unit]),
                            user_mode=target.user_mode)
        return
    podman.networks(name=f"Networks of {declared.name}", specs=declared.networks)
    podman.containers(name=f"Containers of {declared.name}", stack=declared.name,
                      specs=plan.containers)


def _service(unit_file: str) -> str:
    return unit_file.removesuffix(".container") + ".service"
