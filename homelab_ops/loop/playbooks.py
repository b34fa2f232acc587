"""The remediation playbooks the loop can run: a registry of what each one risks,
changes and verifies, and the runner that drives its pyinfra deploy on one host.

``params`` per playbook:
- ``restart`` / ``restart-leaking``: ``{"service": container name}``
- ``free-disk``: ``{"mountpoint": mount whose usage is measured}`` (``journal_max``
  optional, e.g. ``"200M"``)
- ``rotate-snapshots``: ``{"mountpoint": ..., "store": the agent's Store, "state_dir":
  where the backup lock lives}`` (the backup runner records its outcome there; the
  rotation is forced early, under the backup lock)
- ``redeploy``: ``{"service": ..., "stack": stack file path}``

Nothing raises out of ``run_playbook`` or ``verify``: an unreachable host, a failing
operation or a broken stack file is ``ok=False`` with one line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import MISSING, BaseModel, ConfigDict

from homelab_ops.models.decision import Risk, Verification

HEALTH_WAIT_S = 60.0  # bound on waiting for a restarted container's healthcheck


class Playbook(BaseModel):
    """One registry entry: what the decider weighs and the log records."""

    model_config = ConfigDict(frozen=True)

    name: str
    risk: Risk
    reversible: bool
    changes: str
    verifies: str
    handles: tuple[str, ...]
    # evidence a finding must carry for this playbook to run on it (redeploy needs the
    # stack file its container was deployed from)
    needs: tuple[str, ...] = ()
    # what undoing it restores when its verification fails (loop/rollback.py runs it);
    # empty: nothing to undo (a restart changes neither data nor definition)
    rollback: str = ""


PLAYBOOKS: dict[str, Playbook] = {p.name: p for p in (
    Playbook(name="restart", risk="low", reversible=True,
             changes="the container is restarted (podman restart, or systemctl restart "
                     "of its quadlet unit, its failed state reset first)",
             verifies="running, healthy when it has a healthcheck, and its stack's "
                      "testinfra checks",
             handles=("container_down", "unhealthy", "restart_loop", "oom_killed")),
    Playbook(name="restart-leaking", risk="low", reversible=True,
             changes="the leaking container is restarted before it reaches its limit",
             verifies="running, healthy when it has a healthcheck, and its stack's "
                      "testinfra checks", handles=("memory_leak",)),
    Playbook(name="free-disk", risk="medium", reversible=False,
             changes="dangling images and volumes pruned, container logs emptied",
             verifies="nothing left to free; the mount's usage before and after",
             handles=("disk_full",)),
    Playbook(name="rotate-snapshots", risk="medium", reversible=False,
             changes="snapshots pruned down to the retention's minimum-keep window",
             verifies="the newest snapshot and the incremental parent still exist",
             handles=("disk_full",)),
    Playbook(name="redeploy", risk="medium", reversible=True,
             changes="the stack is deployed again from its stack file",
             verifies="the stack's testinfra health checks pass and no drift is left",
             handles=("drift", "container_down"), needs=("stack_file",),
             rollback="the service's data from its pre-action snapshot and the stack as "
                      "last deployed healthy, then verified again"),
)}


def handling(code: str) -> list[str]:
    """The playbooks that handle finding ``code``, in the registry's order."""
    return [p.name for p in PLAYBOOKS.values() if code in p.handles]


class ActionResult(BaseModel):
    playbook: str
    host: str
    target: str
    ok: bool
    changed: bool
    error: str | None = None
    detail: dict[str, Any] = {}
    seconds: float


def run_playbook(inventory, host: str, name: str, params: dict[str, Any],
                 dry_run: bool = False) -> ActionResult:
    """Run playbook ``name`` on ``host``; ``dry_run`` prepares it and reports what
    would change, running nothing."""
    start = time.monotonic()
    target = str(params.get("service") or params.get("mountpoint") or "")
    try:
        if name not in PLAYBOOKS:
            raise ValueError(f"no playbook named {name!r}")
        ok, changed, error, detail = _RUNNERS[name](inventory, host, params, dry_run)
    except Exception as exc:  # the loop records a failure; it never crashes on one
        ok, changed, error, detail = False, False, _line(exc), {}
    return ActionResult(playbook=name, host=host, target=target, ok=ok, changed=changed,
                        error=error, detail=detail, seconds=time.monotonic() - start)


