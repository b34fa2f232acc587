"""Lab BTRFS pools: sparse loop files, mounted under the lab, with subvolumes.

An existing pool file is mounted again, never re-formatted: ``lab up`` after a reboot
or a half-failed run keeps whatever data the pool holds.
"""

from __future__ import annotations

import os
from pathlib import Path

import btrfsutil

from homelab_ops.lab.paths import LabPaths
from homelab_ops.models.lab import PoolSpec
from homelab_ops.proc import run


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below ``root``, deepest first (the order to unmount them)."""
    root = root.resolve()
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = Path(_unescape(line.split()[4]))
        if point == root or root in point.parents:
            found.append(point)
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return (
        field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
        .replace("\\134", "\\")
    )


def ensure_pool(paths: LabPaths, pool: PoolSpec) -> None:
    image, mnt = paths.pool_image(pool.name), paths.pool_mount(pool.name)
    mnt.mkdir(parents=True, exist_ok=True)
    if mnt.resolve() not in mounts_under(mnt):
        if not image.exists():
            image.parent.mkdir(parents=True, exist_ok=True)
            tmp = image.with_suffix(".img.new")
            with tmp.open("wb") as fh:
                fh.truncate(pool.size_mib * 1024 * 1024)
            run(["mkfs.btrfs", "--quiet", "--label", f"lab-{pool.name}", str(tmp)])
            tmp.replace(image)  # a file named .img is always a complete filesystem
        run(["mount", "-o", "loop", str(image), str(mnt)])
    for sub in pool.subvolumes:
        target = mnt / sub
        if not target.exists():
            btrfsutil.create_subvolume(str(target))


def loop_devices(image: Path) -> list[str]:
    """Loop devices backed by ``image`` (normally none once it is unmounted)."""
    if not image.exists():
        return []
    out = run(["losetup", "--noheadings", "--output", "NAME", "--associated", str(image)])
    return out.stdout.split()


def release(paths: LabPaths, pools: tuple[PoolSpec, ...]) -> None:
    """Unmount everything under the lab and detach loop devices of its pool files."""
    for point in mounts_under(paths.root):
        run(["umount", str(point)])
    pool_dir = paths.root / "pools"
    images = set(pool_dir.glob("*.img*")) if pool_dir.exists() else set()
    images |= {paths.pool_image(p.name) for p in pools}
    for image in images:
        for dev in loop_devices(image):
            run(["losetup", "--detach", dev])


def pool_usage(mnt: Path) -> dict[str, int]:
    """Size and usage of a mounted pool in bytes (statvfs: what df reports)."""
    st = os.statvfs(mnt)
    return {
        "size_bytes": st.f_blocks * st.f_frsize,
        "free_bytes": st.f_bavail * st.f_frsize,
        "used_bytes": (st.f_blocks - st.f_bfree) * st.f_frsize,
    }
