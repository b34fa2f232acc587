"""Human renderers for CLI output (rich tables). Imported only when a human reads."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.0f} MiB"


def lab_status(d: dict[str, Any]) -> None:
    if not d.get("exists"):
        console.print(f"no lab at {d['lab_dir']} (run: homelab-ops lab up)")
        return
    state = "[green]up[/]" if d["up"] else "[red]incomplete[/]"
    console.print(f"lab at {d['lab_dir']}: {state}")
    table = Table("part", "state", "detail")
    img = d["image"]
    table.add_row("image", "present" if img["present"] else "[red]missing[/]", img["name"])
    for p in d["pools"]:
        detail = p["mountpoint"]
        if p["mounted"]:
            detail += f"  {_mib(p['used_bytes'])} of {_mib(p['size_bytes'])}"
            if p["subvolumes"]:
                detail += "  subvolumes: " + ", ".join(p["subvolumes"])
        table.add_row(f"pool {p['name']}", "mounted" if p["mounted"] else "[red]not mounted[/]",
                      detail)
    s = d["sshd"]
    table.add_row("sshd", "running" if s["running"] else "[red]stopped[/]",
                  f"{s['alias']} = 127.0.0.1:{s['port']} (ssh -F {s['ssh_config']} {s['alias']})")
    table.add_row("containers", str(d["containers"]), "")
    if v := d.get("vm"):
        state = ("running" if v.get("reachable") else "[red]unreachable[/]") if v["running"] \
            else "[red]stopped[/]"
        detail = f"{v['name']} = 127.0.0.1:{v['port']}"
        if v.get("systemd"):
            detail += f"  systemd: {v['systemd']}"
        table.add_row("vm", state, detail)
    if t := d.get("vm_timings"):
        built = "built" if t.get("built") else "cached"
        table.add_row("vm times", "", f"image {t['image_s']}s ({built})"
                      + (f"  boot {t['boot_s']}s" if "boot_s" in t else "")
                      + f"  setup {t['setup_s']}s")
    table.add_row("inventory", "", d["inventory"])
    console.print(table)


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
                          _mib(c["mem_bytes"]), cpu, ports or "-")
            console.print(t)
        t = Table("mount", "type", "used", "size", "use %", title=f"{d['host']}: filesystems")
        for f in d["filesystems"]:
            usable = f["used_bytes"] + f["avail_bytes"]
            pct = 100 * f["used_bytes"] / usable if usable else 0
            t.add_row(f["mountpoint"], f["fstype"], _mib(f["used_bytes"]), _mib(f["size_bytes"]),
                      f"{pct:.0f}%")
        console.print(t)
