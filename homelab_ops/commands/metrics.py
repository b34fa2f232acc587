"""``homelab-ops metrics``: the Prometheus metrics, for node_exporter's textfile
collector or on stdout."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_ops.commands.base import App, command, emit


@command(None, "metrics")
@click.option("--textfile", type=click.Path(path_type=Path, dir_okay=False),
              help="Write this *.prom file atomically (default: settings' metrics_textfile; "
                   "neither: print the metrics).")
def metrics_cmd(app: App, textfile: Path | None) -> None:
    """Health scores, predictions, loop controls, decisions, backups and cycle timings in
    Prometheus's text format (read from the store only)."""
    from prometheus_client import generate_latest

    from homelab_ops import metrics
    from homelab_ops.loop import heartbeat

    target = textfile or app.settings.metrics_textfile
    with app.store() as store:
        heartbeat.check(store, app.settings)  # the first to notice a missed one tells
        registry = metrics.collect(store, app.settings)
    if target is not None:
        metrics.write_textfile(registry, target)
    text = generate_latest(registry).decode()
    emit(app, metrics.families(registry),
         lambda _: click.echo(f"wrote {target}" if target else text.rstrip("\n")))
