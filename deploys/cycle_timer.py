"""Install the daily 06:30 timer that runs ``homelab-ops cycle`` (the autonomous loop).

    pyinfra inventory/lab.py deploys/cycle_timer.py
"""

from homelab_ops.collection.deploys.cycle import cycle_timer

cycle_timer()
