"""Health validation through testinfra: every declared container runs, passes its own
healthcheck, its published ports listen and its HTTP check answers.

The checks are derived from the host's plan, so ``homelab-ops health``, the check after
every deploy and the ``tests/infra`` suite a user runs with ``--hosts`` are one list.
Without systemd no timer runs podman healthchecks, so the check runs one by hand.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable, Mapping
from typing import Any

from homelab_ops.collection.lib.plan import HostPlan
from homelab_ops.models.health_check import Check, CheckResult
from homelab_ops.models.inventory import host_value

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ATTEMPTS = 20  # a container that just started gets this many tries, a second apart


Progress = Callable[[Check, int], None]  # (the slow check, attempts so far)


def checks(plan: HostPlan) -> list[Check]:
    host = plan.target.name
    out = []
    for c in plan.containers:
        out.append(Check(host=host, container=c.name, kind="running"))
        if c.healthcheck:
            out.append(Check(host=host, container=c.name, kind="healthy"))
        for p in c.ports:
            out.append(Check(host=host, container=c.name, kind="listening",
                             target=f"{p.protocol}://{p.host_ip}:{p.host_port}"))
        if c.http_check:
            port = next(p for p in c.ports if p.container_port == c.http_check.container_port)
            ip = "127.0.0.1" if port.host_ip == "0.0.0.0" else port.host_ip  # reach it here
            out.append(Check(host=host, container=c.name, kind="http",
                             target=f"http://{ip}:{port.host_port}{c.http_check.path}"))
    return out


def run_check(th: Any, check: Check, env: Mapping[str, str],
              progress: Progress | None = None) -> tuple[bool, str]:
    """Run one check on the testinfra host ``th``; (passed, what was seen). A check
    that fails is retried while its container keeps running (it may be starting)."""
    for attempt in range(ATTEMPTS):
        ok, seen = _once(th, check, env)
        if ok or check.kind == "running":
            return ok, seen
        if attempt < ATTEMPTS - 1:
            running = Check(host=check.host, container=check.container, kind="running")
            state = _once(th, running, env)[1]
            if state != "running":
                return False, f"{seen} (container {state})"
            if progress:
                progress(check, attempt + 1)
            time.sleep(1)
    return ok, seen


def _once(th: Any, check: Check, env: Mapping[str, str]) -> tuple[bool, str]:
    if check.kind == "running":
        out = _podman(th, env, "container", "inspect", "--format", "{{.State.Status}}",
                      check.container)
        state = out.stdout.strip() if out.rc == 0 else "missing"
        return state == "running", state
    if check.kind == "healthy":
        out = _podman(th, env, "healthcheck", "run", check.container)
        return out.rc == 0, (out.stdout + out.stderr).strip() or "healthy"
    if check.kind == "listening":
        listening = th.socket(check.target).is_listening
        return listening, "listening" if listening else "not listening"
    out = th.run("curl -fsS -o /dev/null --max-time 5 %s", check.target)
    return out.rc == 0, out.stderr.strip() or "ok"


def _exports(env: Mapping[str, str]) -> str:
    for key in env:
        if not _ENV_NAME.match(key):
            raise ValueError(f"invalid environment variable name {key!r}")
    return "".join(f"export {k}={shlex.quote(v)}; " for k, v in sorted(env.items()))


def _podman(th: Any, env: Mapping[str, str], *args: str):
    """podman with the host's pyinfra ``_env`` (the lab's private configuration); each
    value is quoted by testinfra."""
    assignments = [f"{k}={v}" for k, v in sorted(env.items())]
    words = ["env", *assignments, "podman", *args]
    return th.run(" ".join(["%s"] * len(words)), *words)


def testinfra_host(name: str, data: Mapping[str, Any]) -> Any:
    """A testinfra host for a pyinfra inventory host: local for @local, else ssh with the
    inventory's key and known_hosts file."""
    import testinfra

    if name.startswith("@local"):
        return testinfra.get_host("local://")
    address = host_value(data, "ssh_hostname") or name
    user = host_value(data, "ssh_user")
    spec = f"ssh://{user + '@' if user else ''}{address}"
    if port := host_value(data, "ssh_port"):
        spec += f":{port}"
    extra = ["-o", "BatchMode=yes"]
    if known_hosts := host_value(data, "ssh_known_hosts_file"):
        extra += ["-o", f"UserKnownHostsFile={known_hosts}",
                  "-o", "StrictHostKeyChecking=yes"]
    return testinfra.get_host(spec, ssh_identity_file=host_value(data, "ssh_key"),
                              ssh_extra_args=" ".join(extra))


def validate(plans: Mapping[str, HostPlan], host_data: Mapping[str, Mapping[str, Any]],
             progress: Progress | None = None) -> list[CheckResult]:
    """Run every check of every host, with what each saw. A container that is not
    running fails its other checks at once: no retries."""
    results = []
    for name, plan in plans.items():
        data = host_data[name]
        th = testinfra_host(name, data)
        down: dict[str, str] = {}
        for check in checks(plan):
            if check.container in down:
                ok, seen = False, f"not checked: container {down[check.container]}"
            else:
                ok, seen = run_check(th, check, host_value(data, "_env"), progress)
                if check.kind == "running" and not ok:
                    down[check.container] = seen
            results.append(CheckResult(**check.model_dump(), ok=ok, seen=seen))
    return results


def testinfra_plan(th: Any, name: str, data: Mapping[str, Any], declared: Any,
                   secrets: dict[str, str]) -> HostPlan:
    """The host's plan, reading the QuadletHost fact through testinfra."""
    from homelab_ops.collection.facts.quadlet import QuadletHost
    from homelab_ops.collection.lib.hosts import host_target
    from homelab_ops.collection.lib.plan import host_plan

    fact = QuadletHost()
    facts = fact.process(th.check_output(fact.command()).splitlines())
    return host_plan(declared, host_target(name, data, facts), secrets)


def testinfra_drift(th: Any, plan: HostPlan) -> list[Any]:
    """Drift of one host read through testinfra: the same fact commands and parsers the
    pyinfra side uses, so both report the same differences."""
    from homelab_ops.collection.facts.podman import PodmanContainers
    from homelab_ops.collection.facts.quadlet import StackFiles
    from homelab_ops.collection.lib.drift import stack_drift
    from homelab_ops.models.observation import ContainerObs

    fact = PodmanContainers()
    # the fact's command is a pipeline of podman calls: export the host's _env for all
    out = th.check_output(_exports(plan.target.env) + fact.command(run_healthchecks=False))
    containers = [ContainerObs.model_validate(c) for c in fact.process(out.splitlines())]
    files = StackFiles()
    listing = th.check_output(files.command(plan.target.quadlet_dir, plan.stack)
                              .get_raw_value())
    units = files.process(listing.splitlines()) if listing else {}
    return stack_drift(plan.target.name, plan.stack, plan.containers, plan.units,
                       containers, units)
