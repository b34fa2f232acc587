"""Install the systemd timers that run the agent's backups: daily 02:00, weekly
Saturday 04:00 and the monthly restore test.

    pyinfra inventory/lab.py deploys/backup_timers.py
"""

from homelab_ops.collection.deploys.backup import backup_timers

backup_timers()
