"""``homelab-ops predict``: days until each filesystem fills and memory leaks per
container, from the cache when fresh (instant), else recomputed from history."""

from __future__ import annotations

from typing import Any

import click

from homelab_ops.commands.base import App, command, emit


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--refresh", is_flag=True, help="Recompute even if the cache is fresh.")
@click.pass_context
def predict(ctx: click.Context, as_json: bool, refresh: bool) -> None:
    """Predict disk exhaustion and memory leaks (cached; --refresh recomputes)."""
    if ctx.invoked_subcommand is None:
        app: App = ctx.obj
        app.json = as_json
        from homelab_ops.render import predict as render

        emit(app, _report(app, refresh), render.predictions)


@command(predict, "capacity")
@click.option("--host", required=True, help="Host the stack would run on.")
@click.option("--memory", "memory_mb", type=float, default=0.0, help="Memory needed (MB).")
@click.option("--disk", "disks", multiple=True, metavar="MOUNT=GB",
              help="Disk space needed on a mountpoint (GB); repeatable.")
@click.option("--days", type=float, default=7.0, show_default=True,
              help="How far ahead it must still fit.")
def predict_capacity(app: App, host: str, memory_mb: float, disks: tuple[str, ...],
                     days: float) -> None:
    """Will a stack needing this much memory and disk fit on HOST?"""
    from homelab_ops.predict.run import capacity_check_for
    from homelab_ops.render import predict as render

    need = {}
    for item in disks:
        mount, sep, gb = item.rpartition("=")
        try:
            need[mount] = float(gb) * 1e9
        except ValueError:
            raise click.BadParameter(f"{item!r} is not MOUNT=GB", param_hint="--disk") from None
        if not sep or not mount:
            raise click.BadParameter(f"{item!r} is not MOUNT=GB", param_hint="--disk")
    req = _requirements(host=host, memory_bytes=memory_mb * 1e6, disk_bytes=need,
                        horizon_days=days)
    with app.store() as store:
        report = capacity_check_for(store, app.settings, req)
    emit(app, report.model_dump(), render.capacity)
    if not report.fits:
        raise click.exceptions.Exit(1)


_OPTION_OF = {"memory_bytes": "--memory", "disk_bytes": "--disk", "horizon_days": "--days"}


def _requirements(**fields: Any):
    """The model validates the numbers (it is the one declaration of what is allowed);
    a bad one is reported against the option it came from."""
    from pydantic import ValidationError

    from homelab_ops.models.prediction import CapacityRequirements

    try:
        return CapacityRequirements(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        field, *key = err["loc"]
        msg = "a mountpoint is an absolute path" if "[key]" in key else err["msg"]
        mount = f"{key[0]}: " if key else ""
        raise click.BadParameter(f"{mount}{msg}", param_hint=_OPTION_OF[field]) from None


def _report(app: App, refresh: bool) -> dict[str, Any]:
    from homelab_ops.predict.run import cached_predictions, predict_all

    with app.store() as store:
        if refresh:
            report, cached = predict_all(store, app.settings), False
        else:
            report, cached = cached_predictions(store, app.settings)
    return {**report.model_dump(), "cached": cached}


