"""Network facts for the network check: who is on which podman network (address and
DNS aliases), and what one container can reach from inside its own network namespace.

The reach check runs the container's own tools through ``podman exec`` (nothing is
installed, nothing changes); the script is a constant and every peer name, address
and port reaches it as a validated positional argument.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from pyinfra.api import FactBase, QuoteString, StringCommand

from homelab_ops.collection.facts.look import checked_name
from homelab_ops.collection.facts.system import MARK, split_sections
from homelab_ops.models.diagnosis import (
    Attachment,
    NetContainer,
    NetView,
    NetworkLook,
)

SERVER_PORT = ".loadbalancer.server.port"  # traefik's label: the port a service serves
TOOLS = ("ping", "nslookup", "getent", "nc", "timeout")
# $1 $2 $3 ... = peer name, address, comma-separated ports, for each peer
REACH_SCRIPT = r"""
for t in ping nslookup getent nc timeout; do command -v $t >/dev/null 2>&1 && echo "@tool $t"; done
to=""; command -v timeout >/dev/null 2>&1 && to="timeout 5"
while [ $# -ge 3 ]; do
  n=$1; a=$2; ports=$3; shift 3
  echo "@peer $n"
  if command -v nslookup >/dev/null 2>&1; then $to nslookup "$n" 2>&1 | sed 's/^/@dns /'
  elif command -v getent >/dev/null 2>&1; then getent hosts "$n" | sed 's/^/@hosts /'; fi
  if command -v ping >/dev/null 2>&1; then ping -c 1 -W 2 "$a" >/dev/null 2>&1; echo "@ping $?"; fi
  if command -v nc >/dev/null 2>&1; then
    for p in $(echo "$ports" | tr , ' '); do
      out=$($to nc -w 2 "$a" "$p" </dev/null 2>&1); echo "@port $p $? $out" | head -n 1
    done
  fi
done
echo "@done"
"""


class NetworkView(FactBase):
    """Every container's network attachments and the ports it is known to serve, and
    every network with its DNS and internal flags.

    ``{"containers": [{"name": "home-whoami", "running": true, "attachments":
    [{"network": "home-proxy", "address": "10.89.0.3", "aliases": ["whoami"]}],
    "ports": [80]}], "networks": [{"name": "home-proxy", "dns_enabled": true, ...}]}``
    """

    requires_command = "podman"

    def command(self) -> str:
        return (f"echo '{MARK}containers'; podman ps -aq | xargs -r podman container inspect; "
                f"echo '{MARK}networks'; podman network ls -q | xargs -r podman network inspect")

    def process(self, output: list[str]) -> dict[str, Any]:
        parts = split_sections(output)
        return NetView(
            containers=[_net_container(c) for c in _json(parts.get("containers", []))],
            networks=[NetworkLook(name=n["name"], dns_enabled=bool(n.get("dns_enabled")),
                                  internal=bool(n.get("internal")),
                                  subnets=[s["subnet"] for s in n.get("subnets") or []
                                           if "subnet" in s])
                      for n in _json(parts.get("networks", []))],
        ).model_dump(mode="json")


def _json(lines: list[str]) -> list[dict[str, Any]]:
    text = "\n".join(lines).strip()
    return json.loads(text) if text else []


def _net_container(c: dict[str, Any]) -> NetContainer:
    short = c["Id"][:12]
    nets = (c.get("NetworkSettings") or {}).get("Networks") or {}
    config = c.get("Config") or {}
    labels = config.get("Labels") or {}
    ports = {int(spec.split("/")[0]) for spec in (c.get("NetworkSettings") or {}).get("Ports")
             or {} if spec.endswith("/tcp")}
    ports |= {int(v) for k, v in labels.items() if k.endswith(SERVER_PORT) and v.isdigit()}
    ports |= {int(spec.split("/")[0]) for spec in config.get("ExposedPorts") or {}
              if spec.endswith("/tcp")}
    return NetContainer(
        name=c["Name"].lstrip("/"),
        running=(c.get("State") or {}).get("Status") == "running",
        attachments=[Attachment(network=name, address=n.get("IPAddress") or "",
                                aliases=[a for a in n.get("Aliases") or [] if a != short])
                     for name, n in sorted(nets.items())],
        ports=sorted(ports))


class ReachFrom(FactBase):
    """From inside ``container``: which of its tools exist, and for each peer what its
    resolver answers for the name, whether a ping answers, and each port's result.

    ``peers``: ``[(name, address, [ports])]``. Returns ``{"rc": 0, "tools": ["ping",
    ...], "peers": {"home-db": {"dns": [...lines], "ping": 0, "ports": {"80": [0, ""]}}},
    "done": true, "said": [...]}`` (``said``: podman's own words when exec failed).
    """

    requires_command = "podman"

    def command(self, container: str, peers: list[tuple[str, str, list[int]]]
                ) -> StringCommand:
        args: list[Any] = []
        for name, address, ports in peers:
            ipaddress.ip_address(address)  # raises on anything but an address
            args += [QuoteString(checked_name(name)), QuoteString(address),
                     QuoteString(",".join(str(int(p)) for p in ports))]
        return StringCommand("podman exec", QuoteString(checked_name(container)), "sh -c",
                             QuoteString(REACH_SCRIPT), "sh", *args,
                             '2>&1; echo "@rc $?"; true')

    def process(self, output: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"rc": None, "tools": [], "peers": {}, "done": False,
                               "said": []}
        peer: dict[str, Any] | None = None
        for line in output:
            word, _, rest = line.partition(" ")
            if word == "@tool":
                out["tools"].append(rest.strip())
            elif word == "@peer":
                peer = out["peers"].setdefault(rest.strip(), {"dns": [], "ping": None,
                                                              "ports": {}})
            elif word in ("@dns", "@hosts") and peer is not None:
                peer["dns"].append(f"{word[1:]} {rest}")
            elif word == "@ping" and peer is not None:
                peer["ping"] = int(rest)
            elif word == "@port" and peer is not None:
                port, rc, said = ([*rest.split(" ", 2), "", ""])[:3]
                peer["ports"][port] = [int(rc), said]
            elif word == "@done":
                out["done"] = True
            elif word == "@rc":
                out["rc"] = int(rest)
            elif peer is None and line.strip():
                out["said"].append(line.strip())
        return out
