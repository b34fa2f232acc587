"""Stacks and patterns: the one declaration of a container.

A *pattern* (patterns/<name>/pattern.yaml) declares its parameters; its jinja2 template
renders the pattern's containers, networks and volumes. A *stack file* (the user's)
draws services from patterns. Both resolve into ``ContainerSpec``: the quadlet unit,
the ``podman run`` arguments, the testinfra health checks and the drift report are all
derived from it, so nothing about a container is described twice.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from homelab_ops.models.base import Strict

# Names reach podman and file names: lowercase, digits, single hyphens; short enough
# that <stack>-<service>-<role> stays a valid container and unit name.
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
NAME_MAX = 30
FULL_NAME_MAX = 63  # <stack>-<service>-<role> and friends: container, unit, network


def _checked(value: str, limit: int) -> str:
    if len(value) > limit or not NAME_RE.match(value):
        raise ValueError(
            f"invalid name {value!r}: use lowercase letters, digits and single hyphens, "
            f"starting with a letter, at most {limit} characters")
    return value


def _name(value: str) -> str:
    return _checked(value, NAME_MAX)


def _full_name(value: str) -> str:
    return _checked(value, FULL_NAME_MAX)


def _line(value: str) -> str:
    """Values end up in unit files and argument lists: one line, no control characters."""
    if any(ord(ch) < 32 for ch in value):
        raise ValueError("must be a single line without control characters")
    return value


def _ip(value: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)"
                         ) from None
    if address.version != 4:
        raise ValueError(f"{value!r}: only IPv4 addresses can be published for now")
    return value


def _abs_path(value: str) -> str:
    if not value.startswith("/") or ".." in value.split("/"):
        raise ValueError(f"{value!r} is not an absolute path without '..'")
    return _line(value)


Name = Annotated[str, AfterValidator(_name)]
FullName = Annotated[str, AfterValidator(_full_name)]
Line = Annotated[str, AfterValidator(_line)]
AbsPath = Annotated[str, AfterValidator(_abs_path)]
IPv4 = Annotated[str, AfterValidator(_ip)]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Port = Annotated[int, Field(ge=1, le=65535)]


# -- the container spec ---------------------------------------------------------------
class PortSpec(Strict):
    host_ip: IPv4 = "127.0.0.1"
    host_port: Port
    container_port: Port
    protocol: Literal["tcp", "udp"] = "tcp"


class MountSpec(Strict):
    """A named volume (``kind: volume``, source is the volume name) or a host path."""

    kind: Literal["volume", "bind"]
    source: Line
    destination: AbsPath
    read_only: bool = False
    # a bind of a system path (/proc, /, a podman socket ...) the pattern or the stack's
    # ``allow_system_paths`` accepted on purpose; not part of the container's shape
    allow_system_path: bool = False


class HealthSpec(Strict):
    """Runs inside the container (podman healthcheck); a string for the image's shell."""

    cmd: Line
    interval: Annotated[str, Field(pattern=r"^[0-9]+(ms|s|m|h)$")] = "30s"


class HttpCheck(Strict):
    """An HTTP GET from the host to a published port must answer 2xx/3xx."""

    container_port: Port
    path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9._~/-]*$")] = "/"


class ContainerShape(Strict):
    """What a container is, as a pattern's template renders it and as it is deployed:
    declared once. ``networks`` and ``depends_on`` name the pattern's own networks and
    roles here; ``ContainerSpec`` narrows them to full names."""

    role: Name = "main"
    image: Line
    command: list[Line] = Field(default_factory=list)
    env: dict[EnvName, Line] = Field(default_factory=dict)
    # environment variable -> secret name; values never enter the spec, only digests
    secret_env: dict[EnvName, Name] = Field(default_factory=dict)
    labels: dict[Line, Line] = Field(default_factory=dict)
    ports: list[PortSpec] = Field(default_factory=list)
    networks: list[Name] = Field(default_factory=list)
    mounts: list[MountSpec] = Field(default_factory=list)  # volume sources: local names
    devices: list[AbsPath] = Field(default_factory=list)
    healthcheck: HealthSpec | None = None
    http_check: HttpCheck | None = None
    depends_on: list[Name] = Field(default_factory=list)
    memory_bytes: Annotated[int, Field(ge=0)] = 0  # 0 = no limit


class ContainerSpec(ContainerShape):
    """One container of a stack, resolved: full names, where it runs, its secrets'
    digests. The quadlet unit, podman-run arguments, checks and drift derive from it."""

    name: FullName  # <stack>-<service>, or <stack>-<service>-<role> for extra roles
    stack: Name
    service: Name
    pattern: Name
    secret_digests: dict[EnvName, str] = Field(default_factory=dict)
    env_file: AbsPath | None = None  # where the secret environment lives on the host
    networks: list[FullName] = Field(default_factory=list)
    depends_on: list[FullName] = Field(default_factory=list)  # container names

    def digest(self) -> str:
        """A digest of everything that shapes the running container. Stored as a label,
        it lets a deploy and drift see at a glance whether the live one was made from
        this spec; secrets enter only as digests."""
        data = self.model_dump(mode="json", exclude={
            "depends_on": True, "mounts": {"__all__": {"allow_system_path"}}})
        data["labels"] = {k: v for k, v in self.labels.items() if k != DIGEST_LABEL}
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


