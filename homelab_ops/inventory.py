"""Load and validate pyinfra inventories for the agent.

The agent takes the same inventory files users give the pyinfra CLI. Loading goes
through pyinfra's own loader (group_data directories included); the keys homelab-ops
reads are then validated, so a broken inventory is one clear error naming the file,
the host and the field, before anything connects.
"""

from __future__ import annotations

import difflib
import traceback
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyinfra.api import Inventory

# Importing pyinfra_cli applies gevent's monkey patch, as the pyinfra CLI does. It must
# happen when this module loads (before any command opens threads or connections), not
# lazily mid-run, where it breaks threads that already exist (seen with paramiko's).
from pyinfra_cli.exceptions import UnexpectedExternalError
from pyinfra_cli.inventory import make_inventory

from homelab_ops.errors import InputError, read_text, validate_input
from homelab_ops.models.inventory import HostData, data_keys, host_value

if TYPE_CHECKING:
    from homelab_ops.models.settings import Settings

HostEntry = tuple[str, dict[str, Any]]


def load_inventory(path: Path) -> Inventory:
    from pyinfra.api import State
    from pyinfra.context import ctx_state

    read_text(path, missing="inventory file does not exist")  # exists, readable, UTF-8
    try:
        with ctx_state.use(State()):  # pyinfra's file loader records state as it runs
            inventory = make_inventory(str(path), cwd=str(path.parent))
    except SyntaxError as exc:
        raise InputError(path, f"line {exc.lineno}", f"not valid Python: {exc.msg}") from None
    except SystemExit as exc:  # the file's own code called sys.exit()
        raise InputError(path, _line_in(path, exc),
                         f"the inventory exited (sys.exit({exc.code!r}))") from None
    except Exception as exc:  # pyinfra's loader raises many types for a bad file
        raise _load_error(path, exc) from None
    if not len(inventory):
        raise InputError(path, None, "inventory defines no hosts")
    validate(inventory, path)
    return inventory


def inventory_file(path: Path | None, settings: Settings) -> Path:
    """Which inventory a command works on: ``-i``, then settings, then the lab's."""
    from homelab_ops.lab.paths import LabPaths

    return path or settings.inventory or LabPaths(settings.lab_dir).inventory


def chosen_inventory(path: Path | None, settings: Settings) -> Inventory:
    """The pyinfra Inventory a command works on (``inventory_file``'s choice); the lab's
    is built from what ``lab up`` recorded."""
    from homelab_ops.errors import HomelabError
    from homelab_ops.lab import lab_hosts
    from homelab_ops.lab.paths import LabPaths

    if path is not None or settings.inventory is not None:
        return load_inventory(inventory_file(path, settings))
    lab = LabPaths(settings.lab_dir)
    if lab.inventory.exists():
        return inventory_from_entries(lab_hosts(lab.root), lab.inventory)
    raise HomelabError("no inventory: pass -i FILE, set `inventory` in settings, "
                       "or build the sandbox with `homelab-ops lab up`")


def only_hosts(inventory: Inventory, names: Sequence[str]) -> Inventory:
    """The hosts of ``inventory`` named in ``names`` (all of them when empty), with
    their data as loaded; a name the inventory lacks is an error naming it."""
    from homelab_ops.errors import HomelabError

    if not names:
        return inventory
    missing = sorted(set(names) - {h.name for h in inventory})
    if missing:
        raise HomelabError(f"no host named {', '.join(missing)} in the inventory")
    return inventory_from_entries([(h.name, h.data.dict()) for h in inventory
                                   if h.name in names], "the chosen hosts")


def _load_error(path: Path, exc: Exception) -> InputError:
    """The user's own exception (pyinfra wraps it) with the line of the file it came from."""
    inner = exc.exception if isinstance(exc, UnexpectedExternalError) else exc
    message = f"{type(inner).__name__}: {inner}" if str(inner) else type(inner).__name__
    return InputError(path, _line_in(path, inner), f"cannot load inventory: {message}")


def _line_in(path: Path, exc: BaseException) -> str | None:
    """``line N``: the innermost frame of ``exc`` that ran in the inventory file."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if Path(f.filename).absolute() == path.absolute()]
    return f"line {frames[-1].lineno}" if frames else None


def inventory_from_entries(entries: Sequence[HostEntry], source: Path | str) -> Inventory:
    """An inventory from (name, data) pairs (the lab, tests), validated the same way."""
    inventory = Inventory((list(entries), {}))
    validate(inventory, Path(source))
    return inventory


def validate(inventory: Inventory, path: Path) -> None:
    for host in inventory:
        data = host.data.dict()
        validate_input(HostData, data, path, f"hosts[{host.name}]")
        for key in data:
            if close := misspelt(key):
                raise InputError(path, f"hosts[{host.name}].{key}",
                                 f"unknown host data key: did you mean {close}?")


def misspelt(key: str) -> str | None:
    """The declared (or pyinfra's) key ``key`` is probably a typo of; None for a known
    key and for a user's own key that resembles none of them."""
    known = _known_keys()
    if key in known:
        return None
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.85)
    return close[0] if close else None


@cache
def _known_keys() -> tuple[str, ...]:
    """homelab-ops' declared keys and pyinfra's: its connectors' data and its global
    arguments (``_sudo``, ``_env``...), which host data may set for every operation."""
    from pyinfra.api.arguments import all_argument_meta
    from pyinfra.api.connectors import get_all_connectors

    pyinfra = {k for k in all_argument_meta if k.startswith("_")}
    for connector in get_all_connectors().values():
        pyinfra.update(getattr(connector, "data_meta", None) or {})
    return tuple(sorted(pyinfra | set(data_keys())))


def distinct_hosts(inventory: Inventory) -> Inventory:
    """The inventory without second names of a machine (host data ``alias_of``): one
    machine is observed once and one fault seen through two names is remediated once."""
    if not any(host_value(h.data, "alias_of") for h in inventory):
        return inventory
    return inventory_from_entries([(h.name, h.data.dict()) for h in inventory
                                   if not host_value(h.data, "alias_of")], "inventory")
