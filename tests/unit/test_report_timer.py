"""The weekly report timer: the shared timer units, Monday 07:00, a service that runs
`report --publish` without an inventory, and a deploy that changes nothing the second
time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from homelab_ops.collection.deploys.report import report_units

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="needs systemd-analyze")
EXE = str(Path(sys.executable).with_name("homelab-ops"))


def _units() -> dict[str, str]:
    return report_units({"homelab_ops_exe": EXE,
                         "homelab_ops_inventory": "/etc/homelab-ops/inventory.py",
                         "homelab_ops_state_dir": "/var/lib/homelab-ops"})


def test_report_units_verify_and_publish_the_report(tmp_path: Path) -> None:
    units = _units()
    assert set(units) == {"homelab-ops-report.service", "homelab-ops-report.timer"}
    for name, text in units.items():
        (tmp_path / name).write_text(text)
    proc = subprocess.run(["systemd-analyze", "verify", *sorted(map(str, tmp_path.iterdir()))],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    service = units["homelab-ops-report.service"]
    # the report reads the store only: no inventory option it would refuse
    assert f"ExecStart={EXE} report --publish\n" in service
    assert "Environment=HOMELAB_OPS_STATE_DIR=/var/lib/homelab-ops" in service
    assert "(deploys/report_timer.py)" in service
    assert subprocess.run([EXE, "report", "--help"], capture_output=True).returncode == 0


def test_report_calendar_is_monday_0700() -> None:
    text = _units()["homelab-ops-report.timer"]
    calendar = next(line.split("=", 1)[1] for line in text.splitlines()
                    if line.startswith("OnCalendar="))
    proc = subprocess.run(["systemd-analyze", "calendar", "--iterations", "2", calendar],
                          capture_output=True, text=True, check=True)
    assert "Normalized form: Mon *-*-* 07:00:00" in proc.stdout
    nxt = [ln for ln in proc.stdout.splitlines() if "Next elapse" in ln or "Iter. #2" in ln]
    assert len(nxt) == 2 and all(" Mon " in ln and "07:00:00" in ln for ln in nxt), nxt


def test_deploy_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    unit_dir = tmp_path / "units"
    exe = Path(sys.executable).with_name("pyinfra")

    def run() -> str:
        proc = subprocess.run([str(exe), "-y", "@local", "deploys/report_timer.py",
                               "--data", f"systemd_unit_dir={unit_dir}"],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout + proc.stderr

    assert "[@local] Success" in run()
    assert sorted(p.name for p in unit_dir.iterdir()) == ["homelab-ops-report.service",
                                                          "homelab-ops-report.timer"]
    second = run()
    assert "[@local] Success" not in second and "[@local] No changes" in second
