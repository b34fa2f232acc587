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
    table.add_row("inventory", "", d["inventory"])
    console.print(table)
