"""The weekly (Monday 07:00) ``homelab-ops report --publish`` timer and its oneshot
service: the report lands in the agent's ``report_dir`` and its summary goes to the
cycle's notifier.

    pyinfra inventory/lab.py deploys/report_timer.py
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy

from homelab_ops.collection.deploys.backup import install_timers
from homelab_ops.collection.lib import timers

REPORT = (timers.Schedule("homelab-ops-report", "homelab-ops weekly report",
                          "Mon *-*-* 07:00:00", "report --publish", "5min"),)


@deploy("Report timer")
def report_timer():
    """Install the weekly report timer and its service.

    Takes no argument. The units are written to host data ``systemd_unit_dir`` and
    enabled only where systemd runs (the host's backend: host data ``systemd``,
    else systemd as PID 1).

    + host data ``homelab_ops_exe``: absolute path of the agent (default
      /usr/local/bin/homelab-ops)
    + host data ``homelab_ops_state_dir``: the agent's state directory (optional)

    The report reads the store only, so ``homelab_ops_inventory`` is not passed to it.

    **Example:**

    .. code:: python

        from homelab_ops.collection.deploys.report import report_timer
        report_timer()
    """
    install_timers(report_units(host.data), timers.timer_names(REPORT))


def report_units(data) -> dict[str, str]:
    """Unit file name -> text: the shared timer units, without an inventory."""
    keep = {k: data.get(k) for k in ("homelab_ops_exe", "homelab_ops_state_dir")}
    return timers.render(keep, REPORT, "deploys/report_timer.py")
