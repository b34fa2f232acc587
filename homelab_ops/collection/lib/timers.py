"""The backup schedule as systemd units: daily backups at 02:00, weekly (volumes with
``schedule: weekly``, e.g. large media) on Saturday at 04:00, and the monthly restore
test. Each timer starts a oneshot service that runs the agent, which holds the backup
lock, so overlapping timers never run two backups at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from homelab_ops.errors import InputError
from homelab_ops.models.inventory import SYSTEMD_UNIT_DIR, host_value

UNITS_DIR = Path(__file__).with_name("timer_units")
_SAFE = re.compile(r"^/[A-Za-z0-9._/+@-]{1,255}$")


@dataclass(frozen=True)
class Schedule:
    stem: str
    description: str
    calendar: str
    args: str
    jitter: str
    # a systemd watchdog ("15min"): the service is Type=notify and killed when the agent
    # goes this long without a WATCHDOG=1 ping (loop/sdnotify.py); "": a plain oneshot
    watchdog: str = ""


SCHEDULES = (
    Schedule("homelab-ops-backup-daily", "homelab-ops daily BTRFS backup",
             "*-*-* 02:00:00", "backup run --schedule daily", "10min"),
    Schedule("homelab-ops-backup-weekly", "homelab-ops weekly BTRFS backup",
             "Sat *-*-* 04:00:00", "backup run --schedule weekly", "10min"),
    Schedule("homelab-ops-restore-test", "homelab-ops monthly restore test",
             "*-*-01 05:00:00", "backup verify", "1h"),
)


CYCLE = (Schedule("homelab-ops-cycle", "homelab-ops autonomous operations cycle",
                  "*-*-* 06:30:00", "cycle", "5min", watchdog="15min"),)
# the cycle timer's interval (its calendar above fires daily): the heartbeat's period
# unless settings ``loop.cycle_period_minutes`` says the cycle runs on another schedule
CYCLE_PERIOD_MINUTES = 24 * 60.0


def timer_names(schedules: tuple[Schedule, ...] = SCHEDULES) -> list[str]:
    return [f"{s.stem}.timer" for s in schedules]


def unit_dir(data: Any) -> str:
    """Host data ``systemd_unit_dir``; the lab keeps its units inside the lab."""
    explicit = host_value(data, "systemd_unit_dir")
    lab_dir = host_value(data, "lab_dir")
    chosen = explicit or (f"{lab_dir}/systemd" if lab_dir else SYSTEMD_UNIT_DIR)
    return _safe(chosen, "systemd_unit_dir")


def _safe(value: str, field: str) -> str:
    if not _SAFE.match(str(value)) or "/../" in f"{value}/":
        raise InputError("host data", field, f"not a plain absolute path: {value!r}")
    return str(value)


def render(data: Any, schedules: tuple[Schedule, ...] = SCHEDULES,
           source: str = "deploys/backup_timers.py") -> dict[str, str]:
    """Unit file name -> text for ``schedules`` (the backups', or ``CYCLE``; ``source``
    is the deploy file named in their header), from host data ``homelab_ops_exe``
    (absolute path of the agent; systemd runs it), ``homelab_ops_inventory`` (the
    inventory it works on) and ``homelab_ops_state_dir`` (optional)."""
    exe = _safe(host_value(data, "homelab_ops_exe"), "homelab_ops_exe")
    env: list[tuple[str, str]] = []
    if state := host_value(data, "homelab_ops_state_dir"):
        env.append(("HOMELAB_OPS_STATE_DIR", _safe(state, "homelab_ops_state_dir")))
    inventory = host_value(data, "homelab_ops_inventory")
    inv = f" -i {_safe(inventory, 'homelab_ops_inventory')}" if inventory else ""
    jenv = jinja2.Environment(loader=jinja2.FileSystemLoader(UNITS_DIR), autoescape=False,
                              keep_trailing_newline=True, trim_blocks=True,
                              undefined=jinja2.StrictUndefined)
    out = {}
    for s in schedules:
        common: Mapping[str, Any] = {"description": s.description, "service": f"{s.stem}.service",
                                     "source": source}
        out[f"{s.stem}.service"] = jenv.get_template("homelab-ops-backup.service.j2").render(
            **common, exe=exe, args=s.args + inv, environment=env, watchdog=s.watchdog)
        out[f"{s.stem}.timer"] = jenv.get_template("homelab-ops-backup.timer.j2").render(
            **common, calendar=s.calendar, jitter=s.jitter)
    return out
