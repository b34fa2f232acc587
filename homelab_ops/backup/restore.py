"""The restore test: restore the newest backup to a scratch subvolume exactly as a real
restore would (``btrfs send`` from the target, ``btrfs receive`` into scratch), then
compare it file by file (type, size, mode, SHA-256, link target) with the source
snapshot of the same name. A backup is only as good as its last restore.

Runs in-process on this machine (btrfsutil for inspection and cleanup). A target on
another machine is restored across the wire, as a real restore brings the data home:
``ssh HOST btrfs send`` into a scratch folder on the source's own pool.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import btrfsutil
from pyinfra.api import QuoteString, StringCommand

from homelab_ops.backup import local
from homelab_ops.collection.facts.btrfs import BtrfsSubvolumes, over_ssh
from homelab_ops.collection.lib import transfer
from homelab_ops.collection.lib.layout import VolumeLayout, host_layouts, overlaps
from homelab_ops.collection.lib.naming import of_volume
from homelab_ops.collection.lib.place import Place

CHUNK = 1 << 20
LIMIT = 20  # differences listed per kind; the counts are always complete


def manifest(root: Path) -> dict[str, tuple]:
    """Relative path -> (kind, size, mode, digest or link target)."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in [*dirnames, *sorted(filenames)]:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, 0, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", 0, stat.S_IMODE(st.st_mode), "")
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", st.st_size, stat.S_IMODE(st.st_mode), _sha256(path))
            else:
                out[rel] = ("special", 0, stat.S_IMODE(st.st_mode), str(st.st_rdev))
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def compare(expected: dict[str, tuple], actual: dict[str, tuple]) -> dict[str, list[str]]:
    return {
        "missing": sorted(set(expected) - set(actual)),
        "extra": sorted(set(actual) - set(expected)),
        "changed": sorted(p for p in set(expected) & set(actual) if expected[p] != actual[p]),
    }


def restore_test(vol: VolumeLayout) -> dict[str, Any]:
    """Restore the newest backup of ``vol`` into a fresh folder of its own inside its
    scratch folder and verify it. Only what this test received into that fresh folder
    is ever deleted, and the folder is always removed."""
    if vol.target is None or vol.scratch is None:
        return {"ok": False, "error": "no backup target to restore from"}
    source_dir, scratch = Path(vol.snapshots.dir), Path(vol.scratch)
    ours = [vol.target.dir] if vol.target.ssh is None else []
    for folder in (*ours, str(source_dir), vol.source):
        if overlaps(str(scratch), folder):  # volume_layouts() refuses these already
            return {"ok": False, "error": f"restore scratch {scratch} overlaps {folder}: "
                                          "refusing to restore there"}
    source, copies = local.subvolumes(source_dir), _copies(vol.target)
    if copies is None:
        return {"ok": False, "error": f"cannot read the backups in {address(vol.target)}: "
                                      "host unreachable or folder missing"}
    both = transfer.common(source, copies, vol.base)
    if not both:
        return {"ok": False, "error": "no backup that is also still a local snapshot"}
    name = both[-1]
    skipped = _newer_incomplete(source, copies, vol.base, name)
    scratch.mkdir(exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))  # new, empty, ours
    restored = run_dir / name
    result: dict[str, Any] = {"snapshot": name, "backup": address(vol.target, name)}
    try:
        error = _send_receive(_send_command(vol.target, name), run_dir)
        info = local.subvolume(restored)
        if error or info is None:
            return {**result, "ok": False, "error": error or "nothing was restored"}
        sent_as = source[name]["received_uuid"] or source[name]["uuid"]
        if not (info["readonly"] and info["received_uuid"] == sent_as):
            return {**result, "ok": False, "error": "restored copy is not a complete receive"}
        expected = manifest(source_dir / name)
        diff = compare(expected, manifest(restored))
        result.update(files=sum(1 for v in expected.values() if v[0] == "file"),
                      bytes=sum(v[1] for v in expected.values() if v[0] == "file"),
                      differences={k: len(v) for k, v in diff.items()},
                      **{k: v[:LIMIT] for k, v in diff.items()})
        result["ok"] = not any(diff.values()) and skipped is None
        if skipped:  # never a silent pass on an older copy
            result.update(skipped=skipped, error=f"newest copy {skipped} is not a complete "
                          "receive (made writable or its received UUID cleared after it "
                          f"was received): tested the older {name} instead")
        return result
    finally:
        _remove_run_dir(run_dir)


