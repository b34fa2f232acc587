"""podman facts. Where podman needs a private configuration (the lab), the inventory sets
host data ``_env``, which pyinfra applies to every fact and operation on that host.

Each fact is also a section of the batched host probe (facts/probe.py): ``command``
builds the shell, ``process`` parses its output into plain data shaped by the
observation models, so the CLI, the probe and the agent share one parser.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pyinfra.api import FactBase

from homelab_ops.models.observation import (
    ContainerEventObs,
    ContainerObs,
    NetworkObs,
    PodmanEventLog,
)

STATS_MARK = "@@homelab-ops:stats"
LOG_MARK = "@@homelab-ops:log "
LOG_LINES = 5
# The last lines of the log of every container whose healthcheck fails or is still
# starting: what tells a slow crash recovery from a hung service. Each line is
# prefixed, so nothing a container logs can pass for one of the probe's markers; the
# status is the one of the commands before.
LOG_TAILS = (
    "rc=$?; podman ps -q --filter health=unhealthy --filter health=starting | "
    f"while read -r id; do echo '{LOG_MARK}'\"$id\"; "
    f"podman logs --tail {LOG_LINES} \"$id\" 2>&1 | cut -c1-300 | sed 's/^/| /'; done; "
    '[ "$rc" = 0 ]'
)
# Run the healthchecks of running containers that have one (no systemd timer does it
# on hosts without systemd), one per core at a time: each check is a podman process,
# so more parallelism only adds contention. xargs waits for all before inspect reads.
RUN_HEALTHCHECKS = (
    "podman ps -q --filter health=healthy --filter health=unhealthy --filter health=starting"
    ' | xargs -r -n1 -P"$(nproc)" podman healthcheck run >/dev/null 2>&1; '
)


def value_digest(value: str) -> str:
    """What the facts keep of an environment value: enough to tell it changed (drift),
    never the value itself (secrets)."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


class PodmanInfo(FactBase):
    """Version and storage/runtime configuration of the host's podman."""

    requires_command = "podman"

    def command(self) -> str:
        return "podman info --format json"

    def process(self, output: list[str]) -> dict[str, Any]:
        info = json.loads("\n".join(output))
        host, store = info.get("host", {}), info.get("store", {})
        return {
            "version": info.get("version", {}).get("Version"),
            "graph_root": store.get("graphRoot"),
            "run_root": store.get("runRoot"),
            "cgroup_manager": host.get("cgroupManager"),
            "network_backend": host.get("networkBackend"),
            "oci_runtime": (host.get("ociRuntime") or {}).get("name"),
        }


class PodmanContainers(FactBase):
    """Every container with state, health, restarts, memory, CPU, networks and ports.

    One command: inspect of all containers, then live stats of the running ones.
    """

    requires_command = "podman"
    default = list

    def command(self, run_healthchecks: bool | None = None) -> str:
        """``run_healthchecks``: True/False, or None to run them unless systemd is PID 1."""
        if run_healthchecks is None:
            checks = f'[ "$(cat /proc/1/comm)" = systemd ] || {{ {RUN_HEALTHCHECKS}}}; '
        else:
            checks = RUN_HEALTHCHECKS if run_healthchecks else ""
        return (
            checks
            + "podman ps -aq | xargs -r podman container inspect; "
            + f"echo '{STATS_MARK}'; "
            + "podman stats --no-stream --format '{{json .ContainerStats}}'; "
            + LOG_TAILS
        )

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        cut = output.index(STATS_MARK) if STATS_MARK in output else len(output)
        inspect_text = "\n".join(output[:cut]).strip()
        inspected = json.loads(inspect_text) if inspect_text else []
        logs_at = next((i for i, line in enumerate(output) if line.startswith(LOG_MARK)),
                       len(output))
        stats = {}
        for line in output[cut + 1 : logs_at]:
            if line.startswith("{"):
                s = json.loads(line)
                stats[s["ContainerID"]] = s
        tails = _log_tails(output[logs_at:])
        return [_container(c, stats.get(c["Id"]), next(
            (t for short, t in tails.items() if c["Id"].startswith(short)), []))
            .model_dump(mode="json") for c in inspected]


def _needs(c: dict[str, Any]) -> list[str]:
    """The containers this one needs: its ``Dependencies`` and the container whose
    network namespace it shares (HostConfig.NetworkMode ``container:ID``)."""
    mode = str((c.get("HostConfig") or {}).get("NetworkMode") or "")
    joined = [mode.split(":", 1)[1]] if mode.startswith("container:") else []
    return [*joined, *(d for d in c.get("Dependencies") or [] if d not in joined)]


