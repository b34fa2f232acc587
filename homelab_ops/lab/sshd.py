"""Lab sshd: 127.0.0.1 on its own port, with its own config, host key and client key.

It makes this machine an SSH target for pyinfra and testinfra exactly as a real homelab
host would be. ``SetEnv`` hands every session the lab's podman configuration, so a
plain ``ssh lab-ssh podman ps`` sees the lab's containers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

from homelab_ops.errors import LabError
from homelab_ops.lab.files import write_file
from homelab_ops.lab.paths import LabPaths
from homelab_ops.proc import run

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")  # sshd refuses to start without it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_keys(paths: LabPaths) -> None:
    paths.ssh.mkdir(parents=True, exist_ok=True)
    paths.ssh.chmod(0o700)
    for key in (paths.host_key, paths.client_key):
        if not key.exists():
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "homelab-ops-lab",
                 "-f", str(key)])


def write_config(paths: LabPaths, port: int, env: dict[str, str]) -> None:
    """sshd_config and the authorized_keys it reads (the lab's client key)."""
    authorized = paths.ssh / "authorized_keys"
    write_file(authorized, paths.client_key.with_suffix(".pub").read_text())
    set_env = " ".join(f"{k}={v}" for k, v in sorted(env.items()))
    write_file(paths.sshd_config,
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {paths.host_key}\n"
        f"PidFile {paths.sshd_pid}\n"
        f"AuthorizedKeysFile {authorized}\n"
        "AuthenticationMethods publickey\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
        "UsePAM no\n"
        "StrictModes no\n"
        f"SetEnv {set_env}\n"
        "Subsystem sftp internal-sftp\n"
        "MaxStartups 100:30:200\n"
        "MaxSessions 100\n"
    )


def write_client(paths: LabPaths, hosts: dict[str, int]) -> None:
    """known_hosts and ssh_config for every lab SSH host (name -> 127.0.0.1 port). They
    all present the lab's host key (the VM gets it as a credential at boot)."""
    host_pub = paths.host_key.with_suffix(".pub").read_text().split()
    write_file(paths.known_hosts, "".join(
        f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n" for port in hosts.values()))
    write_file(paths.ssh_config, "".join(
        f"Host {name}\n"
        "  HostName 127.0.0.1\n"
        f"  Port {port}\n"
        "  User root\n"
        f"  IdentityFile {paths.client_key}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {paths.known_hosts}\n"
        "  StrictHostKeyChecking yes\n"
        "  BatchMode yes\n"
        for name, port in hosts.items()))


def running_pid(paths: LabPaths) -> int | None:
    """PID of this lab's sshd. sshd rewrites its title ("sshd: /usr/sbin/sshd -f CONFIG
    [listener] ..."): match a part."""
    return pid_running(paths.sshd_pid, str(paths.sshd_config))


def pid_running(pidfile: Path, marker: str) -> int | None:
    """The PID in ``pidfile`` while that process runs and its command line holds
    ``marker`` (pids get reused: a stale file must not name somebody else's process)."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid if marker.encode() in cmdline else None


def start(paths: LabPaths, port: int) -> bool:
    """Start sshd unless it already runs; returns True when this call created /run/sshd."""
    created = False
    if not PRIVSEP_DIR.exists():
        PRIVSEP_DIR.mkdir(mode=0o755)
        created = True
    if running_pid(paths) is None:
        if not SSHD.exists():
            raise LabError(f"{SSHD} is missing: install Debian's openssh-server")
        run([str(SSHD), "-t", "-f", str(paths.sshd_config)])
        run([str(SSHD), "-f", str(paths.sshd_config), "-E", str(paths.ssh / "sshd.log")])
    _wait_listening(port)
    return created


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening(port):
            return
        time.sleep(0.05)
    raise LabError(f"lab sshd did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


def stop(paths: LabPaths) -> None:
    """Stop the listener and every session it forked, so no lab sshd outlives ``down``."""
    pid = running_pid(paths)
    if pid is None:
        return
    victims = [pid, *_descendants(pid)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for victim in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, sig)
        deadline = time.monotonic() + 5
        while any(_alive(v) for v in victims) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not any(_alive(v) for v in victims):
            return


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields after "(comm)": state, ppid, ...


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
