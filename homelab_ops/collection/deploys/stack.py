"""The stack deploy: one declared stack on the current host.

    from homelab_ops.collection.deploys.stack import stack
    stack(declared, secrets)

Units and secret environment files are written first. The host's backend
(lib/backend.py) then runs them: where systemd runs, it is reloaded and each
container's service started in dependency order (its failed state cleared first,
restarted when its unit changed). Where it does not (host data ``systemd: False``, or
PID 1 is not systemd — the lab), the same specs run through ``podman run``.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy

from homelab_ops.collection.facts.quadlet import QuadletHost
from homelab_ops.collection.lib.hosts import host_target
from homelab_ops.collection.lib.plan import host_plan
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
    target.backend.deploy_stack(declared, plan)
