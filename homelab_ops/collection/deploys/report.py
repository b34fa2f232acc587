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

    Takes no argument. Written and enabled as ``deploys.cycle.cycle_timer`` does, from
    the same host data, except ``homelab_ops_inventory``: the report reads the store
    only, so no inventory is passed to it.

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
