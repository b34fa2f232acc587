"""``homelab-ops store quarantine``: the only command that moves a damaged state store
aside (no other command ever overwrites or repairs one)."""

from __future__ import annotations

import click

from homelab_ops.commands.base import App, command, emit


@click.group("store")
def store_group() -> None:
    """The state store (state.db under the state directory)."""


@command(store_group, "quarantine")
@click.option("--force", is_flag=True, help="Move it aside even if it opens cleanly.")
def store_quarantine(app: App, force: bool) -> None:
    """Move a damaged state.db aside (state.db.damaged-TIME); the next command starts
    a new, empty store. History in the old file is kept there for recovery."""
    from homelab_ops.store import Store, StoreError, quarantine

    state_dir = app.settings.state_dir
    if not force:
        try:
            with Store.open(state_dir) as store:
                ok = store.db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        except StoreError:
            ok = False
        if ok:
            raise click.ClickException(f"{state_dir / 'state.db'} is not damaged: "
                                       "nothing moved (--force moves it anyway)")
    moved = [str(p) for p in quarantine(state_dir)]
    emit(app, {"moved": moved}, lambda d: click.echo(
        "\n".join(f"moved aside: {p}" for p in d["moved"]) or "no state store here"))
