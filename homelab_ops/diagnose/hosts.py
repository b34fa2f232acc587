"""How the read-only routines reach hosts: the agent's one pyinfra session and its
facts (as observe and drift do), with every host that fails kept as one line, and
service names spelled the way ``ask`` spells them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pyinfra.api import Host, Inventory

from homelab_ops.collection.session import FactFailed, fact_per_host, pyinfra_session
from homelab_ops.errors import HomelabError
from homelab_ops.inventory import distinct_hosts
from homelab_ops.models.diagnosis import HostFailure
from homelab_ops.query.normalize import normalize
from homelab_ops.query.slots import Names, resolve_name


class Reader:
    """Facts from every host still answering; a host whose fact fails drops out with
    its reason in ``failures``."""

    def __init__(self, session) -> None:
        self.session = session
        self.failures = [HostFailure(host=h, error=f"unreachable: {why}")
                         for h, why in session.unreachable.items()]

    def read(self, fact: type, kwargs_for: Callable[[Host], dict[str, Any]] | None = None
             ) -> dict[str, Any]:
        got = fact_per_host(self.session.state, fact, kwargs_for)
        out = {}
        for host, value in got.items():
            if host in {f.host for f in self.failures}:
                continue
            if isinstance(value, FactFailed):
                self.failures.append(HostFailure(host=host, error=f"cannot read: {value}"))
            else:
                out[host] = value
        return out

    def host(self, name: str) -> Host:
        return next(h for h in self.session.state.activated_hosts if h.name == name)


@contextmanager
def reader(inventory: Inventory) -> Iterator[Reader]:
    with pyinfra_session(distinct_hosts(inventory)) as session:
        yield Reader(session)


def find_service(said: str, names: dict[str, list[str]],
                 failures: list[HostFailure]) -> tuple[str, str]:
    """(host, container) for what the user typed: the exact name, else the one name
    ``ask`` would read it as ("jelyfin", "whoami" for home-whoami); an unknown name
    is an error naming the close ones."""
    for host, have in sorted(names.items()):
        if said in have:
            return host, said
    everything = Names(service={normalize(n): n for have in names.values() for n in have},
                       running={n for have in names.values() for n in have})
    name, close = resolve_name(normalize(said), "service", everything)
    if name is not None:
        return next(h for h, have in sorted(names.items()) if name in have), name
    where = f" ({'; '.join(f.line() for f in failures)})" if failures else ""
    hint = f"; close: {', '.join(close)}" if close else ""
    raise HomelabError(f"no service {said!r} on any host{where}{hint}")
