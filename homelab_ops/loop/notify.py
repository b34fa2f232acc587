"""Tell the user through apprise (ntfy, gotify, e-mail, webhooks ... by URL).

A notifier that fails or cannot be reached is a failed entry in the result, never an
exception: telling is best effort and must not stop the loop. URLs are shown masked
everywhere (results, logs), because they carry tokens and passwords.
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel

from homelab_ops.models.settings import Notifications, Settings, mask_url

Level = Literal["info", "warning", "failure"]
LEVELS: tuple[Level, ...] = ("info", "warning", "failure")


class Delivery(BaseModel):
    url: str                    # masked
    sent: bool
    error: str | None = None    # one line


class NotifyResult(BaseModel):
    deliveries: list[Delivery] = []
    skipped: str | None = None  # why nothing was sent (no URLs, below min_level)

    @property
    def ok(self) -> bool:
        return all(d.sent for d in self.deliveries)


def notify(settings_or_urls: Settings | Notifications | tuple[str, ...] | list[str],
           title: str, body: str, level: Level) -> NotifyResult:
    """Send one message to every URL, each on its own, so one failure hides no other."""
    config = _config(settings_or_urls)
    if not config.urls:
        return NotifyResult(skipped="no notification URLs configured")
    if LEVELS.index(level) < LEVELS.index(config.min_level):
        return NotifyResult(skipped=f"{level} is below notifications.min_level")
    return NotifyResult(deliveries=[_send(url, title, body, level) for url in config.urls])


def _config(value) -> Notifications:
    if isinstance(value, Settings):
        return value.notifications
    if isinstance(value, Notifications):
        return value
    return Notifications(urls=tuple(value))


def _send(url: str, title: str, body: str, level: Level) -> Delivery:
    import apprise

    shown = mask_url(url)
    sender = apprise.Apprise()
    try:
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as log:
            if not sender.add(url):
                return Delivery(url=shown, sent=False, error="apprise cannot use this URL")
            sent = sender.notify(title=title, body=body, notify_type=_type(level))
    except Exception as exc:  # a plugin's own failure: one line, never a crash
        return Delivery(url=shown, sent=False, error=_line(str(exc), url))
    if sent:
        return Delivery(url=shown, sent=True)
    return Delivery(url=shown, sent=False,
                    error=_line(log.getvalue(), url) or "the notifier refused the message")


def _type(level: Level):
    import apprise

    return {"info": apprise.NotifyType.INFO, "warning": apprise.NotifyType.WARNING,
            "failure": apprise.NotifyType.FAILURE}[level]


def _line(text: str, url: str) -> str:
    """The last non-empty line of apprise's log, with the URL's secrets masked."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1].replace(url, mask_url(url))[:300] if lines else ""
