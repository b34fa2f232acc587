"""Lab podman: a private configuration and storage, and the stand-in image.

Every podman call for the lab goes through ``podman_env`` so it never touches the
user's /etc/containers or /var/lib/containers: storage, runtime files, networks and the
event log all live under the lab directory.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from homelab_ops.errors import LabError
from homelab_ops.lab.files import write_file
from homelab_ops.lab.paths import LabPaths
from homelab_ops.proc import run

IMAGE_LABEL = "homelab-ops.lab-image"
BUSYBOX = Path("/usr/bin/busybox")  # Debian's busybox-static: one static binary


def podman_env(paths: LabPaths) -> dict[str, str]:
    return {
        "CONTAINERS_CONF": str(paths.containers_conf),
        "CONTAINERS_STORAGE_CONF": str(paths.storage_conf),
    }


def write_config(paths: LabPaths) -> None:
    """Write containers.conf/storage.conf that make podman work without systemd."""
    p = paths.podman
    for d in (paths.graphroot, paths.runroot, p / "tmp", p / "networks", paths.volumes):
        d.mkdir(parents=True, exist_ok=True)
    write_file(
        paths.containers_conf,
        "[containers]\n"
        "default_ulimits = []\n"
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        f'events_logfile_path = "{p / "events.log"}"\n'
        f'tmp_dir = "{p / "tmp"}"\n'
        f'volume_path = "{paths.volumes}"\n'
        "[network]\n"
        f'network_config_dir = "{p / "networks"}"\n',
    )
    write_file(
        paths.storage_conf,
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{paths.graphroot}"\n'
        f'runroot = "{paths.runroot}"\n',
    )


def podman(paths: LabPaths, *args: str, check: bool = True, timeout: float = 120,
           input: bytes | None = None):
    return run(["podman", *args], env=podman_env(paths), check=check, timeout=timeout,
               input=input)


def assert_private_storage(paths: LabPaths) -> None:
    """Refuse destructive podman calls unless they really hit the lab's own storage."""
    root = podman(paths, "info", "--format", "{{.Store.GraphRoot}}").stdout.strip()
    if Path(root) != paths.graphroot:
        raise LabError(f"podman uses {root}, not the lab storage {paths.graphroot}; refusing")


def build_image(paths: LabPaths, image: str) -> bool:
    """Import the stand-in image into the lab's podman; True when it was (re)built."""
    return import_image(lambda *args, **kw: podman(paths, *args, **kw), image)


def import_image(podman_run: Callable[..., subprocess.CompletedProcess[str]], image: str
                 ) -> bool:
    """Import the busybox stand-in image through ``podman_run`` (podman's arguments;
    here or on the lab VM) unless the same build is already present.

    Returns True when the image was (re)built.
    """
    if not BUSYBOX.exists():
        raise LabError(f"{BUSYBOX} is missing: install Debian's busybox-static")
    entry = files("homelab_ops.lab").joinpath("lab-entry.sh").read_bytes()
    digest = hashlib.sha256(entry + BUSYBOX.read_bytes()).hexdigest()[:16]
    have = podman_run(
        "image", "inspect", "--format", f'{{{{index .Labels "{IMAGE_LABEL}"}}}}', image,
        check=False,
    )
    if have.returncode == 0 and have.stdout.strip() == digest:
        return False
    podman_run(
        "import",
        "--change", 'CMD ["/bin/lab-entry"]',
        "--change", "EXPOSE 80",
        "--change", f"LABEL {IMAGE_LABEL}={digest}",
        "-", image, input=_rootfs_tar(entry),
    )
    return True


def _rootfs_tar(entry: bytes) -> bytes:
    """A minimal root filesystem: busybox with every applet linked, and the entry script."""
    applets = run([str(BUSYBOX), "--list"]).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "tmp", "www", "data", "proc", "sys", "dev", "run", "var"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, "bin/busybox")
        for applet in applets:
            if applet == "busybox":
                continue
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        _add_file(tar, "bin/lab-entry", entry, 0o755)
        _add_file(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
        _add_file(tar, "etc/group", b"root:x:0:\n", 0o644)
    return buf.getvalue()


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def remove_all(paths: LabPaths) -> None:
    """Stop and remove every lab container (their network rules and mounts go with them)."""
    if not paths.containers_conf.exists() or shutil.which("podman") is None:
        return
    assert_private_storage(paths)
    podman(paths, "pod", "rm", "--all", "--force", "--time", "0", check=False)
    podman(paths, "rm", "--all", "--force", "--time", "0")
