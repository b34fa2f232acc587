"""Where each part of a lab lives. Everything a lab creates is under its directory,
so the directory is the boundary of what ``lab down`` may remove."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MARKER = ".homelab-ops-lab"


@dataclass(frozen=True)
class LabPaths:
    root: Path

    @property
    def marker(self) -> Path:
        return self.root / MARKER

    @property
    def state_file(self) -> Path:
        return self.root / "lab.json"

    @property
    def inventory(self) -> Path:
        return self.root / "inventory.json"

    # podman
    @property
    def podman(self) -> Path:
        return self.root / "podman"

    @property
    def containers_conf(self) -> Path:
        return self.podman / "containers.conf"

    @property
    def storage_conf(self) -> Path:
        return self.podman / "storage.conf"

    @property
    def graphroot(self) -> Path:
        return self.podman / "storage"

    @property
    def runroot(self) -> Path:
        return self.podman / "run"

    # BTRFS pools
    def pool_image(self, pool: str) -> Path:
        return self.root / "pools" / f"{pool}.img"

    def pool_mount(self, pool: str) -> Path:
        return self.root / "mnt" / pool

    @property
    def volumes(self) -> Path:
        """podman's named volumes live in the data pool's ``containers`` subvolume, as on
        a real homelab: backed up with it, and covered by the loop's pre-action
        snapshot."""
        return self.pool_mount("data") / "containers" / "volumes"

    # sshd
    @property
    def ssh(self) -> Path:
        return self.root / "ssh"

    @property
    def sshd_config(self) -> Path:
        return self.ssh / "sshd_config"

    @property
    def sshd_pid(self) -> Path:
        return self.ssh / "sshd.pid"

    @property
    def host_key(self) -> Path:
        return self.ssh / "ssh_host_ed25519_key"

    @property
    def client_key(self) -> Path:
        return self.ssh / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh / "known_hosts"

    @property
    def ssh_config(self) -> Path:
        return self.ssh / "ssh_config"
