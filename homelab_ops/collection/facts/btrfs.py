"""BTRFS subvolume facts, parsed from ``btrfs subvolume show`` (btrfs-progs), so they
work on any host pyinfra reaches. A directory on another machine (an SSH backup
target) is read through ``ssh <dest>`` from the host itself.

A directory that cannot be read because its SSH host is unreachable is None, never
an empty dict: "no backups there" and "could not look" must not be confused (a prune
that believed the target empty would delete the next incremental parent).

Records have the same shape as homelab_ops.backup.local (btrfsutil, in-process):
``uuid``, ``parent_uuid``, ``received_uuid`` (None for "-"), ``readonly``,
``generation``, ``gen_at_creation``.
"""

from __future__ import annotations

import json
from typing import Any

from pyinfra.api import FactBase, QuoteString, StringCommand

UNREACHABLE = "__homelab_ops_unreachable__"
_KEYS = {"UUID": "uuid", "Parent UUID": "parent_uuid", "Received UUID": "received_uuid",
         "Generation": "generation", "Gen at creation": "gen_at_creation", "Flags": "flags"}


def over_ssh(command: StringCommand, ssh: str | None, ssh_config: str | None) -> StringCommand:
    """Run ``command`` on ``ssh`` (a validated destination) when set, else as it is."""
    if not ssh:
        return command
    config = ("-F", QuoteString(ssh_config)) if ssh_config else ()
    return StringCommand("ssh", "-o", "BatchMode=yes", *config, QuoteString(ssh),
                         QuoteString(command))


def parse_show(lines: list[str]) -> dict[str, Any]:
    """Fields of one ``btrfs subvolume show`` (stops at the list of snapshots)."""
    record: dict[str, Any] = {}
    for line in lines:
        key, sep, value = line.strip().partition(":")
        if key == "Snapshot(s)":
            break
        if sep and key in _KEYS:
            record[_KEYS[key]] = value.strip()
    if "uuid" not in record:
        return {}
    out: dict[str, Any] = {k: (None if record.get(k, "-") == "-" else record[k])
                           for k in ("uuid", "parent_uuid", "received_uuid")}
    out["readonly"] = "readonly" in record.get("flags", "")
    out["generation"] = int(record.get("generation", 0))
    out["gen_at_creation"] = int(record.get("gen_at_creation", 0))
    return out


class BtrfsSubvolumes(FactBase):
    """Subvolumes directly inside ``directory`` by name ({} when it does not exist,
    None when it cannot be read: its SSH host is unreachable, ``mount`` is not a mounted
    filesystem, or, with ``strict``, not even the folder around ``directory`` exists).

    A backup target's folder is read ``strict`` and with its pool's ``mount``: an
    unplugged backup disk must not read as "no backups yet" (a send would land on the
    root filesystem and the source prune would lose its incremental parent)."""

    default = dict

    def command(self, directory: str, ssh: str | None = None,
                ssh_config: str | None = None, mount: str | None = None,
                strict: bool = False) -> StringCommand:
        gone = ("{", "echo", UNREACHABLE, ";", "exit", "0", ";", "}")
        checks: list[Any] = ["command", "-v", "btrfs", ">/dev/null", "2>&1", "||", *gone, ";"]
        if mount:
            checks += ["mountpoint", "-q", QuoteString(mount), "||", *gone, ";"]
        missing: list[Any] = ["exit", "0"]
        if strict:
            parent = directory.rstrip("/").rsplit("/", 1)[0] or "/"
            missing = ["{", "[", "-d", QuoteString(parent), "]", "&&", "exit", "0", ";",
                       "echo", UNREACHABLE, ";", "exit", "0", ";", "}"]
        inner = StringCommand(
            *checks, "cd", QuoteString(directory), "2>/dev/null", "||", *missing, ";",
            # the loop's status is that of its last `btrfs subvolume show`, which fails
            # for a plain folder: the listing itself succeeded
            'for d in *; do [ -d "$d" ] || continue; echo "== $d"; '
            'btrfs subvolume show "$d" 2>/dev/null; done; exit 0',
        )
        if not ssh:
            return inner
        # only ssh's own failure (255) means the host could not be reached
        return StringCommand(over_ssh(inner, ssh, ssh_config), ";", "[", "$?", "-ne", "255",
                             "]", "||", "echo", UNREACHABLE)

    def process(self, output: list[str]) -> dict[str, dict[str, Any]] | None:
        if UNREACHABLE in output:
            return None
        found: dict[str, dict[str, Any]] = {}
        name, chunk = None, []
        for line in [*output, "== "]:
            if line.startswith("== "):
                if name and (record := parse_show(chunk)):
                    found[name] = record
                name, chunk = line[3:], []
            else:
                chunk.append(line)
        return found