def _log_tails(lines: list[str]) -> dict[str, list[str]]:
    """Short container id -> its last log lines, from the LOG_MARK sections."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if line.startswith(LOG_MARK):
            current = out.setdefault(line[len(LOG_MARK):].strip(), [])
        elif current is not None and line.startswith("| ") and line[2:].strip():
            current.append(line[2:])
    return out


def _container(c: dict[str, Any], stats: dict[str, Any] | None,
               log_tail: list[str] | None = None) -> ContainerObs:
    state = c.get("State") or {}
    config = c.get("Config") or {}
    settings = c.get("NetworkSettings") or {}
    running = state.get("Status") == "running"
    # a stopped container keeps its last health status; it means nothing any more
    health = (state.get("Health") or state.get("Healthcheck") or {}).get("Status") or None
    health = health if running else None
    # podman reports a port published on every interface with an empty HostIp; say so
    # the way a spec declares it, so drift and idempotency compare like with like
    ports = [
        {"host_ip": b.get("HostIp") or "0.0.0.0", "host_port": int(b["HostPort"]),
         "container_port": int(spec.split("/")[0]), "protocol": spec.partition("/")[2] or "tcp"}
        for spec, binds in (settings.get("Ports") or {}).items()
        for b in binds or []
        if b.get("HostPort")
    ]
    env = dict(e.split("=", 1) if "=" in e else (e, "") for e in config.get("Env") or [])
    return ContainerObs(
        name=c["Name"].lstrip("/"),
        id=c["Id"],
        image=c.get("ImageName") or config.get("Image") or "",
        state=state.get("Status", "unknown"),
        health=health,
        # a Go duration: nanoseconds
        health_start_period_s=(config.get("Healthcheck") or {}).get("StartPeriod", 0) / 1e9,
        log_tail=(log_tail or [])[-LOG_LINES:] if running else [],
        needs=_needs(c),
        restart_count=int(c.get("RestartCount") or 0),
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")),
        exit_code=None if running else state.get("ExitCode"),
        oom_killed=bool(state.get("OOMKilled")),
        mem_bytes=int(stats["MemUsage"]) if stats and running else None,
        mem_limit_bytes=int((c.get("HostConfig") or {}).get("Memory") or 0),
        cpu_pct=float(stats["CPU"]) if stats and running else None,
        networks=sorted(settings.get("Networks") or {}),
        ports=sorted(ports, key=lambda p: (p["host_port"], p["protocol"])),
        labels=config.get("Labels") or {},
        env_digest={k: value_digest(v) for k, v in env.items()},
        mounts=[
            {"source": m.get("Source", ""), "destination": m.get("Destination", ""),
             "rw": bool(m.get("RW", True)), "type": m.get("Type", "bind")}
            for m in c.get("Mounts") or []
        ],
        command=config.get("Cmd") or [],
    )


def parse_time(value: str | None) -> datetime | None:
    """podman's RFC 3339 times with nanoseconds; the zero time means "never"."""
    if not value or value.startswith("0001-01-01"):
        return None
    head, dot, rest = value.partition(".")
    if dot:  # trim nanoseconds to microseconds, keep the zone
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits):]
        value = f"{head}.{digits[:6]}{zone}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class PodmanNetworks(FactBase):
    """Networks with driver and subnets (members are derived from the containers)."""

    requires_command = "podman"
    default = list

    def command(self) -> str:
        return "podman network ls -q | xargs -r podman network inspect"

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        text = "\n".join(output).strip()
        nets = json.loads(text) if text else []
        return [
            NetworkObs(
                name=n["name"],
                driver=n.get("driver", ""),
                subnets=[s["subnet"] for s in n.get("subnets") or [] if "subnet" in s],
            ).model_dump(mode="json")
            for n in nets
        ]


class PodmanEvents(FactBase):
    """podman's event log of container starts, deaths (with the exit code) and OOM
    kills from ``since`` (unix seconds) up to now, where systemd runs and podman keeps
    the log in the journal; None elsewhere. ``until`` is when it was read: the next
    read starts there. With no ``since`` (a first look) only ``until`` is set.

    ``{"until": 1796277335.3, "events": [{"name": "db", "status": "died", "ts": ...,
    "exit_code": 137}]}``
    """

    requires_command = "podman"

    def command(self, since: float | None = None) -> str:
        read = "true" if since is None else (
            f'podman events --stream=false --since {since:.6f} --until "$u" --format json '
            "--filter type=container --filter event=start --filter event=died "
            "--filter event=oom")
        return (f'[ -d /run/systemd/system ] || exit 0; u=$(date +%s.%N); echo "until $u"; '
                f"{read}")

    def process(self, output: list[str]) -> dict[str, Any] | None:
        until = next((ln.split()[1] for ln in output if ln.startswith("until ")), None)
        if until is None:
            return None
        events = []
        for line in output:
            if not line.startswith("{"):
                continue
            raw = json.loads(line)
            if raw.get("Status") not in ("start", "died", "oom"):
                continue
            ts = raw["timeNano"] / 1e9 if raw.get("timeNano") else float(raw["time"])
            died = raw["Status"] == "died"  # an exit code of 0 is left out of the JSON
            events.append(ContainerEventObs(
                name=raw["Name"], status=raw["Status"], ts=ts,
                exit_code=raw.get("ContainerExitCode", 0) if died else None))
        return PodmanEventLog(until=float(until), events=events).model_dump(mode="json")
