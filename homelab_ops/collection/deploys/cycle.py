"""The daily 06:30 ``homelab-ops cycle`` timer and its service, with a systemd
watchdog (``Type=notify``, ``WatchdogSec=``: the cycle pings it at every phase and
action, loop/sdnotify.py), so a wedged cycle is killed instead of blocking the next.

    pyinfra inventory/lab.py deploys/cycle_timer.py
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy

from homelab_ops.collection.deploys.backup import install_timers
from homelab_ops.collection.lib import timers


@deploy("Cycle timer")
def cycle_timer():
    """Install the daily cycle timer and its service.

    Takes no argument. The units are written to host data ``systemd_unit_dir`` and
    enabled only where systemd runs (the host's backend: host data ``systemd``,
    else systemd as PID 1).

    + host data ``homelab_ops_exe``: absolute path of the agent (default
      /usr/local/bin/homelab-ops)
    + host data ``homelab_ops_inventory``: the inventory the cycle works on (optional)
    + host data ``homelab_ops_state_dir``: the agent's state directory (optional)

    **Example:**

    .. code:: python

        from homelab_ops.collection.deploys.cycle import cycle_timer
        cycle_timer()
    """
    install_timers(timers.render(host.data, timers.CYCLE, "deploys/cycle_timer.py"),
                   timers.timer_names(timers.CYCLE))
