"""Load and validate pyinfra inventories for the agent.

The agent takes the same inventory files users give the pyinfra CLI. Loading goes
through pyinfra's own loader (group_data directories included); the keys homelab-ops
reads are then validated, so a broken inventory is one clear error naming the file,
the host and the field, before anything connects.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyinfra.api import Inventory

# Importing pyinfra_cli applies gevent's monkey patch, as the pyinfra CLI does. It must
# happen when this module loads (before any command opens threads or connections), not
# lazily mid-run, where it breaks threads that already exist (seen with paramiko's).
from pyinfra_cli.inventory import make_inventory

from homelab_ops.errors import InputError, validate_input
from homelab_ops.models.inventory import HostData

HostEntry = tuple[str, dict[str, Any]]


def load_inventory(path: Path) -> Inventory:
    from pyinfra.api import State
    from pyinfra.context import ctx_state

    if not path.is_file():
        raise InputError(path, None, "inventory file does not exist")
    try:
        with ctx_state.use(State()):  # pyinfra's file loader records state as it runs
            inventory = make_inventory(str(path), cwd=str(path.parent))
    except SyntaxError as exc:
        raise InputError(path, f"line {exc.lineno}", f"not valid Python: {exc.msg}") from None
    except Exception as exc:  # pyinfra's loader raises many types for a bad file
        raise InputError(path, None, f"cannot load inventory: {exc}") from None
    if not len(inventory):
        raise InputError(path, None, "inventory defines no hosts")
    validate(inventory, path)
    return inventory


def inventory_from_entries(entries: Sequence[HostEntry], source: Path | str) -> Inventory:
    """An inventory from (name, data) pairs (the lab, tests), validated the same way."""
    inventory = Inventory((list(entries), {}))
    validate(inventory, Path(source))
    return inventory


def validate(inventory: Inventory, path: Path) -> None:
    for host in inventory:
        validate_input(HostData, host.data.dict(), path, f"hosts[{host.name}]")


def host_data(host: Any) -> HostData:
    return HostData.model_validate(host.data.dict())
