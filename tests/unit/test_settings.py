"""Settings: defaults, precedence of the state-dir overrides, and one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from homelab_ops.errors import InputError
from homelab_ops.models.settings import load_settings
from tests.conftest import run_cli


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HOMELAB_OPS_STATE_DIR", raising=False)
    monkeypatch.delenv("HOMELAB_OPS_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_defaults_without_a_file(tmp_path: Path) -> None:
    s = load_settings()
    assert s.state_dir == tmp_path / "home/.local/state/homelab-ops"
    assert s.protected_services == ("traefik", "authelia")
    assert s.thresholds.disk_warn_pct < s.thresholds.disk_crit_pct


def test_state_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "from-file"}"\n')
    assert load_settings(cfg).state_dir == tmp_path / "from-file"
    monkeypatch.setenv("HOMELAB_OPS_STATE_DIR", str(tmp_path / "from-env"))
    assert load_settings(cfg).state_dir == tmp_path / "from-env"
    assert load_settings(cfg, tmp_path / "from-flag").state_dir == tmp_path / "from-flag"


def test_config_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text('protected_services = ["traefik", "authelia", "immich-server"]\n')
    monkeypatch.setenv("HOMELAB_OPS_CONFIG", str(cfg))
    assert "immich-server" in load_settings().protected_services


@pytest.mark.parametrize(
    ("content", "field", "words"),
    [
        ('[thresholds]\ndisk_warn_pct = "lots"\n', "thresholds.disk_warn_pct", "number"),
        ("[thresholds]\ndisk_warn_pct = 95\n", "thresholds", "below disk_crit_pct"),
        ("protected_servics = []\n", "protected_servics", "not permitted"),
        ('protected_services = ["ok", "rm -rf /"]\n', "protected_services[1]", "pattern"),
        ("state_dir = [\n", None, "not valid TOML"),
    ],
)
def test_bad_file_names_file_and_field(tmp_path: Path, content, field, words) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content)
    with pytest.raises(InputError) as exc:
        load_settings(cfg)
    assert exc.value.path == cfg
    assert exc.value.field == field
    assert words in str(exc.value)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_cli_prints_one_line_and_exits_nonzero(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[thresholds]\nrestart_loop_count = 0\n")
    proc = run_cli("--config", str(cfg), "settings", check=False, env=dict(os.environ))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(cfg) in lines[0] and "thresholds.restart_loop_count" in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
