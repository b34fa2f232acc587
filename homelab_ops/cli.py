"""The ``homelab-ops`` command line. Thin: parse, call one function, render.

Command groups live in ``homelab_ops.commands``; heavy modules (pyinfra, btrfsutil,
rich tables) are imported inside commands so read paths start fast. User mistakes
surface as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import click

from homelab_ops.commands.ask import ask_cmd, cache
from homelab_ops.commands.backup import backup
from homelab_ops.commands.base import App, command, emit
from homelab_ops.commands.diagnose import audit_cmd, diagnose_cmd, netcheck_cmd
from homelab_ops.commands.lab import lab
from homelab_ops.commands.loop import (
    cycle_cmd,
    decisions,
    incidents_cmd,
    ops,
    queue,
    why_cmd,
)
from homelab_ops.commands.metrics import metrics_cmd
from homelab_ops.commands.notify import notify
from homelab_ops.commands.observe import observe_cmd, status_cmd
from homelab_ops.commands.predict import predict
from homelab_ops.commands.recommend import recommend_cmd
from homelab_ops.commands.report import report_cmd
from homelab_ops.commands.stacks import (
    deploy_cmd,
    drift_cmd,
    health_cmd,
    patterns,
    stacks_group,
)
from homelab_ops.commands.store import store_group
from homelab_ops.errors import HomelabError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="homelab-ops", prog_name="homelab-ops")
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


cli.add_command(lab)
cli.add_command(predict)
cli.add_command(backup)
cli.add_command(observe_cmd)
cli.add_command(status_cmd)
cli.add_command(deploy_cmd)
cli.add_command(health_cmd)
cli.add_command(drift_cmd)
cli.add_command(patterns)
cli.add_command(stacks_group)
cli.add_command(store_group)
cli.add_command(ask_cmd)
cli.add_command(cache)
cli.add_command(cycle_cmd)
cli.add_command(decisions)
cli.add_command(why_cmd)
cli.add_command(incidents_cmd)
cli.add_command(ops)
cli.add_command(queue)
cli.add_command(notify)
cli.add_command(metrics_cmd)
cli.add_command(report_cmd)
cli.add_command(recommend_cmd)
cli.add_command(diagnose_cmd)
cli.add_command(audit_cmd)
cli.add_command(netcheck_cmd)


def main(argv: list[str] | None = None) -> None:
    try:
        rv = cli.main(args=argv, prog_name="homelab-ops", standalone_mode=False)
    except HomelabError as exc:
        click.echo(f"homelab-ops: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except sqlite3.Error as exc:  # the store broke mid-command (e.g. a damaged page)
        from homelab_ops.store import QUARANTINE_HINT

        click.echo(f"homelab-ops: error: the state store failed ({exc}); {QUARANTINE_HINT}",
                   err=True)
        sys.exit(1)
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
