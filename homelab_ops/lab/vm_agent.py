"""The agent on the lab VM, so the timers systemd fires there run it on that host.

Its dependencies go into a venv in the cached image (pip in the image's chroot, on the
host: fast, not under TCG); its source, which changes with every commit, is pushed at
each ``lab up`` over SSH and only when its digest changed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import homelab_ops
from homelab_ops.models.inventory import HOMELAB_OPS_EXE
from homelab_ops.proc import run

HOME = "/opt/homelab-ops"
VENV = f"{HOME}/venv"
EXE = HOMELAB_OPS_EXE  # what the timers' units run (host data homelab_ops_exe)
INVENTORY = "/etc/homelab-ops/inventory.py"  # the agent's inventory there: its own @local
PIP_TIMEOUT = 1200
FROM_DEBIAN = {"btrfsutil"}  # python3-btrfsutil, built against the VM's libbtrfsutil


def requirements() -> list[str]:
    """The agent's runtime dependencies as installed here (pyproject's list, without
    extras and without what Debian provides); part of the image's cache key."""
    out = []
    for req in importlib.metadata.requires("homelab-ops") or []:
        if "extra ==" in req:
            continue
        name = re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0]
        if name.lower() not in FROM_DEBIAN:
            out.append(req)
    return sorted(out)


def install_venv(root: Path) -> None:
    """Make the venv in the image (Debian's python, its btrfsutil seen through
    --system-site-packages) and pip-install the requirements as the host's pip would:
    its DNS, its CA bundle (a proxy's CA may be in it) and its http(s) indexes."""
    config = _pip_config()
    bundle = Path(config.get("cert", "/etc/ssl/certs/ca-certificates.crt"))
    resolv, cert = root / "etc/resolv.conf", root / "tmp/pip-ca.pem"
    had = resolv.read_bytes() if resolv.exists() else None
    resolv.unlink(missing_ok=True)
    shutil.copy("/etc/resolv.conf", resolv)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
    if bundle.is_file():
        shutil.copy(bundle, cert)
        env["PIP_CERT"] = "/tmp/pip-ca.pem"
    for option in ("index-url", "extra-index-url", "trusted-host"):
        values = [v for v in config.get(option, "").split()
                  if option == "trusted-host" or v.startswith(("http://", "https://"))]
        if values:  # a file:// index lies on the host's disk, not in the image
            env[f"PIP_{option.upper().replace('-', '_')}"] = " ".join(values)
    chroot = ["chroot", str(root), "env", "-i", *(f"{k}={v}" for k, v in env.items())]
    try:
        run([*chroot, "python3", "-m", "venv", "--system-site-packages", VENV], timeout=300)
        run([*chroot, f"{VENV}/bin/pip", "install", "--quiet", "--no-cache-dir",
             "--disable-pip-version-check", *requirements()], timeout=PIP_TIMEOUT)
    finally:
        cert.unlink(missing_ok=True)
        resolv.unlink(missing_ok=True)
        if had is not None:
            resolv.write_bytes(had)


def _pip_config() -> dict[str, str]:
    """The host pip's settings (option -> value; the environment's win, as in pip)."""
    proc = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                          capture_output=True, text=True, check=False)
    found: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("=")
        option = key.rsplit(".", 1)[-1]
        if key.startswith(":env:") or option not in found:
            found[option] = value.strip("'\"")
    return found


# -- the source, pushed at `lab up` -----------------------------------------------------
def _sources() -> Iterator[tuple[str, Path]]:
    """(name under src/, file): the installed package with its package data, and the
    stack patterns beside it when this is a source checkout (where the agent looks)."""
    package = Path(homelab_ops.__file__).resolve().parent
    for top in (package, package.parent / "patterns"):
        if not top.is_dir():
            continue
        for path in sorted(top.rglob("*")):
            rel = path.relative_to(package.parent)
            if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc":
                yield rel.as_posix(), path


def _files(agent_data: dict[str, Any]) -> dict[str, bytes]:
    """What goes to the VM, by name in the tar: ``src/``, the command, the inventory."""
    files = {f"src/{name}": path.read_bytes() for name, path in _sources()}
    files["exe"] = (f"#!{VENV}/bin/python\nimport sys\n\nfrom homelab_ops.cli import main\n\n"
                    "sys.exit(main())\n").encode()
    hosts = [("@local", agent_data)]
    files["inventory.py"] = (
        '"""This VM itself, for the agent its timers run (written by `homelab-ops lab '
        'up`)."""\n\n' f"hosts = {hosts!r}\n").encode()
    return files


def push_script(agent_data: dict[str, Any]) -> tuple[str, bytes]:
    """(shell, tar for its stdin): installs the agent's source, its command and its
    inventory; does nothing (beyond reading its input) when the digest is unchanged."""
    files = _files(agent_data)
    digest = hashlib.sha256(json.dumps(
        {k: hashlib.sha256(v).hexdigest() for k, v in sorted(files.items())}).encode()
    ).hexdigest()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    new, stamp = f"{HOME}/new", f"{HOME}/src.digest"
    purelib = f"{VENV}/bin/python -c 'import sysconfig; print(sysconfig.get_path(\"purelib\"))'"
    script = "\n".join([
        f'if [ "$(cat {stamp} 2>/dev/null)" = {digest} ]; then cat >/dev/null; exit 0; fi',
        f"rm -rf {new} && mkdir -p {new} && tar -x -C {new}",
        f"rm -rf {HOME}/src && mv {new}/src {HOME}/src",
        f'echo {HOME}/src > "$({purelib})/homelab-ops-src.pth"',
        f"install -D -m 755 {new}/exe {EXE}",
        f"install -D -m 644 {new}/inventory.py {INVENTORY}",
        f"rm -rf {new}",
        f"echo {digest} > {stamp}",
    ]) + "\n"
    return script, buf.getvalue()
