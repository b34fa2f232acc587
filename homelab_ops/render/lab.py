"""The sandbox lab's parts and their state (``lab up`` / ``lab status``)."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from homelab_ops.render import mib

console = Console()


def status(d: dict[str, Any]) -> None:
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
            detail += f"  {mib(p['used_bytes'])} of {mib(p['size_bytes'])}"
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


def removed(d: dict[str, Any]) -> None:
    click.echo(f"removed lab at {d['lab_dir']}" if d["removed"] else f"no lab at {d['lab_dir']}")
    if d.get("purged"):
        click.echo("removed the cached VM image")
