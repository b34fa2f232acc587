"""Write ``inventory/group_data/all.py`` from ``HostData``, so the documented defaults
users copy are the declared ones (a unit test fails when the file differs;
``UPDATE_GOLDEN=1 pytest tests/unit/test_host_data.py`` writes it).

User keys become assignments; pyinfra's, the agent's and the deploy files' keys are
comments only: a key present in group data overrides pyinfra's own default."""

from __future__ import annotations

import textwrap
from typing import Any

from homelab_ops.models.inventory import HostData

WIDTH = 90

HEADER = '''"""Defaults for every host. Override per host in the inventory or per group in a file
named after the group (e.g. group_data/homelab.py).

pyinfra loads this directory automatically when it sits next to the inventory file.
GENERATED from homelab_ops.models.inventory.HostData: do not edit; change the model and
run `UPDATE_GOLDEN=1 pytest tests/unit/test_host_data.py`.
"""'''

SECTIONS = {
    "host": "The host",
    "backup": "BTRFS backups (homelab_ops.models.backup.BackupConfig; deploys/backup.py)",
    "timers": "Timers (deploys/backup_timers.py, the cycle and report timers)",
    "stacks": "Stacks (homelab_ops.stacks; deploys/stack.py)",
    "deploy": "One deploys/remediate.py run: pyinfra --data KEY=VALUE",
}

OWNERS = {"pyinfra": "pyinfra's own key", "internal": "set by homelab-ops, not by you",
          "deploy": "set with --data"}

# longer notes printed under a key's one-line meaning
NOTES = {
    "backup": '''\
Nothing is backed up until you list volumes. Example:
  backup = {
      "volumes": [
          {"subvolume": "containers", "pool": "data"},            # daily, 14d / 2d min
          {"subvolume": "media", "pool": "data", "schedule": "weekly",
           "target_retention": {"preserve": "8w 6m", "min_keep": "latest"}},
      ],
      "target": {"pool": "backup", "dir": "snapshots"},  # or {"path": ..., "ssh": ...}
  }
Retention is btrbk's: "preserve": "14d 8w 6m *y", "min_keep": "2d|latest|all|no",
"preserve_day_of_week": "sunday", "preserve_hour_of_day": 0.
Defaults: snapshots "14d" / min_keep "2d"; target "14d 8w 6m *y" / min_keep "14d".
The target's min_keep is what early rotation (a pessimistic space forecast within
"forecast_horizon_days", default 7) prunes the backups down to: keep it a real
window; "latest" would leave one copy.
A "pool" target must be mounted (an unplugged backup disk fails the run, it never
receives onto the root filesystem) and only the last folder of "dir" is created; a
"path" target holds one folder per host, <path>/<dir>/<host> (@local: the machine's
host name), and <path>/<dir> must exist. The target folder may not be a snapshot
folder, two volumes sent to one target need different subvolume names, and
"restore_scratch_dir" (default ".restore-test", next to the target folder) may not
overlap a target, snapshot or subvolume folder.''',
}


def render() -> str:
    """The text of ``inventory/group_data/all.py``."""
    out = [HEADER]
    section = None
    for name, field in HostData.model_fields.items():
        extra: dict[str, Any] = field.json_schema_extra  # type: ignore[assignment]
        if extra["section"] != section:
            section = extra["section"]
            title = f"# -- {SECTIONS[section]} "
            out.append("\n" + title + "-" * (WIDTH - len(title)))
        out.append(_entry(field.alias or name, field, extra["owner"]))
    return "\n".join(out) + "\n"


def _entry(key: str, field: Any, owner: str) -> str:
    meaning = f"{key} ({_type(field.annotation)}): {field.description}"
    if owner in OWNERS:
        meaning += f" [{OWNERS[owner]}]"
    lines = textwrap.wrap(meaning, WIDTH - 2)
    lines += NOTES.get(key, "").splitlines()
    assignment = f"{key} = {field.get_default()!r}"
    text = "\n".join(f"# {line}".rstrip() for line in lines)
    return f"\n{text}\n{assignment if owner == 'user' else '# ' + assignment}"


def _type(annotation: Any) -> str:
    name = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    return name.replace("typing.", "")