STACK_LABEL = "homelab-ops.stack"
SERVICE_LABEL = "homelab-ops.service"
PATTERN_LABEL = "homelab-ops.pattern"
GRACE_LABEL = "homelab-ops.grace"  # a service's start-up grace, in seconds
DIGEST_LABEL = "homelab-ops.spec-digest"
# who signs users in to a routed web service that authelia does not guard: "own" (the
# app itself, e.g. jellyfin, nextcloud) or "public" (meant to be open, e.g. a static
# site). Without it such a service is a finding of the security audit.
AUTH_LABEL = "homelab-ops.auth"
AUTH_VALUES = ("own", "public")
# first line of every file homelab-ops writes for a stack (units, secret env files)
STACK_MARKER = "# homelab-ops-stack: "


class PatternNetwork(Strict):
    name: Name
    internal: bool = False  # no route out: for databases only their apps reach


class PatternVolume(Strict):
    name: Name
    size_bytes: Annotated[int, Field(ge=0)] = 0  # expected size, for the capacity check


class NetworkSpec(PatternNetwork):
    name: FullName  # <stack>-<network>


class VolumeSpec(PatternVolume):
    name: FullName  # <stack>-<volume>


# -- patterns -------------------------------------------------------------------------
class ParamSpec(Strict):
    type: Literal["str", "int", "bool", "list", "dict", "secret"] = "str"
    description: str = ""
    default: Any = None
    required: bool = False


class PatternDef(Strict):
    """patterns/<name>/pattern.yaml."""

    name: Name
    description: str
    parameters: dict[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")], ParamSpec] = (
        Field(default_factory=dict))


class PatternContainer(ContainerShape):
    """One container as a pattern template renders it (local names, no stack yet)."""


class PatternUnits(Strict):
    """What a pattern's units.yaml.j2 renders to."""

    containers: list[PatternContainer] = Field(min_length=1)
    networks: list[PatternNetwork] = Field(default_factory=list)
    volumes: list[PatternVolume] = Field(default_factory=list)


# -- the user's stack file ------------------------------------------------------------
class SecretSource(Strict):
    """Where the controller reads a secret at deploy time: an environment variable or a
    file (relative paths are relative to the stack file). Never the value itself."""

    env: EnvName | None = None
    file: str | None = None


class StackNetwork(Strict):
    internal: bool = False


def grace_seconds(text: str) -> int:
    """"90s" / "5m" / "1h" -> seconds."""
    return int(text[:-1]) * {"s": 1, "m": 60, "h": 3600}[text[-1]]


class ServiceDecl(Strict):
    pattern: Name
    params: dict[str, Any] = Field(default_factory=dict)
    # start-up grace: the loop does not act on the running service this long after it
    # started ("90s", "5m", "1h"), on top of its healthcheck's start period
    grace: Annotated[str, Field(pattern=r"^[0-9]+(s|m|h)$")] | None = None
    depends_on: list[Name] = Field(default_factory=list)
    networks: list[Name] = Field(default_factory=lambda: ["default"])
    # bind sources (as written in params) that may be system paths, e.g. a podman socket
    allow_system_paths: list[Line] = Field(default_factory=list)


class StackFile(Strict):
    name: Name
    # inventory host names the stack runs on; empty means every host of the inventory
    hosts: list[str] = Field(default_factory=list)
    publish_ip: IPv4 = "127.0.0.1"  # where published ports listen; 0.0.0.0 for everyone
    # stack networks (named <stack>-<name> on the host); "default" always exists
    networks: dict[Name, StackNetwork] = Field(default_factory=dict)
    secrets: dict[Name, SecretSource] = Field(default_factory=dict)
    services: dict[Name, ServiceDecl] = Field(min_length=1)


class DeclaredStack(Strict):
    """A validated stack: every container resolved from its pattern, in start order."""

    name: Name
    source: str  # the stack file, so drift and health can find the declaration again
    hosts: list[str]
    containers: list[ContainerSpec]
    networks: list[NetworkSpec]
    volumes: list[VolumeSpec]
    secrets: dict[Name, SecretSource]
    services: dict[Name, Name]  # service -> pattern


# -- what a deploy did ----------------------------------------------------------------
class HostDeploy(BaseModel):
    """One host's part of a deploy: what changes (or would), and the error if it failed
    (the failing operation and the host's own message, e.g. podman's)."""

    changes: int
    changed: list[str] = Field(default_factory=list)
    ok: bool = True
    error: str = ""


class DeployResult(BaseModel):
    """A deploy as a value: the CLI renders it and the autonomous loop records it, so a
    failing host is an outcome, never an exception."""

    stack: str
    dry_run: bool
    hosts: dict[str, HostDeploy]

    @property
    def ok(self) -> bool:
        return all(h.ok for h in self.hosts.values())
