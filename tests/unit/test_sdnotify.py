"""The cycle speaks systemd's notify protocol (issue 17 item 7's watchdog): the
datagrams arrive on a real AF_UNIX datagram socket bound by the test, as systemd's
would — READY=1 when the cycle starts, WATCHDOG=1 at each phase — from the cycle
in-process and from the real `homelab-ops cycle` command; nothing without
$NOTIFY_SOCKET."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from homelab_ops.inventory import inventory_from_entries
from homelab_ops.loop import sdnotify
from homelab_ops.loop.cycle import run_cycle
from homelab_ops.models.settings import Settings
from homelab_ops.store import Store
from tests.conftest import run_cli

PHASES = ["observe", "orient", "decide", "act", "learn"]


class Listener:
    """A datagram socket like systemd's notify socket, at ``address``."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(5)

    def messages(self) -> list[dict[str, str]]:
        """Every datagram waiting, each as its KEY=value fields."""
        out = []
        self.sock.setblocking(False)
        try:
            while True:
                data = self.sock.recv(4096).decode()
                out.append(dict(line.split("=", 1) for line in data.split("\n")))
        except BlockingIOError:
            return out
        finally:
            self.sock.settimeout(5)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    sock = Listener(str(tmp_path / "notify.sock"))
    yield sock
    sock.sock.close()


@pytest.fixture(autouse=True)
def _no_socket(monkeypatch) -> None:
    """Each test starts as a process systemd did not start (and forgets a socket an
    earlier cycle in this process claimed)."""
    monkeypatch.delenv(sdnotify.ENV, raising=False)
    monkeypatch.setattr(sdnotify, "_claimed", "")


def test_a_datagram_to_a_path_and_to_an_abstract_socket(listener: Listener) -> None:
    assert sdnotify.notify("WATCHDOG=1", "STATUS=two\nlines", address=listener.address)
    assert listener.messages() == [{"WATCHDOG": "1", "STATUS": "two lines"}]
    abstract = Listener(f"@homelab-ops-test-{uuid.uuid4().hex}")
    try:
        assert sdnotify.notify("READY=1", address=abstract.address)
        assert abstract.messages() == [{"READY": "1"}]
    finally:
        abstract.sock.close()


def test_no_socket_no_datagram_and_no_error(listener: Listener, tmp_path: Path) -> None:
    assert not sdnotify.ready("started") and not sdnotify.alive("busy")
    assert not sdnotify.notify("READY=1", address="vsock:2:1234")
    assert not sdnotify.notify("READY=1", address=str(tmp_path / "nobody-listens"))
    assert listener.messages() == []


def test_the_cycle_says_ready_then_pings_every_phase(listener: Listener, tmp_path: Path,
                                                     monkeypatch) -> None:
    monkeypatch.setenv(sdnotify.ENV, listener.address)
    with Store.open(tmp_path) as store:
        report = run_cycle(inventory_from_entries([], "none"), store,
                           Settings(state_dir=tmp_path))
    assert report.skipped is None
    got = listener.messages()
    assert got[0] == {"READY": "1", "STATUS": f"cycle {report.cycle} started"}
    assert [m["STATUS"].rsplit(": ", 1)[1] for m in got[1:]] == PHASES
    assert all(m["WATCHDOG"] == "1" for m in got[1:])
    # what the cycle runs (podman, ssh, pyinfra) never sees the socket
    assert sdnotify.ENV not in os.environ


def test_the_cycle_command_under_a_notify_socket(listener: Listener, tmp_path: Path) -> None:
    """A host nobody answers for (port 1 refuses): the cycle observes it unreachable,
    decides, and pings at every phase and every decision it records."""
    inventory = tmp_path / "inventory.py"
    inventory.write_text('homelab = [("far", {"ssh_hostname": "127.0.0.1", "ssh_port": 1,'
                         ' "ssh_user": "root"})]\n')
    env = {**os.environ, sdnotify.ENV: listener.address}
    out = run_cli("--state-dir", str(tmp_path), "cycle", "-i", str(inventory), "--json",
                  env=env).stdout
    planned = len(json.loads(out)["planned"])
    assert planned >= 1  # far is unreachable: alerted
    got = listener.messages()
    assert "READY" in got[0] and len(got) == 1 + len(PHASES) + planned
    assert all(m.get("WATCHDOG") == "1" for m in got[1:])
    phases = [m["STATUS"].rsplit(": ", 1)[1] for m in got[1:]]
    assert [p for p in phases if not p.startswith("act ")] == PHASES
