"""Snapshot, send and prune the BTRFS subvolumes configured in host data ``backup``.

    pyinfra inventory/lab.py deploys/backup.py
    pyinfra inventory/lab.py deploys/backup.py --data backup_schedule=weekly

Host data keys are documented in inventory/group_data/all.py. A second run changes
nothing; ``--dry`` shows what would be snapshotted, sent and deleted.
"""

from pyinfra import host

from homelab_ops.collection.deploys.backup import backup
from homelab_ops.models.inventory import host_value

backup(schedule=host_value(host.data, "backup_schedule"))
