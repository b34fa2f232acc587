"""Read-only looks the diagnose and audit routines take: one container in full (its
inspect, healthcheck log and last log lines) and the modes of a secrets directory.

Names reach the shell only after a strict pattern check, and quoted.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pyinfra.api import FactBase, QuoteString, StringCommand

from homelab_ops.collection.facts.podman import PodmanEvents, _container, parse_time
from homelab_ops.collection.facts.system import MARK, split_sections
from homelab_ops.models.diagnosis import ContainerView, HealthRun, SecretFileLook

CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
LOG_WIDTH = 300
EVENTS_SINCE = "1h"  # podman's own log of its deaths and OOM kills, for the exit codes


def checked_name(name: str) -> str:
    if not CONTAINER_NAME.match(name):
        raise ValueError(f"invalid container name {name!r}")
    return name


class ContainerLook(FactBase):
    """Every container name on the host, and the named one in full: its inspect, the
    healthcheck runs podman kept, the last ``lines`` lines of its log, and podman's
    event log of its starts, deaths (exit codes) and OOM kills in the last hour.

    ``{"names": ["home-db", ...], "container": {ContainerObs}, "health_log":
    [{"start": "...", "exit_code": 1, "output": "..."}], "log_tail": ["config file
    missing"]}`` (``container`` is None when the host has no such container)
    """

    requires_command = "podman"

    def command(self, container: str, lines: int = 20) -> StringCommand:
        quoted = QuoteString(checked_name(container))
        return StringCommand(
            f"echo '{MARK}names'; podman ps -a --format '{{{{.Names}}}}';",
            f"echo '{MARK}inspect'; podman container inspect", quoted, "2>/dev/null;",
            f"echo '{MARK}logs'; podman logs --tail {int(lines)}", quoted,
            f"2>&1 | cut -c1-{LOG_WIDTH} | sed 's/^/| /';",
            f'echo \'{MARK}events\'; echo "until $(date +%s.%N)";',
            f"podman events --stream=false --since {EVENTS_SINCE} --format json",
            "--filter type=container --filter event=start --filter event=died",
            "--filter event=oom",  # by id: an earlier container of that name is another
            "--filter \"container=$(podman container inspect --format '{{.Id}}'",
            quoted, '2>/dev/null)" 2>/dev/null; true')

    def process(self, output: list[str]) -> dict[str, Any]:
        parts = split_sections(output)
        text = "\n".join(parts.get("inspect", [])).strip()
        inspected = json.loads(text) if text.startswith("[") else []
        raw = inspected[0] if inspected else None
        logs = [ln[2:] for ln in parts.get("logs", []) if ln.startswith("| ")]
        return ContainerView(
            names=[n.strip() for n in parts.get("names", []) if n.strip()],
            container=_container(raw, None) if raw else None,
            last_exit_code=(raw.get("State") or {}).get("ExitCode") if raw else None,
            health_log=_health_log(raw) if raw else [],
            log_tail=[ln for ln in logs if ln.strip()] if raw else [],
            events=_events(parts.get("events", [])) if raw else [],
        ).model_dump(mode="json")


def _events(lines: list[str]) -> list[dict[str, Any]]:
    log = PodmanEvents().process(lines)
    return log["events"] if log else []


def _health_log(raw: dict[str, Any]) -> list[HealthRun]:
    state = raw.get("State") or {}
    log = (state.get("Health") or state.get("Healthcheck") or {}).get("Log") or []
    return [HealthRun(start=parse_time(e.get("Start")), exit_code=int(e.get("ExitCode", 0)),
                      output=str(e.get("Output") or "").strip()[:LOG_WIDTH])
            for e in log]


class SecretFiles(FactBase):
    """The entries of a secrets directory with their permission bits and owner (the
    directory itself first); nothing when it does not exist.

    ``[{"path": "/etc/containers/systemd/homelab-ops-secrets", "kind": "directory",
    "mode": 448, "owner": "root"}, {"path": ".../home-db.env", "kind": "file", ...}]``
    """

    default = list

    def command(self, directory: str) -> StringCommand:
        return StringCommand("find", QuoteString(directory), "-maxdepth 1",
                             "-printf '%y %m %u %p\\n' 2>/dev/null; true")

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        kinds = {"f": "file", "d": "directory"}
        out = []
        for line in output:
            kind, mode, owner, path = [*line.split(" ", 3), "", "", ""][:4]
            if not path or not mode.isdigit():
                continue
            out.append(SecretFileLook(path=path, kind=kinds.get(kind, "other"),
                                      mode=int(mode, 8), owner=owner).model_dump())
        return out
