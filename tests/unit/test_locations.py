"""The fast state-directory lookup agrees with the full settings load."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ops.locations import quick_state_dir
from homelab_ops.models.settings import load_settings


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HOMELAB_OPS_STATE_DIR", raising=False)
    monkeypatch.delenv("HOMELAB_OPS_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.mark.parametrize(
    "file_text", [None, 'state_dir = "/srv/state"\n', "protected_services = []\n"])
@pytest.mark.parametrize("env", [None, "/env/state"])
@pytest.mark.parametrize("flag", [None, "/flag/state"])
def test_same_answer_as_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 file_text, env, flag) -> None:
    cfg = None
    if file_text is not None:
        cfg = tmp_path / "s.toml"
        cfg.write_text(file_text)
    if env:
        monkeypatch.setenv("HOMELAB_OPS_STATE_DIR", env)
    flag_path = Path(flag) if flag else None
    assert quick_state_dir(flag_path, cfg) == load_settings(cfg, flag_path).state_dir


def test_unreadable_file_defers_to_the_full_load(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("state_dir = [\n")
    assert quick_state_dir(None, bad) is None
    assert quick_state_dir(None, tmp_path / "missing.toml") is None