class BtrfsSubvolume(FactBase):
    """One subvolume (the source of snapshots), or None when ``path`` is not one.

    Syncs the filesystem first: a subvolume's generation only moves when a transaction
    commits, and "changed since the last snapshot" must see writes made a moment ago."""

    def command(self, path: str) -> StringCommand:
        return StringCommand("btrfs", "filesystem", "sync", QuoteString(path),
                             ">/dev/null", "2>&1", ";", "btrfs", "subvolume", "show",
                             QuoteString(path), "2>/dev/null", "||", "true")

    def process(self, output: list[str]) -> dict[str, Any] | None:
        return parse_show(output) or None


NO_CTRANSID = "__homelab_ops_no_ctransid__"
# Runs on the target with its own python3: ``btrfs subvolume show`` prints no ctransid
# (btrfs-progs 6.2 and later alike) and dump-tree reads the device of a mounted
# filesystem behind its back; btrfsutil asks the kernel (the same call as
# homelab_ops.backup.local). Synced first: a write moves ctransid only when it commits.
_CTRANSID_SCRIPT = """
import json, os, sys, uuid
try:
    import btrfsutil
except ImportError:
    print("MARK", sys.executable, "has no btrfsutil module (install python3-btrfsutil)")
    sys.exit(0)
d, out = sys.argv[1], {}
def u(raw):
    return None if raw == bytes(16) else str(uuid.UUID(bytes=raw))
try:
    if os.path.isdir(d):
        btrfsutil.sync(d)
        for n in sorted(os.listdir(d)):
            p = os.path.join(d, n)
            if os.path.isdir(p) and not os.path.islink(p) and btrfsutil.is_subvolume(p):
                i = btrfsutil.subvolume_info(p)
                out[n] = {"uuid": u(i.uuid), "received_uuid": u(i.received_uuid),
                          "readonly": btrfsutil.get_subvolume_read_only(p),
                          "ctransid": i.ctransid}
except Exception as e:  # any failure: this target cannot tell
    print("MARK " + str(e))
    sys.exit(0)
print(json.dumps(out))
""".replace("MARK", NO_CTRANSID)


class BtrfsCtransids(FactBase):
    """Each subvolume directly inside ``directory`` with the ctransid the kernel keeps
    for it (the transaction of its last inode change): name -> ``uuid``,
    ``received_uuid``, ``readonly``, ``ctransid``. {} when the folder does not exist,
    None when its SSH host cannot be reached, and a one-line reason (str) when the
    ctransid cannot be read there: ``python`` (the target's interpreter) is missing or
    has no btrfsutil, or the folder is not on BTRFS."""

    default = dict

    def command(self, directory: str, ssh: str | None = None,
                ssh_config: str | None = None, python: str = "python3") -> StringCommand:
        inner = StringCommand(
            "command", "-v", QuoteString(python), ">/dev/null", "2>&1", "||", "{", "echo",
            NO_CTRANSID, QuoteString(f"{python} not found"), ";", "exit", "0", ";", "}", ";",
            QuoteString(python), "-c", QuoteString(_CTRANSID_SCRIPT), QuoteString(directory))
        if not ssh:
            return inner
        return StringCommand(over_ssh(inner, ssh, ssh_config), ";", "[", "$?", "-ne", "255",
                             "]", "||", "echo", UNREACHABLE)

    def process(self, output: list[str]) -> dict[str, dict[str, Any]] | str | None:
        if UNREACHABLE in output:
            return None
        for line in output:
            if line.startswith(NO_CTRANSID):
                return line[len(NO_CTRANSID):].strip() or "ctransid unreadable"
        try:
            found = json.loads(output[-1]) if output else {}
        except ValueError:
            return f"unexpected output: {output[-1][:80]}"
        return found if isinstance(found, dict) else "unexpected output"
