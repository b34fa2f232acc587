"""systemd facts: service units and timers, system and user scope, where systemd is
PID 1 (elsewhere both lists are empty rather than an error)."""

from __future__ import annotations

import re
from typing import Any

from pyinfra.api import FactBase, QuoteString, StringCommand

from homelab_ops.collection.facts.system import split_sections
from homelab_ops.models.observation import TimerObs, UnitObs

MARK = "@@homelab-ops-systemd:"
WHEN = re.compile(r"\w{3} \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+")


def _listing(scope: str) -> str:
    flag = " --user" if scope == "user" else ""
    return (
        f"echo '{MARK}units {scope}'; systemctl{flag} list-units --all --type=service "
        "--no-legend --plain --no-pager 2>/dev/null; "
        f"echo '{MARK}timers {scope}'; systemctl{flag} list-timers --all --no-legend "
        "--no-pager 2>/dev/null; "
    )


class SystemdUnits(FactBase):
    """{"units": [...], "timers": [...]} for both scopes."""

    def default(self) -> dict[str, list]:
        return {"units": [], "timers": []}

    def command(self) -> str:
        return (
            'if [ "$(cat /proc/1/comm)" = systemd ]; then '
            + _listing("system") + _listing("user") + "fi; true"
        )

    def process(self, output: list[str]) -> dict[str, list[dict[str, Any]]]:
        units, timers = [], []
        for name, lines in split_sections(output, MARK).items():
            kind, scope = name.split()
            for line in filter(str.strip, lines):
                if kind == "units":
                    parts = line.split()
                    if len(parts) >= 4:
                        units.append(UnitObs(name=parts[0], scope=scope, load=parts[1],
                                             active=parts[2], sub=parts[3]))
                else:
                    timers.append(parse_timer_line(line, scope))
        return {
            "units": [u.model_dump(mode="json") for u in units],
            "timers": [t.model_dump(mode="json") for t in timers],
        }


def parse_timer_line(line: str, scope: str) -> TimerObs:
    """``NEXT LEFT LAST PASSED UNIT ACTIVATES``; NEXT/LAST are dates or ``n/a``."""
    parts = line.split()
    stamps = WHEN.findall(line)
    starts_with_next = bool(stamps) and line.lstrip().startswith(stamps[0])
    next_run = stamps[0] if starts_with_next else None
    last_run = stamps[1] if starts_with_next and len(stamps) > 1 else (
        stamps[0] if stamps and not starts_with_next else None)
    return TimerObs(name=parts[-2], scope=scope, next=next_run, last=last_run,
                    activates=parts[-1])


class UnitFailed(FactBase):
    """Whether ``unit`` is in systemd's ``failed`` state (``systemctl is-failed``): a unit
    that hit its start limit stays refused until ``reset-failed``, whatever restarts it."""

    def command(self, unit: str, user_mode: bool = False) -> StringCommand:
        flag = ("--user",) if user_mode else ()
        return StringCommand("systemctl", *flag, "is-failed", "--quiet", QuoteString(unit),
                             "&&", "echo", "failed", "||", "true")

    def process(self, output: list[str]) -> bool:
        return "failed" in (line.strip() for line in output)


class UnitActiveState(FactBase):
    """``unit``'s ActiveState (``active``, ``activating``, ``inactive``, ``failed`` …;
    empty when systemd does not know it). Unlike pyinfra's SystemdStatus, which counts
    only a running SubState, a unit waiting out ``Restart=`` (``activating`` /
    ``auto-restart``) is reported as what it is: about to start again."""

    def command(self, unit: str, user_mode: bool = False) -> StringCommand:
        flag = ("--user",) if user_mode else ()
        return StringCommand("systemctl", *flag, "show", "-P", "ActiveState",
                             QuoteString(unit), "||", "true")

    def process(self, output: list[str]) -> str:
        return next((line.strip() for line in output if line.strip()), "")
