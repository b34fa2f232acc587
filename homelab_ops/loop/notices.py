"""What the cycle tells a person, through the notifier: one message before it acts on
"notify, then execute" decisions, and one digest at the end (alerts, approvals
waiting, actions refused, failed actions, the breaker, incidents resolved). At most
one message per incident per service within ``renotify_hours``; an incident nobody
was told about ends quietly too. A failing notifier never stops the cycle."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from homelab_ops.loop import incidents
from homelab_ops.loop.decide import Situation
from homelab_ops.models.decision import ActionRecord, Decision, Planned
from homelab_ops.models.settings import Settings
from homelab_ops.store import Store


class Notices:
    def __init__(self, store: Store, settings: Settings, sit: Situation) -> None:
        self.store, self.settings, self.sit = store, settings, sit
        self.lines: list[str] = []
        self.level = "info"
        self.sent: list[dict[str, Any]] = []
        self.events = 0  # things worth telling, before deduplication
        self.messages = 0  # messages they became

    def before(self, planned: list[Planned]) -> None:
        """Announce the decisions the matrix says to notify about before running."""
        ahead = [p for p in planned if p.verdict == "notified"]
        if ahead:
            self._send("homelab-ops is about to act", [
                f"{p.finding.host}: {p.playbook} {p.finding.subject} — {p.finding.message} "
                f"({p.reason})" for p in ahead], "warning")

    def decided(self, p: Planned) -> bool:
        """Collect an alert or approval request unless it was sent recently; True when
        it will be sent (recorded with the decision, so the next cycle knows)."""
        if p.verdict not in ("alerted", "queued", "refused"):
            return False
        self.events += 1
        if self._recent(p):
            return False
        what = {"queued": "needs approval", "alerted": "alert",
                "refused": "not done"}[p.verdict]
        self.lines.append(f"{what}: {p.finding.host}: {p.finding.message} ({p.reason})")
        self.level = "warning" if self.level == "info" else self.level
        return True

    def acted(self, p: Planned, record: ActionRecord) -> None:
        self.events += record.outcome == "failed" or p.verdict == "notified"
        if record.outcome == "failed":
            self.lines.append(f"FAILED: {p.finding.host}: {p.playbook} {p.finding.subject}: "
                              f"{record.error}")
            self.level = "failure"
        elif p.verdict == "notified":
            self.lines.append(f"done: {p.finding.host}: {p.playbook} {p.finding.subject}")

    def resolved(self, lines: list[str]) -> None:
        """Incidents that ended (healthy for ``loop.healthy_minutes``): told once each."""
        self.events += len(lines)
        self.lines += [f"resolved: {line}" for line in lines]

    def breaker(self, why: str) -> None:
        self.events += 1
        self.lines.append(why)
        self.level = "failure"

    def send(self) -> list[dict[str, Any]]:
        if self.lines:
            self._send(f"homelab-ops: {len(self.lines)} thing(s) from the cycle",
                       self.lines, self.level)
        return self.sent

    def _recent(self, p: Planned) -> bool:
        """At most one message per incident per service per window: told already
        about this service since its incident opened and within ``renotify_hours``."""
        f = p.finding
        return told(self.sit.log, f.host, f.subject, self._since(f.host, f.subject))

    def _since(self, host: str, subject: str) -> float:
        inc = incidents.open_incident(self.sit.incidents, host, subject)
        window = self.sit.now - self.settings.loop.renotify_hours * 3600
        return max(window, inc.opened) if inc else window

    def _send(self, title: str, lines: list[str], level: str) -> None:
        from homelab_ops.loop.notify import notify

        self.messages += 1  # composed (sent where URLs are configured)
        if not self.settings.notifications.urls:
            return
        result = notify(self.settings, title, "\n".join(lines), level)
        self.sent.append({"title": title, "lines": len(lines), **result.model_dump()})


def told(log: Iterable[Decision], host: str, subject: str, since: float) -> bool:
    """A message about ``subject`` was sent (recorded with its decision) since then."""
    return any(d.detail.get("notify") and d.host == host and d.subject == subject
               and d.ts >= since for d in log)
