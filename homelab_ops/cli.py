"""The ``homelab-ops`` command line. Thin: parse, call one function, render.

Heavy modules (pyinfra, btrfsutil, rich tables) are imported inside commands so read
paths start fast. User mistakes surface as one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import cached_property, wraps
from pathlib import Path
from typing import Any

import click

from homelab_ops import __version__
from homelab_ops.errors import HomelabError


class App:
    """Per-invocation context: global options and the settings loaded on first use."""

    def __init__(self, state_dir: Path | None, config: Path | None) -> None:
        self._state_dir = state_dir
        self._config = config
        self.json = False

    @cached_property
    def settings(self):
        from homelab_ops.models.settings import load_settings

        return load_settings(self._config, self._state_dir)


def command(group: click.Group, name: str | None = None, **kwargs: Any):
    """Register a command that takes ``--json`` and receives the App as first argument."""

    def decorate(fn: Callable[..., Any]):
        @group.command(name, **kwargs)
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="homelab-ops")
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="State directory (default: $HOMELAB_OPS_STATE_DIR or ~/.local/state/homelab-ops).",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Settings file (default: $HOMELAB_OPS_CONFIG or ~/.config/homelab-ops/settings.toml).",
)
@click.pass_context
def cli(ctx: click.Context, state_dir: Path | None, config: Path | None) -> None:
    """Run a podman + BTRFS homelab by itself: observe, predict, back up, deploy, remediate."""
    ctx.obj = App(state_dir, config)


@command(cli, "settings")
def settings_cmd(app: App) -> None:
    """Show the effective settings (validates the settings file)."""
    data = app.settings.model_dump(mode="json")
    emit(app, data, lambda d: click.echo(json.dumps(d, indent=2)))


@cli.group()
def lab() -> None:
    """The sandbox homelab on this machine (podman, BTRFS pools, sshd on 127.0.0.1)."""


def _lab(app: App):
    from homelab_ops.lab import Lab

    return Lab(app.settings.lab_dir)


@command(lab, "up")
def lab_up(app: App) -> None:
    """Build the lab (idempotent: a second run changes nothing)."""
    from homelab_ops.render import lab_status

    emit(app, _lab(app).up(), lab_status)


@command(lab, "down")
def lab_down(app: App) -> None:
    """Remove exactly what `lab up` created."""
    result = _lab(app).down()
    emit(app, result, lambda d: click.echo(
        f"removed lab at {d['lab_dir']}" if d["removed"] else f"no lab at {d['lab_dir']}"))


@command(lab, "status")
def lab_status_cmd(app: App) -> None:
    """Show what of the lab exists and runs."""
    from homelab_ops.render import lab_status

    emit(app, _lab(app).status(), lab_status)


def main(argv: list[str] | None = None) -> None:
    try:
        rv = cli.main(args=argv, prog_name="homelab-ops", standalone_mode=False)
    except HomelabError as exc:
        click.echo(f"homelab-ops: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("homelab-ops: aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
