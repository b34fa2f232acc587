"""``homelab-ops notify test``: send a test message through every configured URL."""

from __future__ import annotations

import click

from homelab_ops.commands.base import App, command, emit


@click.group()
def notify() -> None:
    """Notifications (apprise URLs in settings ``notifications.urls``)."""


@command(notify, "test")
def notify_test(app: App) -> None:
    """Send a test message to every configured URL; one line per URL (masked)."""
    from homelab_ops.loop.notify import notify as send
    from homelab_ops.render import notify as render

    result = send(app.settings.notifications.urls, "homelab-ops test",
                  "A test message from homelab-ops: notifications reach you.", "info")
    emit(app, result.model_dump(mode="json"), render.deliveries)
    return 0 if result.ok else 1


