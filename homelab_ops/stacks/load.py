"""Load a stack file into a ``DeclaredStack``, or fail with one error naming the file and
the field: invalid name, unknown pattern, missing or unknown parameter, unknown network
or service, port collision, dependency cycle."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from homelab_ops.errors import InputError, pydantic_field, validate_input
from homelab_ops.models.stack import (
    GRACE_LABEL,
    PATTERN_LABEL,
    SERVICE_LABEL,
    STACK_LABEL,
    ContainerSpec,
    DeclaredStack,
    MountSpec,
    NetworkSpec,
    PatternContainer,
    ServiceDecl,
    StackFile,
    VolumeSpec,
    grace_seconds,
)
from homelab_ops.stacks import patterns

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "secret": (str,), "int": (int,), "bool": (bool,), "list": (list,),
    "dict": (dict,),
}


def load_stack(path: Path) -> DeclaredStack:
    path = path.absolute()
    raw = patterns.read_yaml(path)
    return declare(validate_input(StackFile, raw, path), path)


def declare(stack: StackFile, path: Path) -> DeclaredStack:
    known = set(patterns.pattern_names())
    networks = {"default": NetworkSpec(name=f"{stack.name}-default")}
    networks |= {n: NetworkSpec(name=f"{stack.name}-{n}", internal=decl.internal)
                 for n, decl in stack.networks.items()}
    order = _service_order(stack, path)
    containers: dict[str, list[ContainerSpec]] = {}
    extra_networks: list[NetworkSpec] = []
    volumes: list[VolumeSpec] = []
    for svc in order:
        decl = stack.services[svc]
        field = f"services.{svc}"
        if decl.pattern not in known:
            raise InputError(path, f"{field}.pattern", f"unknown pattern {decl.pattern!r} "
                             f"(known: {', '.join(sorted(known))})")
        for net in decl.networks:
            if net not in networks:
                raise InputError(path, f"{field}.networks",
                                 f"unknown network {net!r}: declare it under `networks`")
        params = _params(stack, svc, decl, path)
        prefix = f"{stack.name}-{svc}"
        context = {**params, "stack": stack.name, "service": svc, "prefix": prefix,
                   "publish_ip": stack.publish_ip,
                   "networks": [networks[n].name for n in decl.networks]}
        try:
            units = patterns.render(decl.pattern, context)
        except ValueError as exc:
            raise InputError(path, f"{field}.params",
                             f"pattern {decl.pattern} rendered an invalid unit: {exc}") from None
        extra_networks += [NetworkSpec(name=f"{prefix}-{n.name}", internal=n.internal)
                           for n in units.networks]
        volumes += [VolumeSpec(name=f"{prefix}-{v.name}", size_bytes=v.size_bytes)
                    for v in units.volumes]
        after = [c.name for dep in decl.depends_on for c in containers[dep]]
        containers[svc] = _containers(stack, svc, decl, units, after, networks, path)
    specs = [c for svc in order for c in containers[svc]]
    _check_ports(specs, path)
    used = {n for c in specs for n in c.networks}
    all_networks = [networks[n] for n in sorted(networks)] + extra_networks
    return DeclaredStack(
        name=stack.name, source=str(path), hosts=stack.hosts,
        containers=_container_order(specs),
        networks=[n for n in all_networks if n.name in used],
        volumes=volumes, secrets=stack.secrets,
        services={svc: d.pattern for svc, d in stack.services.items()},
    )


def _service_order(stack: StackFile, path: Path) -> list[str]:
    graph: dict[str, list[str]] = {}
    for svc, decl in stack.services.items():
        for dep in decl.depends_on:
            if dep not in stack.services:
                raise InputError(path, f"services.{svc}.depends_on",
                                 f"unknown service {dep!r}")
        graph[svc] = sorted(decl.depends_on)
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = exc.args[1]
        raise InputError(path, f"services.{cycle[0]}.depends_on",
                         "dependency cycle: " + " -> ".join(cycle)) from None


def _params(stack: StackFile, svc: str, decl: ServiceDecl, path: Path) -> dict[str, Any]:
    pattern = patterns.load_pattern(decl.pattern)
    field = f"services.{svc}.params"
    for name in decl.params:
        if name not in pattern.parameters:
            raise InputError(path, f"{field}.{name}",
                             f"pattern {decl.pattern} has no parameter {name!r} "
                             f"(it takes: {', '.join(sorted(pattern.parameters))})")
    values: dict[str, Any] = {}
    for name, spec in pattern.parameters.items():
        if name not in decl.params:
            if spec.required:
                raise InputError(path, f"{field}.{name}",
                                 f"missing parameter: {spec.description or name}")
            values[name] = spec.default
            continue
        value = decl.params[name]
        types = _TYPES[spec.type]
        if not isinstance(value, types) or (spec.type == "int" and isinstance(value, bool)):
            raise InputError(path, f"{field}.{name}", f"must be of type {spec.type}")
        if spec.type == "secret" and value not in stack.secrets:
            raise InputError(path, f"{field}.{name}",
                             f"unknown secret {value!r}: declare it under `secrets`")
        values[name] = value
    return values


def _containers(stack: StackFile, svc: str, decl: ServiceDecl, units, after: list[str],
                networks: dict[str, NetworkSpec], path: Path) -> list[ContainerSpec]:
    prefix = f"{stack.name}-{svc}"
    roles = {c.role for c in units.containers}
    own_nets = {n.name for n in units.networks}
    own_vols = {v.name for v in units.volumes}
    out = []
    for pc in units.containers:
        where = f"services.{svc}.params"
        bad = ([r for r in pc.depends_on if r not in roles]
               + [n for n in pc.networks if n not in own_nets]
               + [m.source for m in pc.mounts if m.kind == "volume" and m.source not in own_vols])
        if bad:
            raise InputError(path, where, f"pattern {decl.pattern} refers to undeclared {bad}")
        service_nets = [networks[n].name for n in decl.networks] if pc.role == "main" else []
        allowed = set(decl.allow_system_paths)
        try:
            spec = ContainerSpec(
                **pc.model_dump(exclude={"role", "networks", "mounts", "depends_on", "labels"}),
                name=_container_name(prefix, pc), stack=stack.name, service=svc,
                pattern=decl.pattern, role=pc.role,
                labels={**pc.labels, STACK_LABEL: stack.name, SERVICE_LABEL: svc,
                        PATTERN_LABEL: decl.pattern,
                        **({GRACE_LABEL: str(grace_seconds(decl.grace))} if decl.grace
                           else {})},
                networks=[f"{prefix}-{n}" for n in pc.networks] + service_nets,
                mounts=[_mount(m, prefix, allowed) for m in pc.mounts],
                depends_on=[_container_name(prefix, r) for r in pc.depends_on] + after,
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            raise InputError(path, f"services.{svc}",
                             f"{pydantic_field(err['loc'])}: {err['msg']}") from None
        out.append(spec)
    binds = {m.source for pc in units.containers for m in pc.mounts if m.kind == "bind"}
    for extra in sorted(set(decl.allow_system_paths) - binds):
        raise InputError(path, f"services.{svc}.allow_system_paths",
                         f"{extra!r} is not a bind source of this service")
    return out


def _mount(m: MountSpec, prefix: str, allowed: set[str]) -> MountSpec:
    """Volume names get the service's prefix; binds the stack allows are marked."""
    if m.kind == "volume":
        return m.model_copy(update={"source": f"{prefix}-{m.source}"})
    return m.model_copy(update={"allow_system_path": True}) if m.source in allowed else m


def _container_name(prefix: str, pc: PatternContainer | str) -> str:
    role = pc if isinstance(pc, str) else pc.role
    return prefix if role == "main" else f"{prefix}-{role}"


def _check_ports(specs: list[ContainerSpec], path: Path) -> None:
    seen: dict[tuple[int, str], str] = {}
    for c in specs:
        for p in c.ports:
            key = (p.host_port, p.protocol)
            if key in seen:
                raise InputError(path, f"services.{c.service}",
                                 f"port collision: host port {p.host_port}/{p.protocol} is "
                                 f"also published by services.{seen[key]}")
            seen[key] = c.service


def _container_order(specs: list[ContainerSpec]) -> list[ContainerSpec]:
    """Dependencies first, deterministic for the same stack file."""
    by_name = {c.name: c for c in specs}
    sorter = TopologicalSorter({c.name: c.depends_on for c in specs})
    try:
        return [by_name[n] for n in sorter.static_order()]
    except CycleError as exc:  # only a pattern's own roles can get here
        raise InputError(specs[0].pattern, "containers.depends_on",
                         "dependency cycle: " + " -> ".join(exc.args[1])) from None
