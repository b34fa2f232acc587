"""Hosts as the last observation saw them: score, reasons, containers, filesystems."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from homelab_ops.render import mib

console = Console()


def _ip(host_ip: str) -> str:
    return "*" if host_ip in ("", "0.0.0.0") else host_ip


def _score_style(score: int) -> str:
    return "green" if score >= 90 else "yellow" if score >= 70 else "red"


def observations(docs: list[dict[str, Any]]) -> None:
    """Hosts with their score and reasons, then containers and filesystems per host."""
    hosts = Table("host", "score", "reasons", "containers", "as of", title="hosts")
    for d in docs:
        health = d.get("health") or {"score": 0, "reasons": []}
        s = health["score"]
        reasons = "\n".join(r["message"] for r in health["reasons"] if r["penalty"]) or "-"
        running = sum(c["state"] == "running" for c in d["containers"])
        count = f"{running}/{len(d['containers'])} running" if d["reachable"] else "-"
        hosts.add_row(d["host"], f"[{_score_style(s)}]{s}[/]", reasons, count,
                      d["ts"][:19].replace("T", " "))
    console.print(hosts)
    for d in docs:
        if not d["reachable"]:
            continue
        if d["containers"]:
            t = Table("container", "state", "health", "restarts", "memory", "cpu %",
                      "ports", title=f"{d['host']}: containers")
            for c in sorted(d["containers"], key=lambda c: c["name"]):
                ports = ", ".join(f"{_ip(p['host_ip'])}:{p['host_port']}->{p['container_port']}"
                                  for p in c["ports"])
                cpu = "-" if c["cpu_pct"] is None else f"{c['cpu_pct']:.1f}"
                t.add_row(c["name"], c["state"], c["health"] or "-", str(c["restart_count"]),
                          mib(c["mem_bytes"]), cpu, ports or "-")
            console.print(t)
        t = Table("mount", "type", "used", "size", "use %", title=f"{d['host']}: filesystems")
        for f in d["filesystems"]:
            usable = f["used_bytes"] + f["avail_bytes"]
            pct = 100 * f["used_bytes"] / usable if usable else 0
            t.add_row(f["mountpoint"], f["fstype"], mib(f["used_bytes"]), mib(f["size_bytes"]),
                      f"{pct:.0f}%")
        console.print(t)
