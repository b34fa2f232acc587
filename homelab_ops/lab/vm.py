"""The lab's second host: a Debian VM with systemd as PID 1, podman with quadlet and its
own BTRFS disks, booted with qemu (TCG: ``-enable-kvm`` hangs on our machines) and
reached over SSH on a 127.0.0.1 port, exactly as a real homelab host is.

The root image is built once with debootstrap and kept in a cache keyed by everything
that goes into it, so a second ``lab up`` (or test run) only boots. Each lab boots a
copy-on-write overlay of it; the lab's SSH keys reach the VM as systemd credentials
(SMBIOS), so the cached image holds no lab secret. Everything per lab lives in the lab
directory (``vm/``): ``lab down`` stops qemu and removes it with the lab.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from homelab_ops.errors import LabError
from homelab_ops.lab import podman, vm_agent
from homelab_ops.lab.paths import LabPaths
from homelab_ops.lab.pools import mounts_under
from homelab_ops.lab.sshd import pid_running
from homelab_ops.models.lab import PoolSpec, VmSpec
from homelab_ops.proc import CommandError, run

GUEST_POOLS = "/srv/pools"  # where the VM mounts its BTRFS pools
BUILD_TIMEOUT = 1800  # debootstrap downloads ~200 MB


def guest_pool(pool: str) -> str:
    return f"{GUEST_POOLS}/{pool}"


# -- the cached root image -------------------------------------------------------------
def _image_files(spec: VmSpec) -> dict[str, str]:
    """Files written into the root filesystem (path -> text), part of the cache key."""
    return {
        "etc/hostname": f"{spec.name}\n",
        "etc/fstab": "/dev/vda / ext4 rw,errors=remount-ro 0 1\n",
        "etc/systemd/network/10-lab.network": "[Match]\nName=en*\n[Network]\nDHCP=ipv4\n",
        "etc/ssh/sshd_config.d/lab.conf":
            "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "UseDNS no\n",
        # the host key comes as a credential; tmpfiles imports only the names it is told
        "etc/tmpfiles.d/lab-ssh.conf":
            "f^ /etc/ssh/ssh_host_ed25519_key 0600 root root - lab.ssh_host_ed25519_key\n",
        "etc/systemd/system/systemd-tmpfiles-setup.service.d/lab.conf":
            "[Service]\nImportCredential=lab.*\n",
        "etc/systemd/journald.conf.d/lab.conf": "[Journal]\nStorage=volatile\n",
        # a small initrd: unpacking the default one is most of the kernel's boot under TCG
        "etc/initramfs-tools/conf.d/lab.conf": "MODULES=list\n",
        "etc/initramfs-tools/modules": "virtio_pci\nvirtio_blk\next4\n",
        # named volumes live in the data pool, as on the lab's @local host
        "etc/containers/containers.conf.d/lab.conf":
            f'[engine]\nvolume_path = "{guest_pool("data")}/containers/volumes"\n',
    }


# units a headless test VM does not need; apt's and fstrim's timers would wake it up
_MASKED = ("getty@tty1.service", "getty-static.service", "apt-daily.timer",
           "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "fstrim.timer", "e2scrub_all.timer",
           "systemd-networkd-wait-online.service")


RECIPE = 1  # bump whenever _build changes what it does: the key must change with it


def image_key(spec: VmSpec) -> str:
    """Everything the cached image is made from, hashed: a change rebuilds it."""
    made_of = {"recipe": RECIPE, "suite": spec.suite, "mirror": spec.mirror,
               "packages": sorted(spec.packages), "files": _image_files(spec),
               "masked": _MASKED, "size": spec.root_size_mib,
               "agent_requirements": vm_agent.requirements()}
    return hashlib.sha256(json.dumps(made_of, sort_keys=True).encode()).hexdigest()[:16]


def image_dir(spec: VmSpec) -> Path:
    return spec.cache / image_key(spec)


def ensure_image(spec: VmSpec) -> tuple[Path, bool]:
    """The cached image directory (base.img, vmlinuz, initrd.img) and whether this call
    built it. Built under a lock in a scratch directory renamed into place when
    complete, so an interrupted build never looks done."""
    done = image_dir(spec)
    if (done / "base.img").exists():
        return done, False
    with _cache_lock(spec):
        if (done / "base.img").exists():  # another lab built it while we waited
            return done, False
        scratch = spec.cache / f"{done.name}.building"
        _remove_scratch(scratch)  # what an interrupted build left
        scratch.mkdir()
        try:
            _build(spec, scratch)
        except BaseException:
            _remove_scratch(scratch)
            raise
        # a rebuilt image may land at the same path: overlays check this id, not the path
        (scratch / "build-id").write_text(uuid.uuid4().hex)
        scratch.rename(done)
    return done, True


@contextlib.contextmanager
def _cache_lock(spec: VmSpec) -> Iterator[None]:
    spec.cache.mkdir(parents=True, exist_ok=True)
    with open(spec.cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _remove_scratch(scratch: Path) -> None:
    """Remove a build directory; a killed debootstrap can leave /proc and /sys mounted
    in it, which are unmounted first (never walked into by rmtree)."""
    if not scratch.exists():
        return
    for point in mounts_under(scratch):
        run(["umount", "--recursive", "--lazy", str(point)], check=False)
    left = mounts_under(scratch)
    if left:
        raise LabError(f"cannot remove {scratch}: still mounted: {left[0]}")
    shutil.rmtree(scratch)


def _build(spec: VmSpec, out: Path) -> None:
    root = out / "root"
    proc = run(["debootstrap", "--variant=minbase", "--include=" + ",".join(spec.packages),
                spec.suite, str(root), spec.mirror], check=False, timeout=BUILD_TIMEOUT)
    if proc.returncode != 0:
        (out.parent / "debootstrap.log").write_text(proc.stdout + proc.stderr)
        last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        raise LabError(f"debootstrap {spec.suite} failed: {last[0]} "
                       f"(log: {out.parent / 'debootstrap.log'})")
    for rel, text in _image_files(spec).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()  # every lab brings its own host key
    run(["chroot", str(root), "systemctl", "enable", "systemd-networkd.service"])
    run(["chroot", str(root), "systemctl", "mask", *_MASKED])
    run(["chroot", str(root), "update-initramfs", "-u", "-k", "all"], timeout=600)
    vm_agent.install_venv(root)
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
        shutil.rmtree(root / junk, ignore_errors=True)
    for pattern, name in (("vmlinuz-*", "vmlinuz"), ("initrd.img-*", "initrd.img")):
        found = sorted((root / "boot").glob(pattern))
        if not found:
            raise LabError(f"the VM image has no {pattern} in /boot (is a kernel in "
                           "the VM's packages?)")
        shutil.copy(found[-1], out / name)
    image = out / "base.img"
    with open(image, "wb") as f:
        f.truncate(spec.root_size_mib * 2**20)
    run(["mkfs.ext4", "-q", "-F", "-L", "lab-root", "-d", str(root), str(image)], timeout=600)
    shutil.rmtree(root)


def purge(spec: VmSpec) -> bool:
    """Remove the cache of built images (not while a build runs); True when there was
    one."""
    if not spec.cache.exists():
        return False
    with _cache_lock(spec):
        for entry in spec.cache.iterdir():
            if entry.name != ".lock":
                _remove_scratch(entry) if entry.is_dir() else entry.unlink()
    shutil.rmtree(spec.cache)
    return True


# -- one lab's VM ----------------------------------------------------------------------
class Vm:
    def __init__(self, paths: LabPaths, spec: VmSpec) -> None:
        self.paths, self.spec = paths, spec
        self.dir = paths.root / "vm"

    @property
    def overlay(self) -> Path:
        return self.dir / "root.qcow2"

    @property
    def pidfile(self) -> Path:
        return self.dir / "qemu.pid"

    @property
    def console(self) -> Path:
        return self.dir / "console.log"

    def pool_disk(self, pool: str) -> Path:
        return self.dir / f"pool-{pool}.img"

    def running_pid(self) -> int | None:
        """qemu's PID (its command line names this lab's overlay)."""
        return pid_running(self.pidfile, str(self.overlay))

    # -- up -----------------------------------------------------------------------------
    def image(self) -> tuple[Path, dict[str, float | bool]]:
        """Build (or reuse) the cached image, and how long that took. Called before
        the lab picks the VM's port: a cold build takes minutes, and a port picked
        before it could be taken by then."""
        start = time.monotonic()
        image, built = ensure_image(self.spec)
        return image, {"built": built, "image_s": round(time.monotonic() - start, 1)}

    def up(self, image: Path, port: int, pools: tuple[PoolSpec, ...], image_name: str,
           agent_data: dict[str, Any]) -> dict[str, float | bool]:
        """Boot the VM from ``image`` unless it runs, wait for its sshd, set up its
        pools and image and install the agent (``agent_data``: the host data of its own
        @local). Returns what took how long."""
        times: dict[str, float | bool] = {}
        start, booting = time.monotonic(), self.running_pid() is None
        if booting:
            self._boot(image, port, pools)
        self._wait_ssh()  # also after an `up` that was interrupted while it booted
        if booting:
            times["boot_s"] = round(time.monotonic() - start, 1)
        start = time.monotonic()
        self.ssh("sh", "-eu", input=_guest_setup(pools), timeout=300)
        podman.import_image(lambda *a, **kw: self.ssh("podman", *a, **kw), image_name)
        script, tar = vm_agent.push_script(agent_data)
        self.ssh("sh", "-euc", script, input=tar, timeout=300)
        times["setup_s"] = round(time.monotonic() - start, 1)
        return times

    def _boot(self, image: Path, port: int, pools: tuple[PoolSpec, ...]) -> None:
        self.dir.mkdir(exist_ok=True)
        base, build_id = image / "base.img", (image / "build-id").read_text()
        made_on = self.dir / "overlay-of"
        if not self.overlay.exists() or not made_on.exists() or made_on.read_text() != build_id:
            self.overlay.unlink(missing_ok=True)  # made on another image: start afresh
            run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(base),
                 str(self.overlay)])
            made_on.write_text(build_id)
        drives = ["-drive", f"file={self.overlay},format=qcow2,if=none,id=root",
                  "-device", "virtio-blk-pci,drive=root"]
        for pool in pools:
            disk = self.pool_disk(pool.name)
            if not disk.exists():
                with open(disk, "wb") as f:
                    f.truncate(pool.size_mib * 2**20)
            drives += ["-drive", f"file={disk},format=raw,if=none,id={pool.name}",
                       "-device", f"virtio-blk-pci,drive={pool.name},serial=pool-{pool.name}"]
        self.console.unlink(missing_ok=True)
        run(["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-machine", "q35",
             "-smp", str(self.spec.cpus), "-m", str(self.spec.memory_mib),
             "-display", "none", "-serial", f"file:{self.console}",
             "-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img"),
             "-append", "root=/dev/vda rw console=ttyS0 quiet",
             *drives,
             "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22",
             "-device", "virtio-net-pci,netdev=net0",
             *self._credential("ssh.authorized_keys.root",
                               self.paths.client_key.with_suffix(".pub").read_bytes()),
             *self._credential("lab.ssh_host_ed25519_key", self.paths.host_key.read_bytes()),
             "-pidfile", str(self.pidfile), "-daemonize"])

    def _wait_ssh(self) -> None:
        deadline = time.monotonic() + self.spec.boot_timeout_s
        while time.monotonic() < deadline:
            if self.running_pid() is None:
                raise LabError(f"the lab VM stopped while booting: {self._console_tail()}")
            with contextlib.suppress(CommandError):  # timed out: not up yet
                if self.ssh("true", check=False, timeout=40, connect_timeout=5).returncode == 0:
                    return
            time.sleep(1)
        tail = self._console_tail()
        self.stop()  # a VM hung in boot is not left running
        raise LabError(f"the lab VM's sshd did not answer within "
                       f"{self.spec.boot_timeout_s:.0f}s: {tail}")

    def _console_tail(self) -> str:
        try:
            lines = self.console.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "no console output"
        return f"console ({self.console}): {lines[-1] if lines else 'empty'}"

    def _credential(self, name: str, value: bytes) -> list[str]:
        """A systemd credential handed to the VM through SMBIOS type 11, from a 0600
        file (on qemu's command line every local user could read it)."""
        path = self.dir / f"credential-{name}"
        encoded = base64.b64encode(value).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"io.systemd.credential.binary:{name}={encoded}")
        return ["-smbios", f"type=11,path={path}"]

    # -- talking to it ------------------------------------------------------------------
    def ssh(self, *argv: str, check: bool = True, timeout: float = 120,
            input: str | bytes | None = None, connect_timeout: int = 10):
        """Run ``argv`` on the VM as root (quoted for its shell)."""
        return run(["ssh", "-F", str(self.paths.ssh_config),
                    "-o", f"ConnectTimeout={connect_timeout}", self.spec.name, "--",
                    shlex.join(argv)], check=check, timeout=timeout, input=input)

    # -- down ---------------------------------------------------------------------------
    def stop(self, clean: bool = False) -> None:
        """Power the VM off. ``clean`` (its disks are kept): shut down through systemd
        first, so BTRFS commits what it holds; otherwise (the disks are removed with the
        lab) SIGTERM, then SIGKILL."""
        pid = self.running_pid()
        if pid is None:
            return
        if clean:
            with contextlib.suppress(CommandError):
                self.ssh("systemctl", "poweroff", check=False, timeout=30)
            deadline = time.monotonic() + 60
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.5)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + 10
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            if not Path(f"/proc/{pid}").exists():
                return
        raise LabError(f"qemu (pid {pid}) did not stop")

    def status(self, port: int | None) -> dict[str, object]:
        running = self.running_pid() is not None
        row: dict[str, object] = {"name": self.spec.name, "running": running, "port": port,
                                  "image": str(image_dir(self.spec)),
                                  "image_cached": (image_dir(self.spec) / "base.img").exists()}
        if running:
            try:
                probe = self.ssh("systemctl", "is-system-running", check=False, timeout=60)
                row["systemd"] = probe.stdout.strip() or probe.stderr.strip()[-80:]
                row["reachable"] = probe.returncode in (0, 1) and bool(probe.stdout.strip())
            except CommandError as exc:
                row["systemd"], row["reachable"] = str(exc), False
        return row




def _guest_setup(pools: tuple[PoolSpec, ...]) -> str:
    """Shell run on the VM at every ``up`` (idempotent): format each pool's disk BTRFS
    once (never again: it keeps its data), mount it through fstab, make its
    subvolumes."""
    lines = []
    for pool in pools:
        dev, mnt = f"/dev/disk/by-id/virtio-pool-{pool.name}", guest_pool(pool.name)
        lines += [
            f'[ "$(blkid -o value -s TYPE {dev} || true)" = btrfs ] '
            f"|| mkfs.btrfs -q -L {pool.name} {dev}",
            f"mkdir -p {mnt}",
            f"grep -q ' {mnt} ' /etc/fstab || echo '{dev} {mnt} btrfs defaults 0 0'"
            " >> /etc/fstab",
            f"mountpoint -q {mnt} || mount {mnt}",
            *(f"[ -d {mnt}/{s} ] || btrfs -q subvolume create {mnt}/{s}"
              for s in pool.subvolumes),
        ]
    lines.append(f"mkdir -p {guest_pool('data')}/containers/volumes")
    return "\n".join(lines) + "\n"