def _line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _deploy(inventory, host: str, deploy_fn: Callable, kwargs: dict[str, Any],
            dry_run: bool, measure: str | None = None):
    """Run one deploy on one host: (ok, changed, error, detail)."""
    from pyinfra.api.deploy import add_deploy
    from pyinfra.api.exceptions import PyinfraError
    from pyinfra.api.operations import run_ops

    from homelab_ops.collection.deploys.remediate import UsedBytes
    from homelab_ops.collection.session import pyinfra_session
    from homelab_ops.inventory import only_hosts

    with pyinfra_session(only_hosts(inventory, [host])) as session:
        if session.unreachable:
            return False, False, f"unreachable: {session.unreachable[host]}", {}
        state = session.state
        h = state.activated_hosts.copy().pop()
        before = h.get_fact(UsedBytes, mountpoint=measure) if measure else None
        add_deploy(state, deploy_fn, **kwargs)
        ops = state.ops.get(h, {})
        will = [next(iter(state.op_meta[k].names)) for k, op in ops.items()
                if op.operation_meta.will_change]
        detail: dict[str, Any] = {"operations": will}
        if dry_run:
            return True, False, None, {**detail, "dry_run": True}
        with suppress(PyinfraError):  # every host failed: the op's own stderr says why
            run_ops(state)
        failed = [op.operation_meta for op in ops.values() if op.operation_meta.did_error()]
        if failed or h in state.failed_hosts:
            err = next((m.stderr.strip().splitlines()[-1] for m in failed
                        if m._combined_output and m.stderr.strip()), "an operation failed")
            return False, bool(will), err, detail
        changed = any(op.operation_meta.did_change() for op in ops.values())
        if measure:
            after = h.get_fact(UsedBytes, mountpoint=measure)
            detail |= {"bytes_before": before, "bytes_after": after,
                       "bytes_freed": max(0, before - after)}
        return True, changed, None, detail


def _restart(inventory, host, params, dry_run):
    from homelab_ops.collection.deploys.remediate import restart

    return _deploy(inventory, host, restart, {"service": params["service"], "dependents":
                                              list(params.get("dependents") or ())},
                   dry_run)


def _free_disk(inventory, host, params, dry_run):
    from homelab_ops.collection.deploys.remediate import free_disk

    return _deploy(inventory, host, free_disk, {"journal_max": params.get("journal_max")},
                   dry_run, measure=params["mountpoint"])


def _must_keep(inventory, host: str) -> list[str]:
    """``dir/name`` of each volume's newest snapshot and of the incremental parent (the
    newest snapshot present on both sides), as the host holds them now."""
    from homelab_ops.backup.runner import _observe
    from homelab_ops.collection.lib import naming
    from homelab_ops.collection.lib.layout import host_layouts
    from homelab_ops.collection.session import pyinfra_session
    from homelab_ops.inventory import only_hosts

    with pyinfra_session(only_hosts(inventory, [host])) as session:
        if session.unreachable:
            raise ConnectionError(f"unreachable: {session.unreachable[host]}")
        seen = _observe(session.state).get(host, {})
        data = next(iter(session.state.activated_hosts)).data.dict()
    keep = []
    for vol in host_layouts(host, data)[1]:
        mine = naming.of_volume(set(seen.get(vol.snapshots.dir, {})), vol.base)
        if mine:
            keep.append(f"{vol.snapshots.dir}/{mine[-1].name}")
        if vol.target is not None:
            both = set(seen.get(vol.target.dir, {})) & {s.name for s in mine}
            common = naming.of_volume(both, vol.base)
            if common:
                keep += [f"{vol.snapshots.dir}/{common[-1].name}",
                         f"{vol.target.dir}/{common[-1].name}"]
    return sorted(set(keep))


