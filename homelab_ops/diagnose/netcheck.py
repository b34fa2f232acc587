"""``homelab-ops netcheck SERVICE``: the networks a service is on, and for every peer
on them its DNS name and whether the service reaches it, checked from inside the
service's own network namespace with the container's own tools. Reads only; when the
container lacks the tools, it says so instead of guessing."""

from __future__ import annotations

from pyinfra.api import Inventory

from homelab_ops.collection.facts.reach import NetworkView, ReachFrom
from homelab_ops.diagnose.hosts import find_service, reader
from homelab_ops.errors import HomelabError
from homelab_ops.inventory import inventory_from_entries
from homelab_ops.models.diagnosis import NetCheck, NetContainer, NetView, PeerCheck, PortProbe

NOT_RUNNING = "not running"


def netcheck(inventory: Inventory, said: str) -> NetCheck:
    with reader(inventory) as hosts:
        views = {h: NetView.model_validate(v) for h, v in hosts.read(NetworkView).items()}
        host, name = find_service(said, {h: [c.name for c in v.containers]
                                         for h, v in views.items()}, hosts.failures)
        data = hosts.host(host).data.dict()
        failures = list(hosts.failures)
    view = views[host]
    me = next(c for c in view.containers if c.name == name)
    peers = planned_peers(view, me)
    result = NetCheck(service=name, host=host, attachments=me.attachments,
                      networks=[n for n in view.networks
                                if n.name in {a.network for a in me.attachments}],
                      peers=peers, failures=failures)
    if not me.attachments:
        return result.model_copy(update={"notes": [f"{name} is on no network (host or "
                                                   "none networking): no peers to check"]})
    if not me.running:
        return result.model_copy(update={"notes": [f"{name} is not running: nothing can "
                                                   "be checked from inside it"]})
    targets = [(p.peer, p.address, _ports(view, p.peer)) for p in peers
               if p.note != NOT_RUNNING]
    if not targets:
        return result
    with reader(inventory_from_entries([(host, data)], "inventory")) as one:
        got = one.read(ReachFrom, lambda h: {"container": name, "peers": targets})
        if host not in got:
            raise HomelabError("; ".join(f.line() for f in one.failures))
    return judged(result, got[host])


def planned_peers(view: NetView, me: NetContainer) -> list[PeerCheck]:
    """Every other container on the service's networks; those that cannot be checked
    carry a note saying why."""
    dns = {n.name: n.dns_enabled for n in view.networks}
    out = []
    for mine in me.attachments:
        for other in view.containers:
            there = next((a for a in other.attachments if a.network == mine.network), None)
            if other.name == me.name or there is None:
                continue
            note = "" if other.running and there.address else NOT_RUNNING
            names = [other.name, *there.aliases] if dns.get(mine.network) else []
            out.append(PeerCheck(peer=other.name, network=mine.network, address=there.address,
                                 dns_names=names, note=note or (
                                     "" if names else "DNS is off on this network: only "
                                     "its address reaches it")))
    return out


def _ports(view: NetView, peer: str) -> list[int]:
    return next(c.ports for c in view.containers if c.name == peer)


def judged(result: NetCheck, reach: dict) -> NetCheck:
    """Each checked peer's DNS answer, ping and ports, from the ReachFrom fact."""
    tools = reach["tools"]
    notes = []
    if not reach["done"]:
        said = reach["said"][0] if reach["said"] else f"exit {reach['rc']}"
        return result.model_copy(update={"notes": [
            f"cannot run checks inside {result.service} (it needs a shell): {said}"]})
    if not {"ping", "nc"} & set(tools):
        notes.append(f"{result.service} has neither ping nor nc: reachability cannot be "
                     "told from inside it")
    if not {"nslookup", "getent"} & set(tools):
        notes.append(f"{result.service} has neither nslookup nor getent: DNS was not tried")
    peers = [_peer(p, reach["peers"].get(p.peer), tools) for p in result.peers]
    return result.model_copy(update={"tools": tools, "peers": peers, "notes": notes})


def _peer(p: PeerCheck, seen: dict | None, tools: list[str]) -> PeerCheck:
    if seen is None:
        return p
    resolved = resolved_addresses(seen["dns"]) if {"nslookup", "getent"} & set(tools) else None
    probes = [PortProbe(port=int(port), result="open" if rc == 0 else
                        "refused" if "refused" in said.lower() else "no answer")
              for port, (rc, said) in sorted(seen["ports"].items(), key=lambda x: int(x[0]))]
    ping = None if seen["ping"] is None else seen["ping"] == 0
    answered = ping or any(x.result != "no answer" for x in probes)
    tried = ping is not None or bool(probes)
    said = [ln.partition(" ")[2].strip() for ln in seen["dns"]]
    said = [ln for ln in said if ln] if resolved == [] else []
    return p.model_copy(update={
        "resolved": resolved, "ping": ping, "ports": probes,
        "dns_said": said[-1] if said else "",
        "dns_ok": None if resolved is None or not p.dns_names else p.address in resolved,
        "reachable": True if answered else (False if tried else None),
        "note": p.note if tried else "no ping, and no port known to try with nc"})


def resolved_addresses(lines: list[str]) -> list[str]:
    """Addresses in nslookup's answer (the ones after a ``Name:``, not the server's)
    or getent's ``address name`` lines."""
    out, answer = [], False
    for line in lines:
        kind, _, text = line.partition(" ")
        text = text.strip()
        if kind == "hosts" and text:
            out.append(text.split()[0])
        elif text.startswith("Name:"):
            answer = True
        elif answer and text.startswith("Address:"):
            out.append(text.split(":", 1)[1].strip().split("#")[0])
    return list(dict.fromkeys(out))
