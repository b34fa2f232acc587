"""The sandbox lab built by ``homelab-ops lab up``: the @local host and its SSH alias
(``lab-ssh``, an sshd on 127.0.0.1), with the host data the lab needs.

    pyinfra inventory/lab.py fact homelab_ops.collection.facts.podman.PodmanInfo

The state directory follows the agent: $HOMELAB_OPS_STATE_DIR or ~/.local/state/homelab-ops.
"""

from homelab_ops.lab import lab_hosts
from homelab_ops.models.settings import load_settings

lab = lab_hosts(load_settings().lab_dir)