def _rotate(inventory, host, params, dry_run):
    """Prune early under the backup lock (in the state directory), so a rotation never
    races a backup run or a pre-action snapshot over the same copies."""
    from homelab_ops.backup.lock import backup_lock
    from homelab_ops.backup.runner import run_backup

    keep = _must_keep(inventory, host)
    entries = [(h.name, {**h.data.dict(), "backup_rotate_early": True})
               for h in inventory if h.name == host]
    with backup_lock(Path(params["state_dir"])):
        report = run_backup(entries, params["store"], now=datetime.now(), prune_only=True,
                            dry_run=dry_run, rotate_early=True)
    out = report.hosts.get(host)
    if out is None:  # not in the inventory
        return False, False, None, {"ops": [], "keep": keep}
    changed = any(op.changed is True for op in out.ops)
    return out.ok, changed, None if out.error is MISSING else out.error, {
        "ops": [op.model_dump(mode="json") for op in out.ops], "keep": keep}


def _redeploy(inventory, host, params, dry_run):
    from homelab_ops.collection.lib.secrets import read_secrets
    from homelab_ops.stacks.load import load_stack
    from homelab_ops.stacks.run import deploy

    declared = load_stack(Path(params["stack"]))
    result = deploy(inventory, declared, read_secrets(declared), dry_run=dry_run)
    mine = result.hosts.get(host)
    if mine is None:
        return False, False, f"stack {declared.name} does not deploy to {host}", {}
    # recorded by the verifier, once it knows whether the result is healthy
    return mine.ok, bool(mine.changes) and not dry_run, mine.error or None, {
        "operations": mine.changed, "dry_run": dry_run,
        **({} if dry_run else {"deployed": result.model_dump(mode="json")})}


def verify(inventory, host: str, name: str, params: dict[str, Any]) -> Verification:
    """The check after a playbook ran. rotate-snapshots checks ``params["keep"]`` (the
    run's ``detail["keep"]``) when given, else the newest and parent found now."""
    return _verification(lambda: _VERIFIERS[PLAYBOOKS[name].name](inventory, host, params))


def verify_declared(inventory, declared) -> Verification:
    """A rollback's check: the re-applied stack's health and no drift from it."""
    return _verification(lambda: _stack_checks(inventory, declared, drift=True))


def _verification(checks_of: Callable[[], list[str]]) -> Verification:
    start = time.monotonic()
    try:
        checks = checks_of()
    except Exception as exc:
        return Verification(ok=False, checks=[], error=_line(exc),
                            seconds=time.monotonic() - start)
    bad = next((c for c in checks if ": FAILED" in c), None)
    return Verification(ok=bad is None, checks=checks, error=bad,
                        seconds=time.monotonic() - start)


def _verdict(what: str, ok: bool, why: str = "") -> str:
    return f"{what}: {'ok' if ok else 'FAILED'}" + (f" ({why})" if why else "")


def _fact(inventory, host: str, fact, **kwargs):
    from homelab_ops.collection.session import FactFailed, fact_per_host, pyinfra_session
    from homelab_ops.inventory import only_hosts

    with pyinfra_session(only_hosts(inventory, [host])) as session:
        if session.unreachable:
            raise ConnectionError(f"unreachable: {session.unreachable[host]}")
        value = fact_per_host(session.state, fact, lambda h: kwargs)[host]
    if isinstance(value, FactFailed):
        raise RuntimeError(f"{host}: {value}")
    return value


def _verify_restart(inventory, host, params):
    """The restarted container and every dependent restarted with it."""
    return [check for name in [params["service"], *(params.get("dependents") or ())]
            for check in _verify_one(inventory, host, {**params, "service": name})]


def _verify_one(inventory, host, params):
    from homelab_ops.collection.facts.podman import PodmanContainers

    service = params["service"]
    deadline = time.monotonic() + float(params.get("health_wait", HEALTH_WAIT_S))
    while True:
        live = {c["name"]: c for c in _fact(inventory, host, PodmanContainers,
                                            run_healthchecks=True)}
        c = live.get(service)
        health = (c or {}).get("health")
        if c and c.get("state") == "running" and health in (None, "", "healthy"):
            break
        if time.monotonic() > deadline or (c and c.get("state") != "running"):
            why = "absent" if c is None else f"state {c.get('state')}, health {health}, " \
                f"exit code {c.get('exit_code')}"
            return [_verdict(f"{service} running and healthy", False, why)]
        time.sleep(2)
    checks = [_verdict(f"{service} running" + (" and healthy" if health else ""), True)]
    if params.get("stack"):
        checks += _stack_checks(inventory, params["stack"], drift=False,
                                only=(host, service))
    return checks


