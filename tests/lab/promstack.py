"""Debian's real Prometheus and node_exporter, started by the tests themselves on free
127.0.0.1 ports with their data in a temporary directory (no systemd, no system
config, nothing left behind). A missing binary fails the test: setup.sh installs them."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PROMETHEUS = Path("/usr/bin/prometheus")  # Debian's prometheus package
PROMTOOL = Path("/usr/bin/promtool")
NODE_EXPORTER = Path("/usr/bin/prometheus-node-exporter")  # prometheus-node-exporter
READY_TIMEOUT = 60.0


def binary(path: Path) -> str:
    if not path.is_file():
        pytest.fail(f"{path} is missing: run scripts/setup.sh (Debian's prometheus packages)")
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read()


def wait_until(check, what: str, proc: subprocess.Popen, log: Path):
    """Poll ``check`` until it returns something truthy; fail with the daemon's log if
    the daemon dies or nothing comes within READY_TIMEOUT (a hang, not a measurement)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what}: exited {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if found := check():
                return found
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: nothing after {READY_TIMEOUT:.0f} s:\n"
                        f"{log.read_text()[-2000:]}")
        time.sleep(0.2)


@contextmanager
def daemon(argv: list[str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def node_exporter(textfile_dir: Path, work: Path) -> Iterator[str]:
    """node_exporter with only the textfile collector; yields its host:port."""
    addr = f"127.0.0.1:{free_port()}"
    argv = [binary(NODE_EXPORTER), f"--web.listen-address={addr}",
            "--collector.disable-defaults", "--collector.textfile",
            f"--collector.textfile.directory={textfile_dir}"]
    log = work / "node_exporter.log"
    with daemon(argv, log) as proc:
        wait_until(lambda: get(f"http://{addr}/metrics"), "node_exporter", proc, log)
        yield addr


class Prometheus:
    def __init__(self, url: str, proc: subprocess.Popen, log: Path) -> None:
        self.url, self.proc, self.log = url, proc, log

    def api(self, path: str, **params: str) -> dict:
        body = json.loads(get(f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"))
        assert body["status"] == "success", body
        return body["data"]

    def wait_for(self, query: str) -> list[dict]:
        """The instant vector of ``query`` once it is not empty (after a scrape)."""
        return wait_until(lambda: self.api("query", query=query)["result"],
                          f"prometheus query {query}", self.proc, self.log)


@contextmanager
def prometheus(work: Path, targets: list[str] = (), data: Path | None = None,
               ) -> Iterator[Prometheus]:
    """Prometheus scraping ``targets`` every second, its TSDB in ``data`` (default: a
    fresh one under ``work``); retention long enough to keep backfilled history."""
    data = data or work / "tsdb"
    config = work / "prometheus.yml"
    config.write_text(json.dumps({  # JSON is YAML
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "homelab", "static_configs": [
            {"targets": list(targets)}]}] if targets else []}))
    addr = f"127.0.0.1:{free_port()}"
    argv = [binary(PROMETHEUS), f"--config.file={config}", f"--storage.tsdb.path={data}",
            f"--web.listen-address={addr}", "--storage.tsdb.retention.time=10y"]
    log = work / "prometheus.log"
    with daemon(argv, log) as proc:
        wait_until(lambda: get(f"http://{addr}/-/ready"), "prometheus", proc, log)
        yield Prometheus(f"http://{addr}", proc, log)
