"""Secret values: read on the controller at deploy time, written to the host as an
environment file (mode 0600) and otherwise present only as digests, so no unit file,
spec, label, log line or store row ever holds one."""

from __future__ import annotations

import os
from pathlib import Path

from homelab_ops.collection.facts.podman import value_digest
from homelab_ops.errors import InputError, read_text
from homelab_ops.models.stack import STACK_MARKER, ContainerSpec, DeclaredStack


def read_secrets(stack: DeclaredStack) -> dict[str, str]:
    """Secret name -> value, from the environment variable or file the stack names."""
    path = Path(stack.source)
    values = {}
    for name, source in stack.secrets.items():
        field = f"secrets.{name}"
        if source.env is not None:
            if source.env not in os.environ:
                raise InputError(path, field, f"environment variable {source.env} is not set")
            values[name] = os.environ[source.env]
        elif source.file is not None:
            file = path.parent / Path(source.file).expanduser()
            try:
                values[name] = read_text(file).rstrip("\n")
            except InputError as exc:
                raise InputError(path, field, str(exc)) from None
        else:
            raise InputError(path, field, "give `env` or `file`")
        if "\n" in values[name]:
            raise InputError(path, field, "a secret must be a single line")
    return values


def with_secret_digests(spec: ContainerSpec, values: dict[str, str]) -> ContainerSpec:
    digests = {var: value_digest(values[name]) for var, name in spec.secret_env.items()}
    return spec.model_copy(update={"secret_digests": digests})


def env_file_text(spec: ContainerSpec, values: dict[str, str]) -> str:
    """The host's environment file of one container, in podman's --env-file format
    (quadlet's EnvironmentFile= hands the file to podman the same way). The first line
    is the stack marker, a comment to podman."""
    lines = [f"{var}={values[name]}\n" for var, name in sorted(spec.secret_env.items())]
    return STACK_MARKER + spec.stack + "\n" + "".join(lines)
