"""The cycle timer: units that systemd accepts (its service with a watchdog), the 06:30
calendar, and a deploy through the plain pyinfra CLI on @local that changes nothing the
second time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from homelab_ops.collection.lib import timers

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="needs systemd-analyze")


def _units() -> dict[str, str]:
    return timers.render({"homelab_ops_exe": str(Path(sys.executable).with_name("homelab-ops")),
                          "homelab_ops_inventory": "/etc/homelab-ops/inventory.py",
                          "homelab_ops_state_dir": "/var/lib/homelab-ops"},
                         timers.CYCLE, "deploys/cycle_timer.py")


def test_cycle_units_verify_and_run_the_cycle(tmp_path: Path) -> None:
    units = _units()
    assert set(units) == {"homelab-ops-cycle.service", "homelab-ops-cycle.timer"}
    for name, text in units.items():
        (tmp_path / name).write_text(text)
    proc = subprocess.run(["systemd-analyze", "verify", *sorted(map(str, tmp_path.iterdir()))],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    service = units["homelab-ops-cycle.service"]
    assert " cycle -i /etc/homelab-ops/inventory.py\n" in service
    assert "Environment=HOMELAB_OPS_STATE_DIR=/var/lib/homelab-ops" in service
    assert "(deploys/cycle_timer.py)" in service


def test_the_cycle_service_has_a_watchdog_and_backups_stay_oneshot() -> None:
    """A wedged cycle (no WATCHDOG=1 ping for 15 min, loop/sdnotify.py) is killed by
    systemd; the backup services, which do not ping, are plain oneshots."""
    service = _units()["homelab-ops-cycle.service"].splitlines()
    for line in ("Type=notify", "NotifyAccess=main", "WatchdogSec=15min"):
        assert line in service, line
    assert "Type=oneshot" not in service
    for name, text in timers.render({}).items():
        if name.endswith(".service"):
            assert "Type=oneshot" in text.splitlines() and "WatchdogSec" not in text, name


def test_cycle_calendar_is_daily_0630() -> None:
    text = _units()["homelab-ops-cycle.timer"]
    calendar = next(line.split("=", 1)[1] for line in text.splitlines()
                    if line.startswith("OnCalendar="))
    proc = subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True,
                          text=True, check=True)
    assert "Normalized form: *-*-* 06:30:00" in proc.stdout


def test_deploy_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    unit_dir = tmp_path / "units"
    exe = Path(sys.executable).with_name("pyinfra")

    def run() -> str:
        proc = subprocess.run([str(exe), "-y", "@local", "deploys/cycle_timer.py",
                               "--data", f"systemd_unit_dir={unit_dir}"],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout + proc.stderr

    assert "[@local] Success" in run()
    assert sorted(p.name for p in unit_dir.iterdir()) == ["homelab-ops-cycle.service",
                                                          "homelab-ops-cycle.timer"]
    second = run()
    assert "[@local] Success" not in second and "[@local] No changes" in second
