"""The security audit's rules over the facts' shapes: the example stack as a host would
run it is clean; each kind of exposure is one finding with a severity and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ops.collection.facts.look import SecretFiles
from homelab_ops.collection.facts.podman import PodmanContainers
from homelab_ops.diagnose.audit import forward_auth, host_findings, ordered
from homelab_ops.models.diagnosis import SecretFileLook
from homelab_ops.models.observation import ContainerObs, PortMapping
from tests.unit.test_stack_drift import SPECS, live_of

DATA = Path(__file__).parent / "data"
SECRETS = "/lab/quadlet/homelab-ops-secrets"
PRIVATE = [SecretFileLook(path=SECRETS, kind="directory", mode=0o700, owner="root"),
           SecretFileLook(path=f"{SECRETS}/home-db.env", kind="file", mode=0o600)]


def _example() -> list[ContainerObs]:
    return [live_of(spec) for spec in SPECS.values()]


def _codes(found) -> list[tuple[str, str, str]]:
    return [(f.severity, f.code, f.subject) for f in found]


def test_the_example_stack_has_no_findings() -> None:
    assert host_findings("@local", _example(), PRIVATE) == []


def test_recorded_containers_are_clean_and_privileged_is_read() -> None:
    """podman's real inspect output (tests/unit/data): loopback ports, no traefik."""
    out = [ContainerObs.model_validate(c) for c in PodmanContainers().process(
        (DATA / "podman_containers.txt").read_text().splitlines())]
    assert not any(c.privileged for c in out)
    assert host_findings("@local", out, []) == []


def test_a_port_on_every_interface_and_an_open_web_service() -> None:
    whoami = SPECS["home-whoami"]
    labels = {k: v for k, v in whoami.labels.items() if k != "homelab-ops.auth"}
    open_web = live_of(whoami, labels=labels, ports=[
        PortMapping(host_ip="0.0.0.0", host_port=18081, container_port=80)])
    found = host_findings("@local", [open_web, live_of(SPECS["home-wiki"])], PRIVATE)
    assert _codes(ordered(found)) == [("high", "port_all_interfaces", "home-whoami"),
                                      ("medium", "no_sso", "home-whoami")]
    port, sso = ordered(found)
    assert "0.0.0.0:18081->80/tcp" in port.message
    assert port.fix.startswith("set `publish_ip: 127.0.0.1` in stack home")
    assert "Host(`whoami.home.arpa`)" in sso.message and "sso-web-app" in sso.fix


def test_the_proxy_on_every_interface_is_its_job_only_on_one_address() -> None:
    proxy = SPECS["home-proxy"]
    everywhere = live_of(proxy, ports=[PortMapping(host_ip="0.0.0.0", host_port=80,
                                                   container_port=80)])
    lan = live_of(proxy, ports=[PortMapping(host_ip="192.168.1.5", host_port=80,
                                            container_port=80)])
    assert _codes(host_findings("h", [everywhere], [])) == [
        ("medium", "port_all_interfaces", "home-proxy")]
    assert host_findings("h", [lan], []) == []
    app = live_of(SPECS["home-cloud"], ports=[PortMapping(host_ip="192.168.1.5",
                                                          host_port=8080, container_port=80)])
    assert _codes(host_findings("h", [app], [])) == [
        ("medium", "port_beyond_loopback", "home-cloud")]


def test_authelia_of_another_container_and_a_wrong_auth_label() -> None:
    guard = live_of(SPECS["home-wiki"])  # declares the forward-auth middleware
    (name,) = forward_auth([guard])
    borrowed = live_of(SPECS["home-whoami"], labels={
        "traefik.enable": "true", "traefik.http.routers.w.rule": "Host(`w`)",
        "traefik.http.routers.w.middlewares": f"{name}@docker"})
    assert host_findings("h", [guard, borrowed], []) == []
    typo = live_of(SPECS["home-whoami"], labels={
        "traefik.enable": "true", "traefik.http.routers.w.rule": "Host(`w`)",
        "homelab-ops.auth": "pubic"})
    (found,) = host_findings("h", [typo], [])
    assert "'pubic' is neither own nor public" in found.message
    stopped = live_of(SPECS["home-whoami"], labels=typo.labels, state="exited")
    assert host_findings("h", [stopped], []) == []  # what runs


def test_privileged_and_readable_secrets() -> None:
    priv = live_of(SPECS["home-worker"], privileged=True)
    files = SecretFiles().process([
        f"d 755 root {SECRETS}", f"f 644 root {SECRETS}/home-db.env",
        f"f 640 root {SECRETS}/home-cloud.env", f"f 600 root {SECRETS}/home-cloud-db.env"])
    found = ordered(host_findings("h", [priv], [SecretFileLook.model_validate(f)
                                                for f in files]))
    assert _codes(found) == [("high", "secret_readable", "home-db"),
                             ("high", "privileged", "home-worker"),
                             ("medium", "secret_readable", "home-cloud"),
                             ("low", "secret_dir_open", SECRETS)]
    assert found[0].fix == f"chmod 600 {SECRETS}/home-db.env"
    assert "mode 0644: everyone may read it" in found[0].message


@pytest.fixture()
def silent_host(tmp_path) -> list[str]:
    """CLI arguments for a state dir and an inventory whose one host's SSH port is a
    closed loopback port (a real connect that fails)."""
    from homelab_ops.lab.sshd import free_port

    inv = tmp_path / "inv.py"
    inv.write_text(f"hosts = [('nas', {{'ssh_hostname': '127.0.0.1', "
                   f"'ssh_port': {free_port()}, 'ssh_user': 'root'}})]\n")
    return ["--state-dir", str(tmp_path / "state"), "-i", str(inv)]


def _cli(args: list[str]) -> int:
    from homelab_ops.cli import main

    with pytest.raises(SystemExit) as out:
        main(args)
    return out.value.code


def test_a_host_that_does_not_answer_is_one_line(silent_host, capsys) -> None:
    state, inv = silent_host[:2], silent_host[2:]
    assert _cli([*state, "audit", *inv]) == 2
    out = capsys.readouterr()
    assert out.out.splitlines()[-1].startswith("host nas: unreachable: ")
    for args in (["diagnose", "jellyfin"], ["netcheck", "jellyfin"]):
        assert _cli([*state, *args, *inv]) == 1
        out = capsys.readouterr()
        (line,) = out.err.strip().splitlines()
        assert line.startswith("homelab-ops: error: no service 'jellyfin' on any host "
                               "(nas: unreachable: ")
        assert "Traceback" not in out.out + out.err
