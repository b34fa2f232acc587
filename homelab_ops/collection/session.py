"""Drive pyinfra through its Python API: connect to an inventory, read facts in
parallel, disconnect. The agent uses this; users use the pyinfra CLI."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import gevent
from pyinfra.api import Config, Host, Inventory, State
from pyinfra.api.connect import disconnect_all
from pyinfra.api.exceptions import ConnectError, PyinfraError
from pyinfra.api.facts import get_fact
from pyinfra.context import ctx_host, ctx_state

from homelab_ops.models.inventory import host_value


class FactFailed(str):
    """The reason a fact could not be read from a host."""


@dataclass
class Session:
    state: State
    unreachable: dict[str, str] = field(default_factory=dict)  # host name -> reason


@contextmanager
def pyinfra_session(inventory: Inventory, parallel: int = 20) -> Iterator[Session]:
    """Connect to every host in parallel; hosts that fail are listed with the reason
    in ``unreachable`` and left out, the rest are ready for facts and operations."""
    state = State(inventory, Config(PARALLEL=parallel, FAIL_PERCENT=100))
    session = Session(state)

    def connect(host: Host) -> None:
        try:
            host.connect(show_errors=False, raise_exceptions=True)
        except (ConnectError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            if reason.startswith("SSH error"):  # paramiko's reason is often a symptom
                reason = _no_banner(host) or reason
            session.unreachable[host.name] = reason

    with ctx_state.use(state):
        gevent.joinall([state.pool.spawn(connect, h) for h in inventory], raise_error=True)
    for host in inventory:
        if host.connected:
            state.activate_host(host)
    try:
        yield session
    finally:
        disconnect_all(state)


# paramiko logs a failed handshake's traceback from its transport thread; the reason
# is recorded per host instead (a handler here keeps logging's last resort quiet)
logging.getLogger("paramiko").addHandler(logging.NullHandler())
BANNER_WAIT = 5.0


def _no_banner(host: Host) -> str | None:
    """Why an SSH handshake failed when the port accepts TCP but sends no SSH banner
    (a wrong port, a stuck sshd): what paramiko reports then is "No existing session"."""
    address = (host_value(host.data, "ssh_hostname") or host.name,
               int(host_value(host.data, "ssh_port") or 22))  # SSH's own port
    try:
        with socket.create_connection(address, timeout=BANNER_WAIT) as sock:
            first = sock.recv(64)
    except TimeoutError:
        first = b""
    except OSError:
        return None
    if first.startswith(b"SSH-"):
        return None
    said = f" (it sent {first[:20]!r})" if first else ""
    return (f"no SSH banner within {BANNER_WAIT:g} s from {address[0]}:{address[1]}{said}"
            " (it accepts TCP but does not speak SSH)")


def fact_per_host(
    state: State,
    fact: type,
    kwargs_for: Callable[[Host], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One fact from every connected host, in parallel. A host whose fact failed maps
    to a ``FactFailed`` carrying the reason, so one bad host never hides the others."""

    def one(host: Host) -> Any:
        kwargs = kwargs_for(host) if kwargs_for else {}
        with ctx_host.use(host):
            try:
                return get_fact(state, host, fact, kwargs=kwargs)
            except (PyinfraError, OSError) as exc:
                return FactFailed(str(exc) or type(exc).__name__)
            except (ValueError, KeyError, IndexError, TypeError) as exc:  # its parser
                return FactFailed(f"unparseable output ({type(exc).__name__}: {exc})")

    with ctx_state.use(state):
        jobs = {host.name: state.pool.spawn(one, host) for host in state.activated_hosts}
    gevent.joinall(list(jobs.values()), raise_error=True)
    return {name: job.get() for name, job in jobs.items()}
