"""systemd's notify protocol, so the cycle's unit (``Type=notify`` + ``WatchdogSec=``)
can tell a wedged cycle from a busy one: ``READY=1`` when the cycle starts, then
``WATCHDOG=1`` at every phase and action. A cycle stuck longer than ``WatchdogSec``
between two of them is killed by systemd (and the missed heartbeat is told).

The protocol is one datagram on the AF_UNIX socket named by ``$NOTIFY_SOCKET`` (a path,
or ``@name`` in the abstract namespace); a few lines with the socket module, no
library. Without ``$NOTIFY_SOCKET`` (run by hand, by a test, not under systemd) every
call does nothing; telling is best effort and never stops the cycle.
"""

from __future__ import annotations

import os
import socket

ENV = "NOTIFY_SOCKET"
_claimed = ""  # the cycle's socket, once ready() took it out of the environment


def notify(*fields: str, address: str | None = None) -> bool:
    """Send ``fields`` (``KEY=value``) as one datagram to ``address`` (default
    ``$NOTIFY_SOCKET``); whether it was sent."""
    address = os.environ.get(ENV, "") if address is None else address
    if address.startswith("@"):
        address = "\0" + address[1:]
    elif not address.startswith("/"):  # unset, or a kind we do not speak (vsock:)
        return False
    message = "\n".join(f.replace("\n", " ") for f in fields).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(address)
            s.sendall(message)
    except OSError:
        return False
    return True


def ready(status: str) -> bool:
    """``READY=1``; takes ``$NOTIFY_SOCKET`` out of the environment (as sd_notify's
    unset_environment does), so the podman, ssh and pyinfra the cycle runs never speak
    for its unit (podman would send MAINPID= for its containers)."""
    global _claimed
    _claimed = os.environ.pop(ENV, "") or _claimed
    return notify("READY=1", f"STATUS={status}", address=_claimed)


def alive(status: str) -> bool:
    """The watchdog ping, with what the cycle is doing now (``systemctl status``)."""
    return notify("WATCHDOG=1", f"STATUS={status}", address=_claimed)
