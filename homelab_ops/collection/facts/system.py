"""Host facts: memory, swap, CPU count, load and uptime from /proc (no extra tools)."""

from __future__ import annotations

from typing import Any

from pyinfra.api import FactBase

from homelab_ops.models.observation import HostStats as HostStatsModel

MARK = "@@homelab-ops:"


class HostStats(FactBase):
    def command(self) -> str:
        return (
            f"echo '{MARK}meminfo'; cat /proc/meminfo; echo '{MARK}loadavg'; cat /proc/loadavg; "
            f"echo '{MARK}nproc'; nproc; echo '{MARK}uptime'; cat /proc/uptime"
        )

    def process(self, output: list[str]) -> dict[str, Any]:
        parts = split_sections(output)
        mem = {}
        for line in parts.get("meminfo", []):
            key, _, rest = line.partition(":")
            if rest.split():
                mem[key] = int(rest.split()[0]) * 1024  # /proc/meminfo speaks kB
        load = parts["loadavg"][0].split()
        return HostStatsModel(
            cpu_count=int(parts["nproc"][0]),
            load1=float(load[0]), load5=float(load[1]), load15=float(load[2]),
            mem_total_bytes=mem["MemTotal"],
            mem_available_bytes=mem.get("MemAvailable", mem.get("MemFree", 0)),
            swap_total_bytes=mem.get("SwapTotal", 0),
            swap_free_bytes=mem.get("SwapFree", 0),
            uptime_s=float(parts["uptime"][0].split()[0]),
        ).model_dump(mode="json")


class SystemdIsInit(FactBase):
    """Whether systemd is PID 1 (then quadlet units and timers are managed by it)."""

    def command(self) -> str:
        return "cat /proc/1/comm"

    def process(self, output: list[str]) -> bool:
        return bool(output) and output[0].strip() == "systemd"


def split_sections(output: list[str], mark: str = MARK) -> dict[str, list[str]]:
    """Split output framed by ``<mark><name>`` lines into {name: lines}."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output:
        if line.startswith(mark):
            current = sections.setdefault(line[len(mark):].strip(), [])
        elif current is not None:
            current.append(line)
    return sections
