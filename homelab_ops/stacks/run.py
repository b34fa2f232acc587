"""Drive the stack deploy and the drift read through pyinfra's Python API: the same
deploy and facts a user runs with the pyinfra CLI, on the hosts the stack names."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from pyinfra.api import Inventory
from pyinfra.api.deploy import add_deploy
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.operations import run_ops

from homelab_ops.collection.deploys.stack import stack as stack_deploy
from homelab_ops.collection.facts.podman import PodmanContainers
from homelab_ops.collection.facts.quadlet import QuadletHost, StackFiles
from homelab_ops.collection.lib.drift import stack_drift
from homelab_ops.collection.lib.hosts import host_target
from homelab_ops.collection.lib.plan import HostPlan, host_plan, targets
from homelab_ops.collection.session import FactFailed, fact_per_host, pyinfra_session
from homelab_ops.errors import HomelabError
from homelab_ops.inventory import inventory_from_entries
from homelab_ops.models.drift import Difference
from homelab_ops.models.health_check import CheckResult
from homelab_ops.models.observation import ContainerObs
from homelab_ops.models.stack import DeclaredStack, DeployResult, HostDeploy


def stack_inventory(inventory: Inventory, declared: DeclaredStack,
                    only: list[str] | None = None) -> Inventory:
    """The inventory cut down to the stack's hosts (and to ``only``), validated the same
    way."""
    names = targets(declared, [h.name for h in inventory])
    entries = [(h.name, h.data.dict()) for h in inventory
               if h.name in names and (only is None or h.name in only)]
    return inventory_from_entries(entries, declared.source)


def deploy(inventory: Inventory, declared: DeclaredStack, secrets: dict[str, str],
           dry_run: bool = False) -> DeployResult:
    """Deploy the stack; per host what changes (what pyinfra detects before running, its
    ``--dry``) and, when an operation failed there, the operation and its message.
    With ``dry_run`` nothing runs."""
    with pyinfra_session(stack_inventory(inventory, declared)) as session:
        _reachable(session.unreachable)
        state = session.state
        add_deploy(state, stack_deploy, declared, secrets)
        hosts = {}
        for host in state.activated_hosts:
            ops = state.ops.get(host, {})
            changed = sorted(next(iter(state.op_meta[h].names)) for h, op in ops.items()
                             if op.operation_meta.will_change)
            hosts[host.name] = HostDeploy(changes=state.get_meta_for_host(host).ops_change,
                                          changed=changed)
        if not dry_run:
            with suppress(PyinfraError):  # "No hosts remaining!": all failed, see below
                run_ops(state)
            for host in state.activated_hosts:
                error = _failure(state, host)
                if error:
                    hosts[host.name] = hosts[host.name].model_copy(
                        update={"ok": False, "error": error})
    return DeployResult(stack=declared.name, dry_run=dry_run, hosts=hosts)


def _failure(state, host) -> str:
    """The failed operation of ``host`` and its error lines (podman's ``Error: ...``;
    else the last lines it wrote to stderr)."""
    for op_hash, op in state.ops.get(host, {}).items():
        meta = op.operation_meta
        if meta.is_complete() and meta.did_error():
            name = next(iter(state.op_meta[op_hash].names))
            lines = [ln.strip() for ln in meta.stderr_lines if ln.strip()]
            errors = [ln for ln in lines if ln.startswith("Error")] or lines[-3:]
            return f"{name}: " + (" / ".join(errors) or "failed without a message")
    if host in state.failed_hosts:
        return "failed before its operations ran"
    return ""


def record(store, declared: DeclaredStack, result: DeployResult,
           healthy: dict[str, bool]) -> None:
    """One deployment row per host and service: ok when its host deployed and passed
    health; a failed host keeps its error in the detail. The whole declared stack goes
    with it, so a rollback re-applies exactly what was deployed (``previous``)."""
    digests: dict[str, list[str]] = {}
    for c in declared.containers:
        digests.setdefault(c.service, []).append(c.digest())
    for host, h in result.hosts.items():
        for service, pattern in declared.services.items():
            store.record_deployment(
                host=host, stack=declared.name, service=service, pattern=pattern,
                spec_digest="+".join(digests.get(service, [])),
                ok=h.ok and healthy.get(host, False),
                detail={"stack_file": declared.source, "changes": h.changes,
                        "declared": declared.model_dump(mode="json"),
                        **({"error": h.error} if h.error else {})})


def previous(store, host: str, stack: str) -> tuple[DeclaredStack, int] | None:
    """The stack as last deployed to ``host`` with its health passing (its newest ok
    deployment record that carries the declared stack) and that row's id."""
    for row in store.good_deployments(host, stack):
        declared = row["detail"].get("declared")
        if declared:
            return DeclaredStack.model_validate(declared), row["id"]
    return None


