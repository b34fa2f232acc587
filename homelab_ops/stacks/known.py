"""The stacks homelab-ops deployed, by name, and the file each was deployed from.

``health`` and ``drift`` without arguments check these; one stack name belongs to one
file, so a second file claiming a deployed name is refused, naming both."""

from __future__ import annotations

from pathlib import Path

from homelab_ops.errors import HomelabError, InputError


def deployed_files(store) -> dict[str, str]:
    """Stack name -> its stack file, from the newest deployment records."""
    files: dict[str, str] = {}
    for d in sorted(store.deployments(limit=100_000), key=lambda d: d["ts"]):
        path = d["detail"].get("stack_file")
        if path:
            files[d["stack"]] = path
    return files


def claim(store, name: str, source: str) -> None:
    """Refuse deploying ``source`` as ``name`` while another existing file declares that
    deployed stack (a moved-away or renamed file gives the name up)."""
    other = deployed_files(store).get(name)
    if other is None or other == source or not _declares(Path(other), name):
        return
    raise HomelabError(f"stack {name!r} is declared by two files: {other} (deployed) and "
                       f"{source}; rename one, or `homelab-ops stacks forget {name}`")


def unique(declared: list) -> None:
    """Two of the given stack files must not declare the same stack name."""
    seen: dict[str, str] = {}
    for d in declared:
        if d.name in seen and seen[d.name] != d.source:
            raise HomelabError(f"stack {d.name!r} is declared by two files: {seen[d.name]} "
                               f"and {d.source}")
        seen[d.name] = d.source


def _declares(path: Path, name: str) -> bool:
    from homelab_ops.stacks.patterns import read_yaml

    try:
        raw = read_yaml(path)
    except (InputError, OSError):
        return False
    return isinstance(raw, dict) and raw.get("name") == name
