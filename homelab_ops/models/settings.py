"""Agent settings: where state lives, what is never touched, when to worry.

Settings come from a TOML file (``--config``, ``$HOMELAB_OPS_CONFIG`` or
``~/.config/homelab-ops/settings.toml`` when it exists). The state directory is chosen,
strongest first, by ``--state-dir``, ``$HOMELAB_OPS_STATE_DIR``, the file's
``state_dir`` and the default ``~/.local/state/homelab-ops``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from homelab_ops.errors import InputError, read_text, validate_input
from homelab_ops.locations import DEFAULT_STATE_DIR, STATE_DIR_ENV, config_path, env_path
from homelab_ops.models.base import Strict

Percent = Annotated[float, Field(gt=0, le=100)]
ServiceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]


class Thresholds(Strict):
    """Levels that lower the health score and trigger findings."""

    disk_warn_pct: Percent = 80.0
    disk_crit_pct: Percent = 90.0
    # a critical level of its own for some mounts, e.g. {"/srv/backup" = 95}
    disk_crit_pct_by_mount: dict[str, Percent] = Field(default_factory=dict)
    memory_pressure_pct: Percent = 90.0
    restart_loop_count: Annotated[int, Field(ge=1)] = 3

    @model_validator(mode="after")
    def _warn_below_crit(self) -> Thresholds:
        if self.disk_warn_pct >= self.disk_crit_pct:
            raise ValueError("disk_warn_pct must be below disk_crit_pct")
        return self

    def crit_pct_for(self, mountpoint: str) -> float:
        return self.disk_crit_pct_by_mount.get(mountpoint, self.disk_crit_pct)


Minutes = Annotated[float, Field(ge=0)]
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"


class LoopSettings(Strict):
    """The autonomous cycle's gates and detectors (``[loop]`` in the settings file)."""

    # no second action of one type on one service within this many minutes
    cooldown_minutes: dict[str, Minutes] = Field(default_factory=lambda: {
        "restart": 30, "restart-leaking": 60, "free-disk": 360,
        "rotate-snapshots": 720, "redeploy": 60})
    # no second action of any type on one service within this many minutes
    service_cooldown_minutes: Minutes = 10
    # restarts of one service allowed per incident within restart_budget_hours, then
    # exactly one escalation (queue + alert) for that incident
    restart_budget: Annotated[int, Field(ge=1)] = 3
    restart_budget_hours: Annotated[float, Field(gt=0)] = 24
    # within one incident, attempts on a service are spaced by an exponential backoff:
    # after n attempts the next waits base x 2^(n-1) minutes, at most cap
    backoff_base_minutes: Minutes = 30
    backoff_cap_minutes: Minutes = 480
    # an incident ends once its service has had no finding for this many minutes: the
    # backoff and the budget start again from the base, and "resolved" is told
    healthy_minutes: Annotated[float, Field(gt=0)] = 60
    # a running container whose last log lines say one of these (case-insensitive) is
    # recovering (e.g. a database replaying its journal): no action on it while it
    # does, for at most recovery_max_minutes after it started
    recovery_patterns: tuple[str, ...] = ("recovery in progress", "in recovery mode",
                                          "crash recovery", "recovering")
    recovery_max_minutes: Minutes = 30
    # consecutive failed actions that open the circuit breaker (until `ops resume`)
    breaker_failures: Annotated[int, Field(ge=1)] = 3
    # consecutive unhealthy observations before an unhealthy container is acted on
    unhealthy_observations: Annotated[int, Field(ge=1)] = 2
    # act on a leak predicted to reach the memory limit within this many hours
    leak_horizon_hours: Annotated[float, Field(gt=0)] = 24
    # act on a disk predicted to cross its critical threshold within this many days
    disk_horizon_days: Annotated[float, Field(gt=0)] = 3
    # act only inside these local-time windows ("HH:MM-HH:MM"); empty: any time
    maintenance_windows: tuple[Annotated[str, Field(pattern=HHMM)], ...] = ()
    # run an action when no pre-action snapshot can cover the service's data
    act_without_snapshot: bool = False
    # what a finding on a protected service becomes: an alert, or a queued action
    protected_action: Literal["alert", "queue"] = "alert"
    # stack patterns whose services count as medium risk at least (data they own)
    medium_risk_patterns: tuple[str, ...] = ("database", "app-database")
    # reuse an observation younger than this instead of probing again (an observe
    # timer just ran); short, so a cycle run by hand sees what just broke
    fresh_observation_seconds: Annotated[float, Field(ge=0)] = 30
    # do not repeat the same alert within this many hours
    renotify_hours: Annotated[float, Field(ge=0)] = 24
    # how often the cycle runs (the heartbeat is missed after two periods without a
    # successful cycle); unset: the deployed cycle timer's interval (daily)
    cycle_period_minutes: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _cap_above_base(self) -> LoopSettings:
        if self.backoff_cap_minutes < self.backoff_base_minutes:
            raise ValueError("backoff_cap_minutes must not be below backoff_base_minutes")
        return self


