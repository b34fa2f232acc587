"""The CLI contract: --version, --json on every command, user mistakes as one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from homelab_ops import __version__
from homelab_ops.cli import cli
from tests.conftest import run_cli


def _commands(group: click.Group, prefix: str = ""):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


def test_every_command_accepts_json() -> None:
    commands = dict(_commands(cli))
    assert {"lab up", "lab down", "lab status", "settings"} <= commands.keys()
    for name, cmd in commands.items():
        assert any("--json" in p.opts for p in cmd.params), f"{name} lacks --json"


def test_version() -> None:
    proc = run_cli("--version")
    assert __version__ in proc.stdout


def test_unknown_command_is_one_clear_line() -> None:
    proc = run_cli("frobnicate", check=False)
    assert proc.returncode == 2
    assert "No such command 'frobnicate'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_settings_json_reflects_state_dir_flag(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMELAB_OPS_")}
    env["HOME"] = str(tmp_path)
    proc = run_cli("--state-dir", str(tmp_path / "st"), "settings", "--json", env=env)
    data = json.loads(proc.stdout)
    assert data["state_dir"] == str(tmp_path / "st")
    assert data["protected_services"] == ["traefik", "authelia"]


def test_lab_status_without_lab(tmp_path: Path) -> None:
    proc = run_cli("--state-dir", str(tmp_path), "lab", "status", "--json")
    assert json.loads(proc.stdout) == {"lab_dir": str(tmp_path / "lab"), "up": False,
                                       "exists": False}
