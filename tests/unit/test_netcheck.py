"""netcheck's pure parts on recorded output: who is on which network (real inspect),
what a container's own tools answered (a real run of the reach script against a podman
network with DNS), and the verdicts drawn from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ops.collection.facts.reach import NetworkView, ReachFrom
from homelab_ops.collection.facts.system import MARK
from homelab_ops.diagnose.netcheck import judged, planned_peers, resolved_addresses
from homelab_ops.models.diagnosis import (
    Attachment,
    NetCheck,
    NetContainer,
    NetView,
    NetworkLook,
)

DATA = Path(__file__).parent / "data"


def _view_output() -> list[str]:
    lines = (DATA / "podman_containers.txt").read_text().splitlines()
    inspect = lines[:lines.index("@@homelab-ops:stats")]
    nets = (DATA / "podman_networks.json").read_text().splitlines()
    return [f"{MARK}containers", *inspect, f"{MARK}networks", *nets]


def test_network_view_from_real_inspect() -> None:
    view = NetView.model_validate(NetworkView().process(_view_output()))
    by = {c.name: c for c in view.containers}
    jelly = by["jellyfin"]
    assert jelly.running and [a.network for a in jelly.attachments] == ["jnet"]
    assert jelly.attachments[0].address == "10.89.0.2"
    assert jelly.attachments[0].aliases == []  # podman's short-id alias is no DNS name
    assert 80 in jelly.ports
    assert not by["oneshot"].running
    nets = {n.name: n for n in view.networks}
    assert nets["jnet"].dns_enabled and not nets["podman"].dns_enabled


def _reach() -> dict:
    return ReachFrom().process((DATA / "reach_output.txt").read_text().splitlines())


def test_reach_output_from_a_real_run() -> None:
    out = _reach()
    assert out["done"] and out["rc"] == 0
    assert out["tools"] == ["ping", "nslookup", "nc", "timeout"]
    assert out["peers"]["skx-a"]["ping"] == 0 and out["peers"]["skx-a"]["ports"]["80"][0] == 0
    assert resolved_addresses(out["peers"]["skx-a"]["dns"]) == ["10.213.77.2"]
    assert resolved_addresses(out["peers"]["skx-zz"]["dns"]) == []  # NXDOMAIN
    assert resolved_addresses(["hosts 10.0.0.7  db db.local"]) == ["10.0.0.7"]


def _net(*containers: NetContainer) -> NetView:
    return NetView(containers=list(containers),
                   networks=[NetworkLook(name="n", dns_enabled=True)])


def _on(name: str, address: str, running: bool = True, aliases=()) -> NetContainer:
    return NetContainer(name=name, running=running, attachments=[
        Attachment(network="n", address=address, aliases=list(aliases))])


def test_peers_and_verdicts() -> None:
    me = _on("skx-b", "10.213.77.4")
    view = _net(me, _on("skx-a", "10.213.77.2"), _on("skx-c", "10.213.77.5", aliases=["cee"]),
                _on("skx-zz", "10.213.77.99"), _on("skx-d", "", running=False))
    peers = planned_peers(view, me)
    assert [(p.peer, p.dns_names, p.note) for p in peers] == [
        ("skx-a", ["skx-a"], ""), ("skx-c", ["skx-c", "cee"], ""),
        ("skx-zz", ["skx-zz"], ""), ("skx-d", ["skx-d"], "not running")]
    result = judged(NetCheck(service="skx-b", host="@local", peers=peers), _reach())
    by = {p.peer: p for p in result.peers}
    assert by["skx-a"].reachable and by["skx-a"].dns_ok
    assert [x.result for x in by["skx-a"].ports] == ["open"]
    assert by["skx-c"].reachable and [x.result for x in by["skx-c"].ports] == ["refused"]
    # the address does not answer a ping and its name resolves to nothing
    assert by["skx-zz"].reachable is False and by["skx-zz"].dns_ok is False
    assert by["skx-d"].reachable is None and by["skx-d"].note == "not running"
    assert result.notes == []


def test_a_container_without_a_shell_or_tools_says_so() -> None:
    peers = planned_peers(_net(_on("a", "10.0.0.2"), _on("b", "10.0.0.3")), _on("a", "10.0.0.2"))
    nosh = ReachFrom().process(['Error: runc: exec failed: exec: "sh": executable file not '
                                'found in $PATH', "@rc 127"])
    out = judged(NetCheck(service="a", host="h", peers=peers), nosh)
    assert out.notes[0].startswith("cannot run checks inside a (it needs a shell): Error:")
    assert out.peers[0].reachable is None
    bare = ReachFrom().process(["@peer b", "@done", "@rc 0"])
    out = judged(NetCheck(service="a", host="h", peers=peers), bare)
    assert "neither ping nor nc" in out.notes[0] and "DNS was not tried" in out.notes[1]
    assert out.peers[0].reachable is None and out.peers[0].resolved is None


def test_dns_off_and_hostile_arguments() -> None:
    view = NetView(containers=[_on("a", "10.0.0.2"), _on("b", "10.0.0.3")],
                   networks=[NetworkLook(name="n", dns_enabled=False)])
    (peer,) = planned_peers(view, view.containers[0])
    assert peer.dns_names == [] and "DNS is off" in peer.note
    with pytest.raises(ValueError):
        ReachFrom().command("a", [("b", "10.0.0.3; reboot", [])])
    with pytest.raises(ValueError, match="invalid container name"):
        ReachFrom().command("a", [("$(reboot)", "10.0.0.3", [])])
