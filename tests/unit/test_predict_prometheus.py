"""Prometheus as a history source, the parts that need no Prometheus: host names from
instance labels, and a Prometheus that does not answer (a closed port on 127.0.0.1)
leaving the store's predictions and a note saying why."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from homelab_ops.models.settings import Settings
from homelab_ops.predict.prometheus import host_name
from homelab_ops.predict.run import predict_all
from homelab_ops.store import Store
from tests.conftest import run_cli
from tests.unit.test_predict_run import NOW, fill


@pytest.mark.parametrize(("instance", "host"), [
    ("nas:9100", "nas"), ("nas", "nas"), ("10.0.0.5:8080", "10.0.0.5"),
    ("[::1]:9100", "::1"), ("nas.lan", "nas.lan")])
def test_host_name_drops_the_port(instance: str, host: str) -> None:
    assert host_name(instance) == host


def test_unreachable_prometheus_is_a_note_not_a_failure(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on once this socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with Store.open(tmp_path) as store:
        fill(store, NOW)
        alone = predict_all(store, Settings(), NOW)
        got = predict_all(store, Settings(prometheus_url=url), NOW)
    assert got.notes == [f"prometheus at {url}: Connection refused; history from the store only"]
    assert got.disks == alone.disks and got.leaks == alone.leaks


def test_settings_name_a_bad_prometheus_url(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('prometheus_url = "localhost:9090"\n')
    proc = run_cli("--config", str(config), "settings", check=False)
    assert proc.returncode == 2 and f"{config}: prometheus_url: " in proc.stderr


def test_prometheus_credentials_are_never_shown(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('prometheus_url = "https://me:secret@prom.lan:9090"\n')
    proc = run_cli("--config", str(config), "settings", "--json")
    assert "secret" not in proc.stdout and '"https://***@prom.lan:9090"' in proc.stdout
