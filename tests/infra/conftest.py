"""testinfra checks of a deployed stack, parametrized from its declaration.

Run them against your own host in CI:

    HOMELAB_OPS_STACK=stacks/home.yaml pytest tests/infra --hosts=ssh://myhost \\
        [--stack-inventory inventory/my_homelab.py --stack-host myhost]

``--stack`` (or $HOMELAB_OPS_STACK) is the stack file; secrets come from where it says.
``--stack-inventory``/``--stack-host`` name the pyinfra inventory host whose host data
applies (e.g. the lab's stand-in image, BTRFS pools, podman environment); without them
the host runs the stack as declared.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("homelab-ops stack")
    group.addoption("--stack", default=os.environ.get("HOMELAB_OPS_STACK"),
                    help="stack file (default: $HOMELAB_OPS_STACK)")
    group.addoption("--stack-inventory", default=None, help="pyinfra inventory file")
    group.addoption("--stack-host", default=None, help="host of --stack-inventory")


def _declared(config: pytest.Config):
    from homelab_ops.stacks.load import load_stack

    path = config.getoption("--stack")
    if not path:
        raise pytest.UsageError("give the stack file: --stack FILE or $HOMELAB_OPS_STACK")
    return load_stack(Path(path))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per declared container: the parameters come from the stack file."""
    if "container" in metafunc.fixturenames:
        names = [c.name for c in _declared(metafunc.config).containers]
        metafunc.parametrize("container", names)


@pytest.fixture(scope="module")
def plan(host, request: pytest.FixtureRequest):
    """The stack as this host runs it (host data from --stack-inventory/--stack-host)."""
    from homelab_ops.collection.lib.secrets import read_secrets
    from homelab_ops.stacks.health import testinfra_plan

    declared = _declared(request.config)
    data, name = {}, request.config.getoption("--stack-host") or "host"
    inventory = request.config.getoption("--stack-inventory")
    if inventory:
        from homelab_ops.inventory import load_inventory

        hosts = {h.name: h for h in load_inventory(Path(inventory))}
        if name not in hosts:
            raise pytest.UsageError(f"--stack-host {name!r} is not in {inventory}")
        data = hosts[name].data.dict()
    return testinfra_plan(host, name, data, declared, read_secrets(declared))


@pytest.fixture(scope="module")
def drift(host, plan):
    from homelab_ops.stacks.health import testinfra_drift

    return testinfra_drift(host, plan)
