"""Filesystem facts: usage of every real mount, and for BTRFS the allocation picture
(df alone misleads on BTRFS: a pool can be "full" with free space in df)."""

from __future__ import annotations

from typing import Any

from pyinfra.api import FactBase

from homelab_ops.collection.facts.system import split_sections
from homelab_ops.models.observation import BtrfsUsage, FilesystemObs

MARK = "@@homelab-ops-fs:"
PSEUDO = ("tmpfs", "devtmpfs", "overlay", "squashfs", "nsfs", "proc", "sysfs", "cgroup",
          "cgroup2", "efivarfs", "fuse.lxcfs", "ramfs", "autofs", "shm")
BTRFS_FIELDS = {
    "Device size:": "device_size",
    "Device allocated:": "allocated",
    "Device unallocated:": "unallocated",
    "Free (estimated):": "free_estimated",
}


class Filesystems(FactBase):
    default = list

    def command(self) -> str:
        excludes = " ".join(f"-x {fs}" for fs in PSEUDO)
        return (
            f"echo '{MARK}df'; df -B1 --output=source,fstype,size,used,avail,target {excludes}; "
            "findmnt -n -l -t btrfs -o TARGET | while IFS= read -r m; do "
            f"echo \"{MARK}btrfs $m\"; btrfs filesystem usage -b \"$m\" 2>/dev/null; done"
        )

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        sections = split_sections(output, MARK)
        usage = {
            name[len("btrfs "):]: parse_btrfs_usage(lines)
            for name, lines in sections.items()
            if name.startswith("btrfs ")
        }
        result = []
        for line in sections.get("df", [])[1:]:  # first line is the header
            fields = line.split(None, 5)
            if len(fields) < 6 or not fields[2].isdigit():
                continue
            source, fstype, size, used, avail, target = fields
            result.append(FilesystemObs(
                mountpoint=target, device=source, fstype=fstype, size_bytes=int(size),
                used_bytes=int(used), avail_bytes=int(avail),
                btrfs=usage.get(target) if fstype == "btrfs" else None,
            ).model_dump(mode="json"))
        return result


def parse_btrfs_usage(lines: list[str]) -> BtrfsUsage | None:
    values = {}
    for line in lines:
        text = line.strip()
        for label, key in BTRFS_FIELDS.items():
            if text.startswith(label):
                values[key] = int(text[len(label):].split()[0])
    return BtrfsUsage(**values) if len(values) == len(BTRFS_FIELDS) else None
