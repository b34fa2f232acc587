"""The two renderings of a ``ContainerSpec``: quadlet unit files (hosts with systemd)
and ``podman run`` arguments (hosts without, like the lab). Both read the same fields,
so a container runs the same either way."""

from __future__ import annotations

from functools import cache

import jinja2

from homelab_ops.locations import patterns_dir
from homelab_ops.models.stack import ContainerSpec, NetworkSpec, VolumeSpec


def sd_literal(value: object) -> str:
    """A value systemd reads literally: ``%`` is its specifier character, so double it."""
    return str(value).replace("%", "%%")


def sd_quote(value: str) -> str:
    """Quote one word for a unit file the way systemd (and quadlet) unquote it."""
    value = sd_literal(value)
    if value and not any(ch in value for ch in ' \t"\'\\;'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(patterns_dir() / "_quadlet")),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False,
    )
    env.filters["sdquote"] = sd_quote
    env.filters["sdliteral"] = sd_literal
    return env


def render_units(stack: str, containers: list[ContainerSpec], networks: list[NetworkSpec],
                 volumes: list[VolumeSpec]) -> dict[str, str]:
    """File name -> content of every quadlet unit of a stack on one host."""
    env = _environment()
    units = {f"{n.name}.network": env.get_template("network.j2").render(stack=stack, n=n)
             for n in networks}
    units |= {f"{v.name}.volume": env.get_template("volume.j2").render(stack=stack, v=v)
              for v in volumes}
    units |= {f"{c.name}.container": env.get_template("container.j2").render(c=c)
              for c in containers}
    return units


def run_args(c: ContainerSpec) -> list[str]:
    """``podman run`` arguments (after ``podman``) for the container, detached."""
    args = ["run", "--detach", "--name", c.name]
    for key, value in sorted(c.env.items()):
        args += ["--env", f"{key}={value}"]
    if c.env_file:
        args += ["--env-file", c.env_file]
    for key, value in sorted(c.labels.items()):
        args += ["--label", f"{key}={value}"]
    for p in c.ports:
        args += ["--publish", f"{p.host_ip}:{p.host_port}:{p.container_port}/{p.protocol}"]
    for net in c.networks:
        args += ["--network", net]
    for m in c.mounts:
        args += ["--volume", f"{m.source}:{m.destination}" + (":ro" if m.read_only else "")]
    for dev in c.devices:
        args += ["--device", dev]
    if c.healthcheck:
        args += ["--health-cmd", c.healthcheck.cmd,
                 "--health-interval", c.healthcheck.interval]
    if c.memory_bytes:
        args += ["--memory", str(c.memory_bytes)]
    return [*args, c.image, *c.command]
