"""The batched host probe: every observation fact in ONE command, so observing a host
costs one round trip (one SSH exec) instead of one per fact and container.

Each section reuses the ``command``/``process`` pair of its fact; a failing section is
reported in ``errors`` and leaves the others intact.
"""

from __future__ import annotations

from typing import Any

from pyinfra.api import FactBase

from homelab_ops.collection.facts.filesystems import Filesystems
from homelab_ops.collection.facts.podman import PodmanContainers, PodmanEvents, PodmanNetworks
from homelab_ops.collection.facts.system import HostStats, SystemdIsInit, split_sections
from homelab_ops.collection.facts.systemd import SystemdUnits

SECTION = "@@homelab-ops-probe:"
RC = "@@homelab-ops-probe-rc:"
SECTIONS: dict[str, type[FactBase]] = {
    "systemd_init": SystemdIsInit,
    "stats": HostStats,
    "filesystems": Filesystems,
    "networks": PodmanNetworks,
    "containers": PodmanContainers,
    "systemd": SystemdUnits,
    "events": PodmanEvents,
}


class HostProbe(FactBase):
    """{section: value, ..., "errors": [...]} for every section in SECTIONS."""

    def command(self, run_healthchecks: bool | None = None,
                events_since: float | None = None) -> str:
        args = {PodmanContainers: (run_healthchecks,), PodmanEvents: (events_since,)}
        parts = []
        for name, fact_cls in SECTIONS.items():
            fact = fact_cls()
            cmd = fact.command(*args.get(fact_cls, ()))
            need = fact.requires_command
            if callable(need):  # FactBase's default is a method returning None
                need = need()
            if need:
                cmd = f"if command -v {need} >/dev/null 2>&1; then {cmd}; else exit 127; fi"
            parts.append(f"echo '{SECTION}{name}'; ( {cmd} ) 2>/dev/null; echo \"{RC}$?\"")
        return "; ".join(parts)

    def process(self, output: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = {"errors": []}
        for name, lines in split_sections(output, SECTION).items():
            fact_cls = SECTIONS.get(name)
            if fact_cls is None:
                continue
            rc_lines = [ln for ln in lines if ln.startswith(RC)]
            rc = int(rc_lines[-1][len(RC):]) if rc_lines else -1
            body = [ln for ln in lines if not ln.startswith(RC)]
            fact = fact_cls()
            if rc != 0:
                why = "command not found" if rc == 127 else f"exit {rc}"
                result["errors"].append(f"{name}: {why}")
                result[name] = fact.default()
                continue
            try:
                result[name] = fact.process(body)
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                result["errors"].append(f"{name}: unparseable output ({exc})")
                result[name] = fact.default()
        for name, fact_cls in SECTIONS.items():
            if name not in result:
                result["errors"].append(f"{name}: no output")
                result[name] = fact_cls().default()
        return result