def _stack_checks(inventory, stack, drift: bool,
                  only: tuple[str, str] | None = None) -> list[str]:
    """The stack's testinfra health (and drift) as verdict lines; ``stack`` is its file
    or a DeclaredStack (a rollback checks the spec it re-applied); ``only`` keeps the
    checks of one (host, container): a restart is judged by the service it restarted,
    not by a neighbour that is still down and waiting for its own action."""
    from homelab_ops.collection.lib.secrets import read_secrets
    from homelab_ops.stacks import run
    from homelab_ops.stacks.load import load_stack

    declared = load_stack(Path(stack)) if isinstance(stack, str) else stack
    secrets = read_secrets(declared)
    out = [_verdict(f"{r.host}: {r.container} {r.kind} {r.target}".rstrip(), r.ok, r.seen)
           for r in run.health(inventory, declared, secrets)
           if only is None or (r.host, r.container) == only]
    if drift:
        left = run.drift(inventory, declared, secrets)
        out.append(_verdict(f"no drift left in {declared.name}", not left,
                            f"{len(left)} differences" if left else ""))
    return out


def _verify_free_disk(inventory, host, params):
    from homelab_ops.collection.deploys.remediate import Reclaimable, UsedBytes

    left = _fact(inventory, host, Reclaimable)
    used = _fact(inventory, host, UsedBytes, mountpoint=params["mountpoint"])
    n = len(left["images"]) + len(left["volumes"]) + len(left["logs"])
    return [_verdict("nothing left to free", n == 0, f"{n} items left" if n else ""),
            f"{params['mountpoint']}: {used} bytes used now"]


def _verify_rotate(inventory, host, params):
    keep = params.get("keep")
    if keep is None:
        return [_verdict(f"{p} kept", True) for p in _must_keep(inventory, host)] or [
            _verdict("a newest snapshot exists", False, "no snapshots")]
    still = _existing(inventory, host, keep)
    return [_verdict(f"{p} kept", p in still) for p in keep]


def _existing(inventory, host: str, paths: list[str]) -> set[str]:
    from homelab_ops.backup.runner import _observe
    from homelab_ops.collection.session import pyinfra_session
    from homelab_ops.inventory import only_hosts

    with pyinfra_session(only_hosts(inventory, [host])) as session:
        seen = _observe(session.state).get(host, {})
    return {f"{d}/{n}" for d, names in seen.items() for n in names}


def _verify_redeploy(inventory, host, params):
    """Check the redeployed stack, then record the redeploy as a deployment, healthy
    only when these checks pass: a rollback returns to the last healthy deployment, so
    a spec that failed here must never count as one (a check that raised records it
    as unhealthy too)."""
    from homelab_ops.models.stack import DeployResult
    from homelab_ops.stacks.load import load_stack
    from homelab_ops.stacks.run import record

    checks: list[str] = []
    try:
        checks = _stack_checks(inventory, params["stack"], drift=True)
    finally:
        if params.get("deployed") and params.get("store") is not None:
            result = DeployResult.model_validate(params["deployed"])
            healthy = bool(checks) and not any(": FAILED" in c for c in checks)
            record(params["store"], load_stack(Path(params["stack"])), result,
                   {h: healthy for h in result.hosts})
    return checks


_VERIFIERS = {"restart": _verify_restart, "restart-leaking": _verify_restart,
              "free-disk": _verify_free_disk, "rotate-snapshots": _verify_rotate,
              "redeploy": _verify_redeploy}

_RUNNERS = {"restart": _restart, "restart-leaking": _restart, "free-disk": _free_disk,
            "rotate-snapshots": _rotate, "redeploy": _redeploy}
