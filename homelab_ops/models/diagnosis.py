"""What the read-only routines report: a service's diagnosis, the security audit and
the network check. Declared once: the facts fill the views and looks, the routines
turn them into these results, and ``--json`` is their ``model_dump``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from homelab_ops.models.finding import Finding
from homelab_ops.models.observation import ContainerEventObs, ContainerObs, Shape


class HostFailure(Shape):
    """A host the routine could not read: one line, never a traceback."""

    host: str
    error: str

    def line(self) -> str:
        return f"{self.host}: {self.error}"


# -- diagnose -------------------------------------------------------------------------
class HealthRun(Shape):
    """One run of the container's podman healthcheck (podman keeps the last few)."""

    start: datetime | None = None
    exit_code: int
    output: str = ""


class ContainerView(Shape):
    """A fresh look at one container on one host (the ContainerLook fact)."""

    names: list[str] = Field(default_factory=list)  # every container on the host
    container: ContainerObs | None = None  # None: not on this host
    # State.ExitCode even while it runs again: what a crash loop's last run exited with
    last_exit_code: int | None = None
    health_log: list[HealthRun] = Field(default_factory=list)
    log_tail: list[str] = Field(default_factory=list)
    events: list[ContainerEventObs] = Field(default_factory=list)  # podman's, last hour


class Diagnosis(Shape):
    service: str
    host: str
    cause: str | None = None  # one line when the evidence names one
    findings: list[Finding] = Field(default_factory=list)  # the first one is the cause
    container: ContainerObs
    last_exit_code: int | None = None
    health_log: list[HealthRun] = Field(default_factory=list)
    log_tail: list[str] = Field(default_factory=list)
    events: list[dict] = Field(default_factory=list)  # the store's, newest first
    podman_events: list[ContainerEventObs] = Field(default_factory=list)  # last hour
    restarts_1h: int = 0  # deaths and restarts in the last hour (store or podman)
    ooms_1h: int = 0
    leak: dict | None = None  # the cached leak prediction of this container
    drift: list[str] = Field(default_factory=list)  # lines of its stack's drift
    notes: list[str] = Field(default_factory=list)  # what could not be looked at, and why
    failures: list[HostFailure] = Field(default_factory=list)


# -- audit ----------------------------------------------------------------------------
Severity = Literal["high", "medium", "low"]
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


class AuditFinding(Finding):
    """A security finding: the Finding (code, subject = the container, message = what)
    plus how bad it is and how to fix it."""

    severity: Severity
    fix: str


class SecretFileLook(Shape):
    """One entry of a secrets directory (the SecretFiles fact)."""

    path: str
    kind: Literal["file", "directory", "other"]
    mode: int  # permission bits, e.g. 0o600
    owner: str = ""


class AuditReport(Shape):
    hosts: list[str] = Field(default_factory=list)  # the hosts that were audited
    containers: int = 0
    secret_files: int = 0
    findings: list[AuditFinding] = Field(default_factory=list)
    failures: list[HostFailure] = Field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings and not self.failures


# -- netcheck -------------------------------------------------------------------------
class Attachment(Shape):
    """A container on one network: its address there and the names DNS knows it by."""

    network: str
    address: str = ""
    aliases: list[str] = Field(default_factory=list)


class NetContainer(Shape):
    name: str
    running: bool
    attachments: list[Attachment] = Field(default_factory=list)
    ports: list[int] = Field(default_factory=list)  # TCP ports it is known to serve


class NetworkLook(Shape):
    name: str
    dns_enabled: bool = False
    internal: bool = False
    subnets: list[str] = Field(default_factory=list)


class NetView(Shape):
    """Every container's attachments and every network (the NetworkView fact)."""

    containers: list[NetContainer] = Field(default_factory=list)
    networks: list[NetworkLook] = Field(default_factory=list)


class PortProbe(Shape):
    port: int
    result: Literal["open", "refused", "no answer"]


class PeerCheck(Shape):
    peer: str
    network: str
    address: str = ""
    dns_names: list[str] = Field(default_factory=list)  # what DNS on the network serves
    resolved: list[str] | None = None  # addresses the service's resolver gave (None: untried)
    dns_ok: bool | None = None
    dns_said: str = ""  # the resolver's last words when it gave no address
    ping: bool | None = None
    ports: list[PortProbe] = Field(default_factory=list)
    reachable: bool | None = None  # None: could not tell (see note)
    note: str = ""


class NetCheck(Shape):
    service: str
    host: str
    networks: list[NetworkLook] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)  # found inside the container
    peers: list[PeerCheck] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    failures: list[HostFailure] = Field(default_factory=list)
