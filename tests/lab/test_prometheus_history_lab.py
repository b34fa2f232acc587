"""Prometheus as a history source: Debian's Prometheus holds four days of a filling
disk (node_exporter's series) and a leaking container (cadvisor's), backfilled with
``promtool tsdb create-blocks-from openmetrics``; predictions on an empty store with
``prometheus_url`` set equal the predictions from the same series in the store."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from homelab_ops.models.settings import Settings
from homelab_ops.predict.run import predict_all
from homelab_ops.store import SeriesKey, Store
from tests.lab import promstack

pytestmark = pytest.mark.lab

DAY, HOUR, GIB, MB = 86400.0, 3600.0, 2.0**30, 1e6
STEP = 120  # seconds between samples, as a 2-minute scrape would leave them
END = 1_790_000_040.0  # the newest sample (a multiple of STEP); predictions are made then
# four days: enough for both predictors, and promtool writes one block per 2 hours
TIMES = [END - 4 * DAY + i * STEP for i in range(int(4 * DAY / STEP) + 1)]
SIZE = 1000 * GIB
FS = 'instance="nas:9100",job="node",device="/dev/sdb",fstype="btrfs",mountpoint="/srv"'
CONTAINER = 'instance="nas:8080",job="cadvisor",name="{}"'


def used(t: float) -> float:  # 300 GiB growing 50 GiB a day: 500 now, 90 % in 8 days
    return 300 * GIB + 50 * GIB * (t - TIMES[0]) / DAY


def memory(name: str, t: float) -> float:  # "leaky" grows 5 MB/h, "steady" does not
    return (200 + (5.0 if name == "leaky" else 0.0) * (t - TIMES[0]) / HOUR) * MB


def openmetrics(path: Path) -> None:
    families = {
        "node_filesystem_size_bytes": [(FS, lambda t: SIZE)],
        "node_filesystem_free_bytes": [(FS, lambda t: SIZE - used(t))],
        "container_memory_working_set_bytes": [
            (CONTAINER.format(n), lambda t, n=n: memory(n, t)) for n in ("leaky", "steady")],
    }
    with path.open("w") as out:
        for name, series in families.items():
            out.write(f"# TYPE {name} gauge\n")
            for labels, value in series:
                out.writelines(f"{name}{{{labels}}} {value(t):.1f} {t:.0f}\n" for t in TIMES)
        out.write("# EOF\n")


def fill_store(store: Store) -> None:
    """The same samples as the store would have recorded them by observing."""
    fs = ("nas", "filesystem", "/srv")
    store.add_points(SeriesKey(*fs, "used_bytes"), [(t, used(t)) for t in TIMES])
    store.add_points(SeriesKey(*fs, "size_bytes"), [(t, SIZE) for t in TIMES])
    for n in ("leaky", "steady"):
        store.add_points(SeriesKey("nas", "container", n, "mem_bytes"),
                         [(t, memory(n, t)) for t in TIMES])


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("prometheus")
    openmetrics(work / "history.om")
    subprocess.run([promstack.binary(promstack.PROMTOOL), "tsdb", "create-blocks-from",
                    "openmetrics", "-q", str(work / "history.om"), str(work / "tsdb")],
                   check=True, capture_output=True, timeout=300)
    with promstack.prometheus(work, data=work / "tsdb") as prom:
        yield prom


def test_prediction_from_prometheus_equals_the_stores(prometheus, tmp_path: Path) -> None:
    with Store.open(tmp_path / "local") as local:
        fill_store(local)
        expected = predict_all(local, Settings(), END)
    with Store.open(tmp_path / "empty") as empty:  # first day: nothing observed yet
        got = predict_all(empty, Settings(prometheus_url=prometheus.url), END)
    assert got.notes == []
    (want_disk,), (disk,) = expected.disks, got.disks
    assert (disk.host, disk.mountpoint, disk.status) == ("nas", "/srv", "fills")
    assert want_disk.days_until_threshold == pytest.approx(8, rel=0.02)
    for field in ("days_until_threshold", "low", "high", "used_pct", "growth_bytes_per_day"):
        assert getattr(disk, field) == pytest.approx(getattr(want_disk, field), rel=1e-3), field
    want = {m.container: m for m in expected.leaks}
    assert {m.container: (m.host, m.leak) for m in got.leaks} == {
        "leaky": ("nas", True), "steady": ("nas", False)}
    leaky = next(m for m in got.leaks if m.container == "leaky")
    assert leaky.mb_per_hour == pytest.approx(5.0, rel=0.01)
    assert leaky.mb_per_hour == pytest.approx(want["leaky"].mb_per_hour, rel=1e-3)
    assert leaky.current_mb == pytest.approx(want["leaky"].current_mb, rel=1e-3)


def test_prometheus_series_win_and_the_store_fills_in(prometheus, tmp_path: Path) -> None:
    """A mount only the store knows is still predicted; a store series Prometheus also
    has is read from Prometheus."""
    with Store.open(tmp_path) as store:
        store.add_points(SeriesKey("nas", "filesystem", "/srv", "used_bytes"),
                         [(t, 100 * GIB) for t in TIMES])  # flat: would say not filling
        store.add_points(SeriesKey("nas", "filesystem", "/srv", "size_bytes"),
                         [(t, SIZE) for t in TIMES])
        store.add_points(SeriesKey("pi", "filesystem", "/", "used_pct"),
                         [(t, 50.0) for t in TIMES])
        alone = {(d.host, d.mountpoint): d for d in predict_all(store, Settings(), END).disks}
        got = {(d.host, d.mountpoint): d for d in predict_all(
            store, Settings(prometheus_url=prometheus.url), END).disks}
    assert got.keys() == alone.keys() == {("nas", "/srv"), ("pi", "/")}
    assert alone["nas", "/srv"].status != "fills" and got["nas", "/srv"].status == "fills"
    assert got["pi", "/"] == alone["pi", "/"]


def test_a_bad_selector_is_a_note_and_the_store_answers(prometheus, tmp_path: Path) -> None:
    settings = Settings.model_validate({"prometheus_url": prometheus.url,
                                        "prometheus": {"container_memory": "rate(("}})
    with Store.open(tmp_path) as store:
        fill_store(store)
        got = predict_all(store, settings, END)
    (note,) = got.notes
    assert note.startswith(f"prometheus at {prometheus.url}: query 'rate(('")
    assert note.endswith("history from the store only")
    assert {m.container for m in got.leaks} == {"leaky", "steady"}
