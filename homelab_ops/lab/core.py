"""The sandbox lab: real podman, real BTRFS pools on loop files and a real sshd on
127.0.0.1, all owned by one directory.

``up`` is idempotent and keeps data; ``down`` removes exactly what ``up`` created, also
after a half-failed ``up``, and refuses to delete a directory it did not make.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from homelab_ops.errors import HomelabError, LabError, pydantic_field
from homelab_ops.lab import podman, pools, sshd, vm, vm_agent
from homelab_ops.lab.files import write_file
from homelab_ops.lab.paths import LabPaths
from homelab_ops.models.lab import LabSpec, LabState, VmSpec

REQUIRED_TOOLS = ("podman", "runc", "mkfs.btrfs", "mount", "losetup", "ssh-keygen")
VM_TOOLS = ("debootstrap", "qemu-system-x86_64", "qemu-img", "mkfs.ext4")
# what the lab backs up on each host that has its pools
LAB_BACKUP = {"volumes": [{"subvolume": "photos", "pool": "data"},
                          {"subvolume": "containers", "pool": "data"}],
              "target": {"pool": "backup", "dir": "snapshots"}}


class Lab:
    def __init__(self, root: Path, spec: LabSpec | None = None) -> None:
        self.paths = LabPaths(root.absolute())
        self.spec = spec or LabSpec()

    # -- state remembered between runs ------------------------------------------------
    def _load_state(self, damaged_ok: bool = False) -> LabState:
        """What ``up`` chose before; ``down`` works without it (``damaged_ok``), so the
        advice for a damaged file (down, then up) can always be followed."""
        path = self.paths.state_file
        try:
            return LabState.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return LabState()
        except ValueError as exc:  # not JSON, not UTF-8, or not the shape we wrote
            if damaged_ok:
                return LabState()
            fix = "run `homelab-ops lab down`, then `homelab-ops lab up`"
            raise _damaged(path, exc, fix) from None

    def _save_state(self, state: LabState) -> None:
        write_file(self.paths.state_file, state.model_dump_json(indent=2))

    # -- up -----------------------------------------------------------------------------
    def up(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            raise LabError("the lab needs root: it mounts loop devices and runs rootful podman")
        tools = REQUIRED_TOOLS + (VM_TOOLS if self.spec.vm is not None else ())
        missing = [t for t in tools if shutil.which(t) is None]
        if missing:
            raise LabError(f"missing tools: {', '.join(missing)} (run scripts/setup.sh)")
        paths = self.paths
        if paths.root.exists() and any(paths.root.iterdir()) and not paths.marker.exists():
            raise LabError(f"{paths.root} exists and is not a homelab-ops lab; refusing")
        paths.root.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the state dir
        paths.root.mkdir(exist_ok=True)
        paths.marker.touch()
        state = self._load_state()

        for pool in self.spec.pools:  # first: podman's volumes live in the data pool
            pools.ensure_pool(paths, pool)
        podman.write_config(paths)
        podman.build_image(paths, self.spec.image)

        the_vm = self._vm()
        image, timings = the_vm.image() if the_vm is not None else (None, {})
        sshd.ensure_keys(paths)
        if sshd.running_pid(paths) is None and (
                state.ssh_port is None or sshd.listening(state.ssh_port)):
            state.ssh_port = sshd.free_port()
        assert state.ssh_port is not None
        sshd.write_config(paths, state.ssh_port, podman.podman_env(paths))
        ssh_hosts = {self.spec.ssh_alias: state.ssh_port}
        if the_vm is not None:
            if the_vm.running_pid() is None and (
                    state.vm_port is None or sshd.listening(state.vm_port)):
                state.vm_port = sshd.free_port()
            assert state.vm_port is not None
            ssh_hosts[the_vm.spec.name] = state.vm_port
        else:  # a quick lab: a VM an earlier `up` booted shuts down, its disks are kept
            vm.Vm(paths, self._vm_spec).stop(clean=True)
        state.vm = the_vm is not None
        sshd.write_client(paths, ssh_hosts)
        state.created_privsep_dir |= sshd.start(paths, state.ssh_port)
        self._save_state(state)  # before booting: `down` must find what it has to stop
        if the_vm is not None:
            assert state.vm_port is not None and image is not None
            timings |= the_vm.up(image, state.vm_port, self.spec.pools, self.spec.image,
                                 self._vm_agent_data())
        self._write_inventory(state)
        return self.status() | ({"vm_timings": timings} if timings else {})

    def _vm(self) -> vm.Vm | None:
        return vm.Vm(self.paths, self.spec.vm) if self.spec.vm is not None else None

    @property
    def _vm_spec(self) -> VmSpec:
        """This spec's VM, or the default one: `down`, `status` and a `--no-vm` up must
        still find (and stop) a VM an earlier `up` booted, and its cache."""
        return self.spec.vm or VmSpec()

    def _vm_agent_data(self) -> dict[str, Any]:
        """Host data of the VM as it is to itself (the @local of the agent there) and
        to the lab's inventory."""
        return {"systemd": True, "backup": LAB_BACKUP,
                "btrfs_pools": {p.name: vm.guest_pool(p.name) for p in self.spec.pools}}

    def _write_inventory(self, state: LabState) -> None:
        """Host data for the @local host, its SSH alias and the VM, read by
        inventory/lab.py."""
        common = {
            # pyinfra applies host data "_env" to every fact and operation on the host
            "_env": podman.podman_env(self.paths),
            "lab_dir": str(self.paths.root),
            "lab_image": self.spec.image,
            "systemd": False,
            "btrfs_pools": {p.name: str(self.paths.pool_mount(p.name)) for p in self.spec.pools},
        }
        ssh = {
            "ssh_hostname": "127.0.0.1",
            "ssh_port": state.ssh_port,
            "ssh_user": "root",
            "ssh_key": str(self.paths.client_key),
            "ssh_known_hosts_file": str(self.paths.known_hosts),
            "ssh_strict_host_key_checking": "yes",
            "ssh_allow_agent": False,
            "ssh_look_for_keys": False,
        }
        # back up through @local only: lab-ssh is the same machine and the same pools
        hosts = {"@local": {**common, "backup": LAB_BACKUP},
                 self.spec.ssh_alias: {**common, **ssh, "alias_of": "@local"}}
        if self.spec.vm is not None:
            # a host of its own: systemd runs its quadlet units, healthchecks and timers
            # and its timers' services run the agent installed there
            hosts[self.spec.vm.name] = {
                **ssh, "ssh_port": state.vm_port, "lab_image": self.spec.image,
                **self._vm_agent_data(), "homelab_ops_exe": vm_agent.EXE,
                "homelab_ops_inventory": vm_agent.INVENTORY,
            }
        write_file(self.paths.inventory, json.dumps({"hosts": hosts}, indent=2) + "\n")

    # -- down ---------------------------------------------------------------------------
    def down(self, purge: bool = False) -> dict[str, Any]:
        """``purge`` also removes the cached VM image (kept otherwise: it takes
        minutes to build)."""
        paths = self.paths
        if not paths.root.exists():
            return {"lab_dir": str(paths.root), "removed": False, "reason": "no lab here",
                    "purged": purge and vm.purge(self._vm_spec)}
        if not paths.marker.exists():
            raise LabError(f"{paths.root} is not a homelab-ops lab (no {paths.marker.name})")
        state = self._load_state(damaged_ok=True)
        errors = []
        for step in (
            # whether or not this spec has one: a VM an earlier `up` booted must stop
            lambda: vm.Vm(paths, self._vm_spec).stop(),
            lambda: podman.remove_all(paths),
            lambda: sshd.stop(paths),
            lambda: pools.release(paths, self.spec.pools),
        ):
            try:
                step()
            except (HomelabError, OSError) as exc:
                errors.append(str(exc))
        left = pools.mounts_under(paths.root)
        if errors or left:
            detail = "; ".join(errors + [f"still mounted: {p}" for p in left])
            raise LabError(f"lab down incomplete, kept {paths.root}: {detail}")
        shutil.rmtree(paths.root)
        if state.created_privsep_dir:
            _remove_privsep_dir()
        purged = purge and vm.purge(self._vm_spec)  # last: only after a clean down
        return {"lab_dir": str(paths.root), "removed": True, "purged": purged}

    # -- status -------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        paths = self.paths
        if not paths.marker.exists():
            return {"lab_dir": str(paths.root), "up": False, "exists": False}
        state = self._load_state()
        mounted = set(pools.mounts_under(paths.root))
        pool_rows = []
        for pool in self.spec.pools:
            mnt = paths.pool_mount(pool.name)
            row: dict[str, Any] = {"name": pool.name, "mountpoint": str(mnt),
                                   "mounted": mnt.resolve() in mounted}
            if row["mounted"]:
                row |= pools.pool_usage(mnt)
                row["subvolumes"] = sorted(s for s in pool.subvolumes if (mnt / s).is_dir())
            pool_rows.append(row)
        image = containers = None
        if paths.containers_conf.exists():
            image = podman.podman(paths, "image", "exists", self.spec.image, check=False)
            ps = podman.podman(paths, "ps", "--all", "--quiet", check=False)
            containers = len(ps.stdout.split()) if ps.returncode == 0 else None
        ssh = {"running": sshd.running_pid(paths) is not None, "port": state.ssh_port,
               "alias": self.spec.ssh_alias, "ssh_config": str(paths.ssh_config)}
        image_ok = image is not None and image.returncode == 0
        up = image_ok and ssh["running"] and all(r["mounted"] for r in pool_rows)
        the_vm = vm.Vm(paths, self._vm_spec)
        vm_row = None
        if state.vm or the_vm.running_pid() is not None:  # what the last `up` made
            vm_row = the_vm.status(state.vm_port)
            up = up and bool(vm_row.get("reachable"))
        return {
            "lab_dir": str(paths.root),
            "exists": True,
            "up": up,
            "image": {"name": self.spec.image, "present": image_ok},
            "pools": pool_rows,
            "sshd": ssh,
            "containers": containers,
            "vm": vm_row,
            "inventory": str(paths.inventory),
        }


