"""Drift on constructed live state: a container as declared has none; each kind of
tampering shows up as exactly one difference naming what changed."""

from __future__ import annotations

import hashlib

import pytest

from homelab_ops.collection.facts.podman import _container, value_digest
from homelab_ops.collection.lib.drift import container_drift, stack_drift
from homelab_ops.models.observation import ContainerObs, MountObs, PortMapping
from homelab_ops.models.stack import ContainerSpec
from tests.unit.test_stack_units import LAB, SECRET, plan_for

PLAN = plan_for(LAB)
SPECS = {c.name: c for c in PLAN.containers}


def live_of(spec: ContainerSpec, **changes) -> ContainerObs:
    """What podman reports for a container made from ``spec`` (image env included)."""
    mounts = [MountObs(source=f"/var/lib/containers/storage/volumes/{m.source}/_data"
                       if m.kind == "volume" else m.source,
                       destination=m.destination, rw=not m.read_only, type=m.kind)
              for m in spec.mounts]
    obs = ContainerObs(
        name=spec.name, id="0" * 64, image=spec.image, state="running",
        networks=sorted(spec.networks),
        ports=[PortMapping(host_ip=p.host_ip, host_port=p.host_port,
                           container_port=p.container_port, protocol=p.protocol)
               for p in spec.ports],
        labels={**spec.labels, "io.buildah.version": "1.28"},
        env_digest={k: value_digest(v) for k, v in spec.env.items()} | spec.secret_digests
        | {"PATH": value_digest("/bin")},
        mounts=[*mounts, MountObs(source="/x/volumes/" + "a" * 64 + "/_data",
                                  destination="/anon", type="volume")],
    )
    return obs.model_copy(update=changes)


def test_declared_state_has_no_drift() -> None:
    for spec in PLAN.containers:
        assert container_drift(spec, live_of(spec)) == [], spec.name


@pytest.mark.parametrize(("change", "kind", "field"), [
    ({"state": "exited"}, "stopped", ""),
    ({"image": "docker.io/library/nginx:1"}, "image", ""),
    ({"networks": ["podman"]}, "networks", ""),
    ({"ports": []}, "ports", ""),
    ({"mounts": []}, "mounts", ""),
])
def test_each_field_is_reported(change, kind, field) -> None:
    spec = SPECS["home-media"]
    found = container_drift(spec, live_of(spec, **change))
    assert [(d["kind"], d.get("field", "")) for d in found] == [(kind, field)]


def test_env_and_secret_are_compared_as_digests() -> None:
    spec = SPECS["home-db"]
    env = dict(live_of(spec).env_digest)
    env["POSTGRES_PASSWORD"] = value_digest("guessed")
    env["POSTGRES_DB"] = value_digest("other")
    found = container_drift(spec, live_of(spec, env_digest=env))
    assert [(d["kind"], d["field"]) for d in found] == [("env", "POSTGRES_DB"),
                                                        ("env", "POSTGRES_PASSWORD")]
    assert SECRET not in repr(found)
    assert value_digest(SECRET) not in repr(found)  # not even the secret's fingerprint
    assert found[1] == {"kind": "env", "field": "POSTGRES_PASSWORD", "declared": "(secret)",
                        "live": "(differs)"}
    del env["POSTGRES_PASSWORD"]
    gone = container_drift(spec, live_of(spec, env_digest=env))
    assert gone[1]["live"] == "(missing)"


def test_port_on_every_interface_matches_podmans_report() -> None:
    """podman reports 0.0.0.0 as an empty HostIp; the fact maps it back, so a stack
    published for everyone has no drift (and a redeploy recreates nothing)."""
    spec = SPECS["home-whoami"]
    spec = spec.model_copy(update={"ports": [p.model_copy(update={"host_ip": "0.0.0.0"})
                                             for p in spec.ports]})
    raw = {"Id": "x" * 64, "Name": spec.name, "ImageName": spec.image,
           "State": {"Status": "running"}, "Config": {}, "HostConfig": {},
           "NetworkSettings": {"Ports": {f"{p.container_port}/tcp": [
               {"HostIp": "", "HostPort": str(p.host_port)}] for p in spec.ports}}}
    live = live_of(spec).model_copy(update={"ports": _container(raw, None).ports})
    assert [d for d in container_drift(spec, live) if d["kind"] == "ports"] == []


def test_changed_label_is_reported_with_both_values() -> None:
    spec = SPECS["home-whoami"]
    labels = {**spec.labels, "traefik.enable": "false"}
    found = container_drift(spec, live_of(spec, labels=labels))
    assert found == [{"kind": "label", "field": "traefik.enable", "declared": "true",
                      "live": "false"}]


def test_stack_drift_lists_missing_unexpected_and_unit_files() -> None:
    live = [live_of(c) for c in PLAN.containers if c.name != "home-site"]
    intruder = ContainerObs(name="home-extra", id="1", image="x", state="running",
                            labels={"homelab-ops.stack": "home"})
    stranger = ContainerObs(name="theirs", id="2", image="y", state="running")
    units = {n: hashlib.sha256(t.encode()).hexdigest() for n, t in PLAN.units.items()}
    units["home-proxy.container"] = "0" * 64
    del units["home-db-data.volume"]
    units["home-old.container"] = "1" * 64
    found = stack_drift("lab", "home", PLAN.containers, PLAN.units,
                        [*live, intruder, stranger], units)
    assert [(d.subject, d.kind) for d in found] == [
        ("home-db-data.volume", "unit_missing"),
        ("home-extra", "unexpected"),
        ("home-old.container", "unit_unexpected"),
        ("home-proxy.container", "unit_changed"),
        ("home-site", "missing"),
    ]
    assert all(d.host == "lab" and d.stack == "home" for d in found)