def plans(session_state, declared: DeclaredStack, secrets: dict[str, str]) -> dict[str, HostPlan]:
    facts = fact_per_host(session_state, QuadletHost)
    out = {}
    for host in session_state.activated_hosts:
        fact = facts[host.name]
        if isinstance(fact, FactFailed):
            raise HomelabError(f"{host.name}: cannot read the host: {fact}")
        target = host_target(host.name, host.data.dict(), fact)
        out[host.name] = host_plan(declared, target, secrets)
    return out


def drift(inventory: Inventory, declared: DeclaredStack,
          secrets: dict[str, str]) -> list[Difference]:
    """Every difference between the declared stack and its hosts."""
    with pyinfra_session(stack_inventory(inventory, declared)) as session:
        _reachable(session.unreachable)
        state = session.state
        host_plans = plans(state, declared, secrets)
        live = fact_per_host(state, PodmanContainers, lambda h: {"run_healthchecks": False})
        units = fact_per_host(state, StackFiles, lambda h: {
            "directory": host_plans[h.name].target.quadlet_dir, "stack": declared.name})
    out = []
    for name, plan in host_plans.items():
        for fact in (live[name], units[name]):
            if isinstance(fact, FactFailed):
                raise HomelabError(f"{name}: cannot read the host: {fact}")
        containers = [ContainerObs.model_validate(c) for c in live[name]]
        out += stack_drift(name, declared.name, plan.containers, plan.units, containers,
                           units[name])
    return out


def _reachable(unreachable: dict[str, str]) -> None:
    if unreachable:
        raise HomelabError("unreachable: " + "; ".join(f"{h}: {r}"
                                                       for h, r in unreachable.items()))


def health(inventory: Inventory, declared: DeclaredStack, secrets: dict[str, str],
           hosts: list[str] | None = None, progress=None) -> list[CheckResult]:
    """The testinfra health checks of the stack on each of its hosts (or ``hosts``);
    ``progress(check, attempt)`` hears about every retry of a slow check."""
    from homelab_ops.stacks.health import validate

    with pyinfra_session(stack_inventory(inventory, declared, hosts)) as session:
        _reachable(session.unreachable)
        host_plans = plans(session.state, declared, secrets)
        data = {h.name: h.data.dict() for h in session.state.activated_hosts}
    return validate(host_plans, data, progress)


def capacity(inventory: Inventory, declared: DeclaredStack, secrets: dict[str, str],
             store, settings) -> list[dict[str, Any]]:
    """The predictions' capacity check of what the deploy would add to each host."""
    from homelab_ops.collection.facts.podman import PodmanInfo
    from homelab_ops.predict.run import capacity_check_for
    from homelab_ops.stacks.capacity import mount_of, requirements

    with pyinfra_session(stack_inventory(inventory, declared)) as session:
        _reachable(session.unreachable)
        state = session.state
        host_plans = plans(state, declared, secrets)
        live = fact_per_host(state, PodmanContainers, lambda h: {"run_healthchecks": False})
        info = fact_per_host(state, PodmanInfo)
    reports = []
    for name, plan in host_plans.items():
        for fact in (live[name], info[name]):
            if isinstance(fact, FactFailed):
                raise HomelabError(f"{name}: cannot read the host: {fact}")
        mounts = {k.subject for k in store.find_series(host=name, kind="filesystem")}
        need = requirements(plan, declared, [ContainerObs.model_validate(c) for c in live[name]],
                            mount_of(info[name]["graph_root"], mounts))
        reports.append(capacity_check_for(store, settings, need).model_dump(mode="json"))
    return reports
