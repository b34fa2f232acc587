"""Writing the lab's own files (configs, keys lists, inventory, state)."""

from __future__ import annotations

from pathlib import Path


def write_file(path: Path, text: str) -> bool:
    """Write ``text`` atomically unless it is already there; True when the file changed.

    Atomic so an interrupted ``lab up`` never leaves a half-written config or inventory
    that looks complete; skipped when unchanged so a second ``up`` touches nothing.
    """
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return True
