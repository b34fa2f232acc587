"""Shared CLI plumbing: the per-invocation App, the ``command`` decorator that gives
every command ``--json``, and ``emit`` which renders JSON or a human view."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property, wraps
from pathlib import Path
from typing import Any

import click


class App:
    """Per-invocation context: global options and the settings loaded on first use."""

    def __init__(self, state_dir: Path | None, config: Path | None) -> None:
        self._state_dir = state_dir
        self._config = config
        self.json = False

    def global_args(self) -> list[str]:
        """The global options this invocation got, to pass on to a command run in
        process (``recommend --run``)."""
        out = ["--state-dir", str(self._state_dir)] if self._state_dir else []
        return out + (["--config", str(self._config)] if self._config else [])

    @cached_property
    def settings(self):
        from homelab_ops.models.settings import load_settings

        return load_settings(self._config, self._state_dir)

    def store(self, read_only_path: bool = False):
        """Open the state store (callers close it, or use it as a context manager).

        ``read_only_path``: find the state directory without validating the settings
        (no pydantic import), for read paths that must start fast."""
        from homelab_ops.locations import quick_state_dir
        from homelab_ops.store import Store

        quick = quick_state_dir(self._state_dir, self._config) if read_only_path else None
        return Store.open(quick or self.settings.state_dir)


def command(group: click.Group | None, name: str | None = None, **kwargs: Any):
    """A command that takes ``--json`` and receives the App as first argument; registered
    on ``group``, or standalone (for cli.py to add) when ``group`` is None. Put click
    options for the command below this decorator."""

    def decorate(fn: Callable[..., Any]):
        @(group.command if group is not None else click.command)(name, **kwargs)
        @click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
        @click.pass_obj
        @wraps(fn)
        def wrapper(app: App, as_json: bool, *args: Any, **kw: Any) -> Any:
            app.json = as_json
            return fn(app, *args, **kw)

        return wrapper

    return decorate


def emit(app: App, data: Any, human: Callable[[Any], None]) -> None:
    """Print ``data`` as JSON with --json, else through the human renderer."""
    if app.json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        human(data)


inventory_option = click.option(
    "-i", "--inventory", type=click.Path(path_type=Path, dir_okay=False),
    help="pyinfra inventory file (default: settings' inventory, else the sandbox lab's).",
)


def resolve_inventory(app: App, path: Path | None):
    """The command's pyinfra Inventory (``inventory.chosen_inventory``)."""
    from homelab_ops.inventory import chosen_inventory

    return chosen_inventory(path, app.settings)
