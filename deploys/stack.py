"""Deploy one stack with the plain pyinfra CLI.

    HOMELAB_OPS_STACK=examples/lab-stack.yaml LAB_DB_PASSWORD=... \\
        pyinfra -y inventory/lab.py deploys/stack.py

The stack file comes from host data ``stack_file`` (e.g. ``--data stack_file=...``) or
the environment variable HOMELAB_OPS_STACK; secrets come from where the stack file says
(environment variables or files on this machine). Hosts the stack does not name are
skipped. A second run changes nothing; ``--dry`` shows what would change.
"""

import os
from pathlib import Path

from pyinfra import host

from homelab_ops.collection.deploys.stack import stack
from homelab_ops.collection.lib.secrets import read_secrets
from homelab_ops.models.inventory import host_value
from homelab_ops.stacks.load import load_stack

stack_file = host_value(host.data, "stack_file") or os.environ.get("HOMELAB_OPS_STACK")
if not stack_file:
    raise SystemExit("deploys/stack.py: set host data stack_file or HOMELAB_OPS_STACK")
declared = load_stack(Path(stack_file))
stack(declared, read_secrets(declared))
