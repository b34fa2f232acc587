"""Run one remediation playbook with the plain pyinfra CLI (the autonomous loop runs the
same deploys). Choose it with ``--data playbook=...``:

    pyinfra inventory/lab.py deploys/remediate.py --data playbook=restart --data service=home-wiki
    pyinfra inventory/lab.py deploys/remediate.py --data playbook=free-disk
    pyinfra inventory/lab.py deploys/remediate.py --data playbook=rotate-snapshots \\
        --data backup_rotate_early=True
    pyinfra inventory/lab.py deploys/stack.py --data stack_file=stacks/home.yml  # redeploy

``restart-leaking`` is ``restart``; ``rotate-snapshots`` is the backup deploy's prune with
``backup_rotate_early`` set.
"""

from pyinfra import host

from homelab_ops.collection.deploys.backup import backup
from homelab_ops.collection.deploys.remediate import free_disk, restart
from homelab_ops.models.inventory import host_value

playbook = host_value(host.data, "playbook")
if playbook in ("restart", "restart-leaking"):
    restart(service=host_value(host.data, "service"))
elif playbook == "free-disk":
    free_disk(journal_max=host_value(host.data, "journal_max"))
elif playbook == "rotate-snapshots":
    backup(prune_only=True)
else:
    raise SystemExit(f"--data playbook=: one of restart, restart-leaking, free-disk, "
                     f"rotate-snapshots, not {playbook!r}")
