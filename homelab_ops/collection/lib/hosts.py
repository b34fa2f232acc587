"""What one host makes of a declared container: where its units go, its backend (systemd
or plain ``podman run``, lib/backend.py), and the host's overrides (the lab's stand-in
image, BTRFS pool paths).

The result is still a ``ContainerSpec`` — the effective one for that host — so units,
``podman run`` arguments, health checks and drift all derive from the same object.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from homelab_ops.collection.lib.backend import Backend, choose
from homelab_ops.models.inventory import QUADLET_DIR_ROOT, QUADLET_DIR_USER, host_value
from homelab_ops.models.stack import (
    DIGEST_LABEL,
    ContainerSpec,
    HealthSpec,
    HttpCheck,
    MountSpec,
)

POOL_PREFIX = "pool:"
LAB_PORT_ENV = "LAB_HTTP_PORT"  # the stand-in image serves HTTP on this port
# Bind-mounting one of these (or anything inside, or a parent like / or /var) hands a
# container the host: refused unless the stack allows that mount by name
# (``allow_system_paths``) or the pattern marks its own mount (``allow_system_path``).
SYSTEM_PATHS = ("/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/run", "/var/run",
                "/usr", "/bin", "/sbin", "/lib", "/lib64", "/var/lib/containers",
                "/var/lib/homelab-ops")
STATE_SUBDIR = ".local/state/homelab-ops"  # the agent's default state directory


@dataclass(frozen=True)
class HostTarget:
    name: str
    quadlet_dir: str
    backend: Backend
    lab_image: str | None = None
    pools: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)  # pyinfra's _env for podman
    protected: tuple[str, ...] = SYSTEM_PATHS  # bind sources refused (see SYSTEM_PATHS)

    @property
    def secrets_dir(self) -> str:
        """Beside the units, never among them: quadlet reads only unit suffixes."""
        return posixpath.join(self.quadlet_dir, "homelab-ops-secrets")

    def env_file(self, container: str) -> str:
        return posixpath.join(self.secrets_dir, f"{container}.env")


def host_target(name: str, data: Mapping[str, Any], facts: Mapping[str, Any]) -> HostTarget:
    """``data``: the host's data; ``facts``: the QuadletHost fact (uid, home, systemd).

    Host data ``quadlet_dir`` wins; the lab keeps its units under its own directory;
    otherwise root uses /etc/containers/systemd and users ~/.config/containers/systemd.
    The backend is ``backend.choose``'s."""
    if explicit := host_value(data, "quadlet_dir"):
        quadlet_dir = str(explicit)
    elif lab_dir := host_value(data, "lab_dir"):
        quadlet_dir = posixpath.join(str(lab_dir), "quadlet")
    elif facts["uid"] == 0:
        quadlet_dir = QUADLET_DIR_ROOT
    else:
        quadlet_dir = posixpath.join(facts["home"], QUADLET_DIR_USER)
    protected = (*SYSTEM_PATHS, posixpath.join(facts["home"], STATE_SUBDIR),
                 *([str(state_dir())] if name.startswith("@local") else []))
    return HostTarget(
        name=name, quadlet_dir=quadlet_dir, backend=choose(data, lambda: facts),
        lab_image=host_value(data, "lab_image"),
        pools=dict(host_value(data, "btrfs_pools")),
        env=dict(host_value(data, "_env")), protected=protected,
    )


def state_dir() -> str:
    """This process's state directory, protected on @local hosts."""
    from homelab_ops.locations import quick_state_dir

    return str(quick_state_dir(None, None) or "/var/lib/homelab-ops")


def for_host(spec: ContainerSpec, target: HostTarget) -> ContainerSpec:
    """The effective spec on ``target``, labelled with its own digest."""
    update: dict[str, Any] = {
        "mounts": [m.model_copy(update={"source": bind_source(m, target)})
                   if m.kind == "bind" else m for m in spec.mounts],
        "env_file": target.env_file(spec.name) if spec.secret_env else None,
    }
    if target.lab_image:
        update |= _stand_in(spec, target.lab_image)
    effective = spec.model_copy(update=update)
    digest = effective.digest()
    return effective.model_copy(update={"labels": {**effective.labels, DIGEST_LABEL: digest}})


def bind_source(mount: MountSpec, target: HostTarget) -> str:
    """The mount's source on ``target``. A path inside one of the host's BTRFS pools is
    data the host declared; any other path is refused when it is, lies inside or holds
    a protected path, unless the mount says ``allow_system_path``."""
    path = resolve_pool(mount.source, target)
    if mount.allow_system_path or any(_inside(path, p) for p in target.pools.values()):
        return path
    for protected in target.protected:
        if _inside(path, protected) or _inside(protected, path):
            raise ValueError(
                f"bind source {mount.source!r} exposes the system path {protected} of "
                f"host {target.name}: refused (list it under the service's "
                "allow_system_paths if you mean it)")
    return path


def _inside(path: str, root: str) -> bool:
    path, root = posixpath.normpath(path), posixpath.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def resolve_pool(source: str, target: HostTarget) -> str:
    """``pool:<pool>/<path>`` -> the pool's mount point on this host + path. Any bind
    source must end up an absolute path without ``:`` (podman's -v separator; a bare
    word would silently become a named volume)."""
    path = source
    if source.startswith(POOL_PREFIX):
        pool, _, rest = source[len(POOL_PREFIX):].partition("/")
        if pool not in target.pools:
            raise ValueError(f"{source}: host {target.name} has no BTRFS pool {pool!r} "
                             f"(host data btrfs_pools: {sorted(target.pools)})")
        path = posixpath.join(target.pools[pool], rest) if rest else target.pools[pool]
    if not path.startswith("/") or ":" in path or ".." in path.split("/"):
        raise ValueError(f"bind source {source!r} is not an absolute path "
                         "(or pool:<pool>/<path>) without ':' and '..'")
    return path


def _stand_in(spec: ContainerSpec, image: str) -> dict[str, Any]:
    """The lab runs its stand-in image, which serves HTTP on one port from /www: keep the
    real image's ports, but serve the first of them, check health with wget and check
    HTTP at "/". The command belongs to the real image and is dropped."""
    ports = [p.container_port for p in spec.ports]
    port = spec.http_check.container_port if spec.http_check else (ports[0] if ports else 80)
    out: dict[str, Any] = {"image": image, "command": [],
                           "env": {**spec.env, LAB_PORT_ENV: str(port)}}
    if spec.healthcheck:
        out["healthcheck"] = HealthSpec(cmd=f"wget -q -O /dev/null http://127.0.0.1:{port}/",
                                        interval=spec.healthcheck.interval)
    if spec.http_check:
        out["http_check"] = HttpCheck(container_port=port, path="/")
    return out
