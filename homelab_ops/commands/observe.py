"""``homelab-ops observe`` probes the hosts; ``homelab-ops status`` reads the store."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_ops.commands.base import App, command, emit, inventory_option, resolve_inventory
from homelab_ops.errors import HomelabError


@command(None, "observe")
@inventory_option
def observe_cmd(app: App, inventory: Path | None) -> None:
    """Probe every host once, record what it runs and refresh the predictions (backup
    rotation and `ask` read them from the cache)."""
    from homelab_ops.observe import observe
    from homelab_ops.predict.run import predict_all
    from homelab_ops.render.observe import observations

    inv = resolve_inventory(app, inventory)
    with app.store() as store:
        result = observe(inv, store, app.settings)
        predict_all(store, app.settings)
    emit(app, [o.model_dump(mode="json") for o in result], observations)


@command(None, "status")
def status_cmd(app: App) -> None:
    """Health of every host from the latest observation, and the cycle's heartbeat
    (reads the store; tells the notifier once when the heartbeat was missed)."""
    from homelab_ops.loop import heartbeat
    from homelab_ops.render.observe import observations

    with app.store() as store:
        beat = heartbeat.check(store, app.settings)
        latest = store.latest_observations()
    if not latest:
        raise HomelabError("nothing observed yet: run `homelab-ops observe`")
    emit(app, list(latest.values()), lambda docs: (observations(docs),
                                                   click.echo(heartbeat.line(beat))))
