"""Drift: the declared stack against the live host, difference by difference.

Pure: the live side comes in as ``ContainerObs`` (the PodmanContainers fact's shape,
read by pyinfra or by testinfra) and unit file digests (the QuadletUnits fact). The
podman operation asks the same question per container to decide whether a deploy has
anything to do, so "drift is empty" and "a deploy changes nothing" cannot disagree.
"""

from __future__ import annotations

import re
from typing import Any

from homelab_ops.collection.facts.podman import value_digest
from homelab_ops.collection.operations.quadlet import digest as unit_digest
from homelab_ops.models.drift import Difference
from homelab_ops.models.observation import ContainerObs
from homelab_ops.models.stack import STACK_LABEL, ContainerSpec

_ANONYMOUS = re.compile(r"^[0-9a-f]{64}$")  # volumes an image declares, named by podman


def container_drift(spec: ContainerSpec, live: ContainerObs | None) -> list[dict[str, Any]]:
    """Differences of one container as (kind, field, declared, live) dicts."""
    if live is None:
        return [{"kind": "missing", "declared": spec.image}]
    out: list[dict[str, Any]] = []
    if not live.running:
        out.append({"kind": "stopped", "declared": "running", "live": live.state})
    if live.image != spec.image:
        out.append({"kind": "image", "declared": spec.image, "live": live.image})
    declared_env = {k: value_digest(v) for k, v in spec.env.items()} | spec.secret_digests
    for key, digest in sorted(declared_env.items()):
        have = live.env_digest.get(key)
        if have != digest:
            if key in spec.secret_digests:  # not even a secret's fingerprint is shown
                out.append({"kind": "env", "field": key, "declared": "(secret)",
                            "live": "(missing)" if have is None else "(differs)"})
            else:
                out.append({"kind": "env", "field": key, "declared": digest, "live": have})
    for key, value in sorted(spec.labels.items()):
        if live.labels.get(key) != value:
            out.append({"kind": "label", "field": key, "declared": value,
                        "live": live.labels.get(key)})
    ports = sorted(f"{p.host_ip}:{p.host_port}:{p.container_port}/{p.protocol}"
                   for p in spec.ports)
    live_ports = sorted(f"{p.host_ip}:{p.host_port}:{p.container_port}/{p.protocol}"
                        for p in live.ports)
    if ports != live_ports:
        out.append({"kind": "ports", "declared": ports, "live": live_ports})
    if sorted(spec.networks) != sorted(live.networks):
        out.append({"kind": "networks", "declared": sorted(spec.networks),
                    "live": sorted(live.networks)})
    mounts = sorted(f"{m.kind}:{m.source}:{m.destination}:{'ro' if m.read_only else 'rw'}"
                    for m in spec.mounts)
    live_mounts = sorted(_mount(m) for m in live.mounts if _mount(m))
    if mounts != live_mounts:
        out.append({"kind": "mounts", "declared": mounts, "live": live_mounts})
    return out


def _mount(m) -> str:
    """A live mount in the declared notation; a named volume is known by its directory
    (podman's local driver keeps it at .../volumes/<name>/_data)."""
    rw = "rw" if m.rw else "ro"
    if m.type == "volume":
        name = m.source.rstrip("/").split("/")[-2] if m.source.endswith("_data") else m.source
        return "" if _ANONYMOUS.match(name) else f"volume:{name}:{m.destination}:{rw}"
    return f"bind:{m.source}:{m.destination}:{rw}"


def stack_drift(host: str, stack: str, specs: list[ContainerSpec], units: dict[str, str],
                containers: list[ContainerObs], live_units: dict[str, str]) -> list[Difference]:
    """Every difference of one stack on one host. Unexpected containers are those that
    carry the stack's label without being declared (e.g. a service removed from the
    stack file, or a copy started by hand)."""
    live = {c.name: c for c in containers}
    out = [Difference(host=host, stack=stack, subject=spec.name, **d)
           for spec in specs for d in container_drift(spec, live.get(spec.name))]
    declared = {s.name for s in specs}
    out += [Difference(host=host, stack=stack, subject=c.name, kind="unexpected",
                       live=c.image)
            for c in containers if c.labels.get(STACK_LABEL) == stack and c.name not in declared]
    for name, text in sorted(units.items()):
        digest = unit_digest(text)
        if name not in live_units:
            out.append(Difference(host=host, stack=stack, subject=name, kind="unit_missing"))
        elif live_units[name] != digest:
            out.append(Difference(host=host, stack=stack, subject=name, kind="unit_changed",
                                  declared=digest[:16], live=live_units[name][:16]))
    out += [Difference(host=host, stack=stack, subject=name, kind="unit_unexpected")
            for name in sorted(set(live_units) - set(units))]
    return sorted(out, key=lambda d: (d.subject, d.kind, d.field))
