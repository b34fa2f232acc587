"""`homelab-ops metrics --textfile` into the directory Debian's node_exporter reads with
its textfile collector; Debian's Prometheus scrapes node_exporter every second and its
HTTP API returns the values the store holds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from homelab_ops.models.observation import HealthScore, Observation
from homelab_ops.store import Store
from tests.conftest import run_cli
from tests.lab import promstack

pytestmark = pytest.mark.lab


def test_prometheus_scrapes_the_metrics_textfile(tmp_path: Path) -> None:
    state, textfiles = tmp_path / "state", tmp_path / "textfile"
    textfiles.mkdir()
    now = datetime.now(UTC)
    with Store.open(state) as store:
        for host, score in (("nas", 85), ("pi", 40)):
            obs = Observation(host=host, ts=now, reachable=True,
                              health=HealthScore(score=score))
            store.add_observation(host, now.timestamp(), True, obs.model_dump(mode="json"))
        store.record_backup("nas", "pool/photos", "backup", True, ts=now.timestamp() - 3600)
    run_cli("--state-dir", str(state), "metrics", "--textfile",
            str(textfiles / "homelab_ops.prom"))

    with promstack.node_exporter(textfiles, tmp_path) as exporter, \
            promstack.prometheus(tmp_path, [exporter]) as prom:
        result = prom.wait_for("homelab_ops_health_score")
        got = {r["metric"]["host"]: float(r["value"][1]) for r in result}
        assert got == {"nas": 85.0, "pi": 40.0}
        assert {r["metric"]["job"] for r in result} == {"homelab"}
        (ts,) = prom.wait_for("homelab_ops_backup_last_success_timestamp_seconds")
        assert float(ts["value"][1]) == now.timestamp() - 3600
        # node_exporter read the file without complaint
        (err,) = prom.wait_for("node_textfile_scrape_error")
        assert err["value"][1] == "0"