class Notifications(Strict):
    """Where the loop tells the user what it did: apprise URLs (``ntfy://``, ``gotify://``,
    ``mailto://``, ``json://`` ...). Secrets in them are masked wherever they are shown."""

    urls: tuple[str, ...] = ()
    # only messages at this level or above are sent
    min_level: Literal["info", "warning", "failure"] = "info"

    @field_validator("urls")
    @classmethod
    def _known_schemes(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        for url in urls:
            if not re.match(r"^[a-z][a-z0-9+]*://\S+$", url):
                raise ValueError(f"not an apprise URL (scheme://...): {mask_url(url)}")
        return urls

    @field_serializer("urls", when_used="json")
    def _masked(self, urls: tuple[str, ...]) -> list[str]:
        """Shown (``settings --json``, logs) only masked: URLs carry tokens."""
        return [mask_url(u) for u in urls]


def mask_url(url: str) -> str:
    """The URL with credentials and path (tokens live there) hidden:
    ``ntfy://user:pw@host/topic`` -> ``ntfy://***@host/***``."""
    m = re.match(r"^([a-z][a-z0-9+]*://)([^/?#]*)(.*)$", url)
    if not m:
        return "***"
    scheme, authority, rest = m.groups()
    hostpart = ("***@" if "@" in authority else "") + authority.rsplit("@", 1)[-1]
    return scheme + hostpart + ("/***" if rest.strip("/") else "")


class PrometheusHistory(Strict):
    """Which series prediction reads from Prometheus (``[prometheus]``; used when
    ``prometheus_url`` is set). Each metric is a PromQL selector, so a user can filter
    (``node_filesystem_size_bytes{fstype!="tmpfs"}``) or use recording rules."""

    # cadvisor's working set: what the kernel counts against a memory limit
    container_memory: str = 'container_memory_working_set_bytes{name!=""}'
    filesystem_size: str = "node_filesystem_size_bytes"
    # used = size - free, as df and the store count it (avail also leaves out the blocks
    # reserved for root, which would count them as used)
    filesystem_free: str = "node_filesystem_free_bytes"
    # the label naming the host (a trailing :port is dropped, so node_exporter's and
    # cadvisor's instances of one machine are one host), the container and the mount
    host_label: str = "instance"
    container_label: str = "name"
    mountpoint_label: str = "mountpoint"
    # the finest query_range step asked for (coarser when a window needs more points
    # than Prometheus returns in one answer)
    step_seconds: Annotated[float, Field(gt=0)] = 60.0
    timeout_seconds: Annotated[float, Field(gt=0)] = 10.0


class Settings(Strict):
    """Everything the agent reads from its settings file."""

    state_dir: Path = DEFAULT_STATE_DIR
    # pyinfra inventory the agent works on; None means the sandbox lab's when it exists
    inventory: Path | None = None
    protected_services: tuple[ServiceName, ...] = ("traefik", "authelia")
    thresholds: Thresholds = Thresholds()
    loop: LoopSettings = LoopSettings()
    notifications: Notifications = Notifications()
    # a node_exporter textfile (``*.prom``) the cycle and backup runs rewrite
    metrics_textfile: Path | None = None
    # read container memory and filesystem history from this Prometheus as well as the
    # store (its series win where both have one), e.g. "http://127.0.0.1:9090"
    prometheus_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")] | None = None
    prometheus: PrometheusHistory = PrometheusHistory()
    # where `report --publish` (the weekly timer) writes the report; default
    # <state_dir>/reports
    report_dir: Path | None = None

    @field_serializer("prometheus_url", when_used="json")
    def _masked_prometheus(self, url: str | None) -> str | None:
        """A URL may carry basic-auth credentials: shown only masked."""
        return None if url is None else mask_url(url)

    @field_validator("metrics_textfile")
    @classmethod
    def _prom_suffix(cls, path: Path | None) -> Path | None:
        if path is not None and path.suffix != ".prom":
            raise ValueError("node_exporter's textfile collector reads only *.prom files")
        return path.expanduser() if path is not None else None

    @property
    def lab_dir(self) -> Path:
        return self.state_dir / "lab"

    @property
    def reports_dir(self) -> Path:
        return (self.report_dir or self.state_dir / "reports").expanduser()


def load_settings(config: Path | None = None, state_dir: Path | None = None) -> Settings:
    """Read settings, apply the state-dir overrides and return a validated model.

    Raises InputError naming the file and the field for anything invalid.
    """
    path, explicit = config_path(config)
    raw: dict = {}
    if path.exists() or explicit:
        raw = _read_toml(path)
    settings = validate_input(Settings, raw, path)
    chosen = state_dir or env_path(STATE_DIR_ENV) or settings.state_dir
    return settings.model_copy(update={"state_dir": chosen.expanduser().absolute()})


def _read_toml(path: Path) -> dict:
    text = read_text(path, missing="settings file does not exist")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, None, f"not valid TOML: {exc}") from None