def _remove_privsep_dir() -> None:
    """Remove /run/sshd if this lab made it, nothing is in it and no other sshd runs."""
    if not any(_comm(p) == "sshd" for p in os.listdir("/proc") if p.isdigit()):
        with contextlib.suppress(OSError):
            sshd.PRIVSEP_DIR.rmdir()


def _comm(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:  # the process ended while we looked
        return ""


def lab_hosts(lab_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """The lab's pyinfra inventory as (name, host data) pairs."""
    path = LabPaths(lab_dir.absolute()).inventory
    try:
        data = json.loads(path.read_bytes())
        hosts = data.get("hosts") if isinstance(data, dict) else None
        if not isinstance(hosts, dict):
            raise ValueError("no `hosts` object")
    except FileNotFoundError:
        raise LabError(f"no lab at {lab_dir} (run: homelab-ops lab up)") from None
    except ValueError as exc:  # not JSON, not UTF-8, or not the shape we wrote
        raise _damaged(path, exc, "run `homelab-ops lab up` to write it again") from None
    return list(hosts.items())


def _damaged(path: Path, exc: Exception, fix: str) -> LabError:
    """One line for a lab file that is not what the lab wrote (truncated, edited)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        reason = f"{pydantic_field(err['loc'])}: {err['msg']}" if err["loc"] else err["msg"]
    else:
        reason = str(exc)
    return LabError(f"{path}: damaged ({reason}): {fix}")
