"""A declared stack as one host will run it: effective container specs, quadlet unit
files and secret environment files. The deploy writes it, drift and health read it."""

from __future__ import annotations

from dataclasses import dataclass

from homelab_ops.collection.lib.hosts import HostTarget, for_host
from homelab_ops.collection.lib.secrets import env_file_text, with_secret_digests
from homelab_ops.collection.lib.units import render_units
from homelab_ops.errors import InputError
from homelab_ops.models.stack import ContainerSpec, DeclaredStack


@dataclass(frozen=True)
class HostPlan:
    stack: str
    target: HostTarget
    containers: list[ContainerSpec]  # in start order
    units: dict[str, str]  # file name -> content, for target.quadlet_dir
    env_files: dict[str, str]  # file name -> content (secret), for target.secrets_dir


def host_plan(declared: DeclaredStack, target: HostTarget,
              secrets: dict[str, str]) -> HostPlan:
    containers = []
    for c in declared.containers:
        try:
            containers.append(for_host(with_secret_digests(c, secrets), target))
        except ValueError as exc:  # a pool the host does not have, a system path
            raise InputError(declared.source, f"services.{c.service}",
                             f"on {target.name}: {exc}") from None
    units = render_units(declared.name, containers, declared.networks, declared.volumes)
    env_files = {f"{c.name}.env": env_file_text(c, secrets) for c in containers if c.secret_env}
    return HostPlan(declared.name, target, containers, units, env_files)


def targets(declared: DeclaredStack, host_names: list[str]) -> list[str]:
    """The inventory hosts the stack runs on (all of them unless the stack names some)."""
    if not declared.hosts:
        return host_names
    unknown = [h for h in declared.hosts if h not in host_names]
    if unknown:
        raise InputError(declared.source, "hosts", f"not in the inventory: {unknown}")
    return [h for h in host_names if h in declared.hosts]
