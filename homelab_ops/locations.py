"""Where settings and state live, resolvable without pydantic.

Read paths (``ask``) need only the state directory; finding it must not cost the import
of the settings model. ``models.settings`` uses the same names and order.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

STATE_DIR_ENV = "HOMELAB_OPS_STATE_DIR"
CONFIG_ENV = "HOMELAB_OPS_CONFIG"
DEFAULT_CONFIG = Path("~/.config/homelab-ops/settings.toml")
DEFAULT_STATE_DIR = Path("~/.local/state/homelab-ops")
PATTERNS_ENV = "HOMELAB_OPS_PATTERNS"


def cache_dir() -> Path:
    """Where derived files that can always be rebuilt live (XDG's cache directory)."""
    return (env_path("XDG_CACHE_HOME") or Path("~/.cache").expanduser()) / "homelab-ops"


def env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value) if value else None


def config_path(config: Path | None) -> tuple[Path, bool]:
    """The settings file to read and whether the user named it (then it must exist)."""
    explicit = config or env_path(CONFIG_ENV)
    return (explicit, True) if explicit else (DEFAULT_CONFIG.expanduser(), False)


def quick_state_dir(flag: Path | None, config: Path | None) -> Path | None:
    """The state directory by the settings' precedence (flag, environment, file, default),
    or None when the settings file cannot be read cheaply (the full load then reports
    the problem with file and field)."""
    chosen = flag or env_path(STATE_DIR_ENV)
    if chosen is None:
        path, explicit = config_path(config)
        if path.exists():
            try:
                with path.open("rb") as fh:
                    value = tomllib.load(fh).get("state_dir", str(DEFAULT_STATE_DIR))
            except (OSError, ValueError):  # TOMLDecodeError, UnicodeDecodeError
                return None
            if not isinstance(value, str):
                return None
            chosen = Path(value)
        elif explicit:
            return None
        else:
            chosen = DEFAULT_STATE_DIR
    return chosen.expanduser().absolute()


def patterns_dir() -> Path:
    """The patterns: ``$HOMELAB_OPS_PATTERNS``, else the source tree's ``patterns/``,
    else the wheel's ``<prefix>/share/homelab-ops/patterns``."""
    chosen = os.environ.get(PATTERNS_ENV)
    if chosen:
        candidates = [Path(chosen)]
    else:
        candidates = [Path(__file__).resolve().parents[1] / "patterns",
                      Path(sys.prefix) / "share" / "homelab-ops" / "patterns"]
    for path in candidates:
        if path.is_dir():
            return path
    from homelab_ops.errors import InputError

    raise InputError(candidates[0], None, f"no patterns directory (set ${PATTERNS_ENV})")
