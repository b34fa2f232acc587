"""Drive pyinfra through its Python API: an inventory from (name, data) pairs, connect,
read facts in parallel, disconnect. The agent uses this; users use the pyinfra CLI."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import gevent
from pyinfra.api import Config, Host, Inventory, State
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.facts import get_fact
from pyinfra.context import ctx_host, ctx_state

HostEntry = tuple[str, dict[str, Any]]


@contextmanager
def pyinfra_state(hosts: Sequence[HostEntry], parallel: int = 20) -> Iterator[State]:
    """A connected pyinfra State; hosts that failed to connect are left out of it."""
    inventory = Inventory((list(hosts), {}))
    state = State(inventory, Config(PARALLEL=parallel, FAIL_PERCENT=100))
    connect_all(state)
    try:
        yield state
    finally:
        disconnect_all(state)


def fact_per_host(state: State, fact: type, **kwargs: Any) -> dict[str, Any]:
    """One fact from every connected host, in parallel."""

    def one(host: Host) -> Any:
        with ctx_host.use(host):
            return get_fact(state, host, fact, kwargs=kwargs)

    with ctx_state.use(state):
        jobs = {host.name: state.pool.spawn(one, host) for host in state.activated_hosts}
    gevent.joinall(list(jobs.values()), raise_error=True)
    return {name: job.get() for name, job in jobs.items()}
