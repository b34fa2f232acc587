"""What one probe of one host sees. The observer builds it, the store keeps it as a JSON
document, and events, the health score, queries and drift all read this one shape."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PortMapping(Shape):
    host_ip: str = "0.0.0.0"  # every interface
    host_port: int
    container_port: int
    protocol: str = "tcp"


class MountObs(Shape):
    source: str
    destination: str
    rw: bool = True
    type: str = "bind"


class ContainerObs(Shape):
    name: str
    id: str
    image: str
    state: str  # podman's State.Status: running, exited, created, paused, ...
    health: str | None = None  # healthy, unhealthy, starting; None without a healthcheck
    health_start_period_s: float = 0.0  # its healthcheck's start period (0: none)
    # containers (ids or names) it cannot run without: the one whose network namespace
    # it joins (``--network container:X``) and its ``--requires``
    needs: list[str] = Field(default_factory=list)
    # the last log lines of a running container whose healthcheck fails or is starting
    log_tail: list[str] = Field(default_factory=list)
    restart_count: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    mem_bytes: int | None = None
    mem_limit_bytes: int = 0  # 0 = no limit
    cpu_pct: float | None = None
    networks: list[str] = Field(default_factory=list)
    ports: list[PortMapping] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    # environment as name -> sha256 prefix of the value: drift can compare, secrets stay out
    env_digest: dict[str, str] = Field(default_factory=dict)
    mounts: list[MountObs] = Field(default_factory=list)
    command: list[str] = Field(default_factory=list)
    privileged: bool = False  # --privileged: every capability and device of the host

    @property
    def running(self) -> bool:
        return self.state == "running"


class NetworkObs(Shape):
    name: str
    driver: str = ""
    subnets: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)


class UnitObs(Shape):
    name: str
    scope: Literal["system", "user"] = "system"
    load: str = ""
    active: str = ""
    sub: str = ""


class TimerObs(Shape):
    name: str
    scope: Literal["system", "user"] = "system"
    next: str | None = None
    last: str | None = None
    activates: str | None = None


class BtrfsUsage(Shape):
    device_size: int
    allocated: int
    unallocated: int
    free_estimated: int


class FilesystemObs(Shape):
    mountpoint: str
    device: str
    fstype: str
    size_bytes: int
    used_bytes: int
    avail_bytes: int
    btrfs: BtrfsUsage | None = None

    @property
    def used_pct(self) -> float:
        """Usage as df computes it: used / (used + available)."""
        usable = self.used_bytes + self.avail_bytes
        return 100.0 * self.used_bytes / usable if usable else 0.0


class HostStats(Shape):
    cpu_count: int
    load1: float
    load5: float
    load15: float
    mem_total_bytes: int
    mem_available_bytes: int
    swap_total_bytes: int = 0
    swap_free_bytes: int = 0
    uptime_s: float = 0.0

    @property
    def mem_used_bytes(self) -> int:
        return self.mem_total_bytes - self.mem_available_bytes

    @property
    def swap_used_bytes(self) -> int:
        return self.swap_total_bytes - self.swap_free_bytes


class HealthReason(Shape):
    code: str  # container_down, unhealthy, restart_loop, disk_warn, disk_crit, ...
    subject: str
    penalty: int
    message: str


class HealthScore(Shape):
    score: int = Field(ge=0, le=100)
    reasons: list[HealthReason] = Field(default_factory=list)


class ContainerEventObs(Shape):
    """One entry of podman's own event log: what happened between two observations,
    which their difference alone cannot tell (a crash systemd restarted at once)."""

    name: str
    status: Literal["start", "died", "oom"]
    ts: float
    exit_code: int | None = None  # died


class PodmanEventLog(Shape):
    """podman's event log read from the previous observation's ``until`` up to this
    one's: the next observation reads on from ``until``, so no entry is read twice."""

    until: float
    events: list[ContainerEventObs] = Field(default_factory=list)


class ProbeCost(Shape):
    round_trips: int  # commands sent to the host (each is one SSH exec)
    seconds: float


class Observation(Shape):
    host: str
    ts: datetime
    reachable: bool
    error: str | None = None
    systemd: bool = False
    containers: list[ContainerObs] = Field(default_factory=list)
    networks: list[NetworkObs] = Field(default_factory=list)
    units: list[UnitObs] = Field(default_factory=list)
    timers: list[TimerObs] = Field(default_factory=list)
    filesystems: list[FilesystemObs] = Field(default_factory=list)
    stats: HostStats | None = None
    probe_errors: list[str] = Field(default_factory=list)
    # None: not read (podman logs to the journal where systemd runs; elsewhere the
    # events are derived from the observations alone)
    event_log: PodmanEventLog | None = None
    cost: ProbeCost | None = None
    health: HealthScore | None = None

    def container(self, name: str) -> ContainerObs | None:
        return next((c for c in self.containers if c.name == name), None)