def address(place: Place, name: str | None = None) -> str:
    """Where a copy (or the folder) is, as the store records it: ``HOST:PATH`` over SSH."""
    path = place.path(name) if name else place.dir
    return f"{place.ssh}:{path}" if place.ssh else path


def _copies(place: Place) -> dict[str, dict[str, Any]] | None:
    """Subvolumes in the target folder (None: unreadable), through the same command and
    parser as the backup deploy's fact when the folder is on another machine."""
    if place.ssh is None:
        return local.subvolumes(Path(place.dir))
    fact = BtrfsSubvolumes()
    command = fact.command(**place.fact_kwargs()).get_raw_value()
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True,
                          check=False, timeout=300)
    return fact.process(proc.stdout.splitlines())


def _send_command(place: Place, name: str) -> list[str]:
    """``btrfs send`` of one copy, run where the copy is."""
    if place.ssh is None:
        return ["btrfs", "send", "-q", place.path(name)]
    send = StringCommand("btrfs", "send", "-q", QuoteString(place.path(name)))
    return ["sh", "-c", over_ssh(send, place.ssh, place.ssh_config).get_raw_value()]


def copy_failed(result: dict[str, Any]) -> bool:
    """A restore test ``result`` failed on the copy it tested: a pass that only
    skipped a newer, incomplete copy is not the tested copy's fault."""
    if result.get("ok"):
        return False
    return not (result.get("skipped") and not any(result.get("differences", {}).values()))


def _newer_incomplete(source, copies, base: str, tested: str) -> str | None:
    """The newest copy of ``base`` on the target when it is newer than ``tested`` and so
    was skipped for not being a complete receive."""
    names = [s.name for s in of_volume(set(copies), base)]
    newest = names[-1] if names else None
    if newest is None or newest == tested or newest not in source:
        return None
    return newest if not transfer.is_complete_copy(source[newest], copies[newest]) else None


def _remove_run_dir(run_dir: Path) -> None:
    """Delete what the receive left in this test's own folder, then the folder."""
    for entry in run_dir.iterdir():
        if entry.is_dir() and not entry.is_symlink() and btrfsutil.is_subvolume(str(entry)):
            btrfsutil.delete_subvolume(str(entry))
    with contextlib.suppress(OSError):  # anything else left: keep it, report nothing
        run_dir.rmdir()


def _send_receive(send: list[str], into: Path) -> str | None:
    """``SEND | btrfs receive INTO`` without a shell of ours; an error or None."""
    with subprocess.Popen(send, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as sender:
        receiver = subprocess.run(["btrfs", "receive", str(into)], stdin=sender.stdout,
                                  capture_output=True, text=True, check=False)
        assert sender.stdout is not None
        sender.stdout.close()
        sender_err = sender.stderr.read().decode() if sender.stderr else ""
    # a receive that fails (no space left) makes send die of a broken pipe with nothing
    # to say: the failing side's own message goes first
    if receiver.returncode != 0:
        return f"btrfs receive failed: {receiver.stderr.strip() or 'no message'}"
    if sender.returncode != 0:
        return f"btrfs send failed: {sender_err.strip() or 'no message'}"
    return None


def verify_hosts(hosts, store) -> list[dict[str, Any]]:
    """Restore-test every volume with a backup target of ``hosts`` ((name, host data)
    pairs) and record each result, so status and the health score judge it."""
    results = []
    for name, data in hosts:
        for vol in host_layouts(name, data)[1]:
            if vol.target is None:
                continue
            key = f"{vol.volume.pool}/{vol.base}"
            result = restore_test(vol)
            store.record_backup(name, key, "restore_test", result["ok"], result)
            results.append({"host": name, "subvolume": key, **result})
    return results
