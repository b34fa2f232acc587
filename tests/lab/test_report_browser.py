"""The HTML report in a real browser (Debian's chromium, headless, as root): it loads
with no request leaving the file, its four kinds of chart are in the page, and a
screenshot is written for a person to look at (``$HOMELAB_OPS_SCREENSHOT_DIR``, else
the test's temporary directory; its path is printed). No lab is needed, only the
browser."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from homelab_ops.models.report import Report
from homelab_ops.report import render
from tests.lab import chromium
from tests.unit import test_report as known_week


@pytest.fixture(autouse=True)
def _browser() -> None:
    """Fails, never skips: scripts/setup.sh installs the browser."""
    if chromium.CHROMIUM is None:
        pytest.fail("needs Debian's chromium (run scripts/setup.sh)")


store, report = known_week.store, known_week.report  # a known week in a real store
CHARTS = ["chart-health", "chart-disk-nas-/srv", "chart-leak-nas-leaky", "chart-actions"]


def test_the_report_loads_offline_with_its_charts(report: Report, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render.to_html(report))
    dom, requests = chromium.run(page, tmp_path / "dom", "--dump-dom")
    assert requests == []
    figures = re.findall(r'<figure class="chart">(.*?)</figure>', dom, re.S)
    assert [re.search(r'<g id="(chart-[^"]+)"', f)[1] for f in figures] == CHARTS
    for figure in figures:
        assert figure.count("<path") >= 5  # axes, ticks and the data drawn
    for gid in ("forecast-band", "threshold", "memory", "limit", "health-nas",
                "actions-success", "actions-failed"):
        assert f'id="{gid}"' in dom, gid
    assert "restart of worker on nas failed" in dom

    shots = Path(os.environ.get("HOMELAB_OPS_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    png = shots / "report.png"
    _, again = chromium.run(page, tmp_path / "shot", f"--screenshot={png}")
    assert again == [] and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 50_000  # a page of tables and charts, not a blank one
    print(f"screenshot of the report: {png}")


def test_a_page_that_reaches_out_is_caught(report: Report, tmp_path: Path) -> None:
    """The check above can fail: the report with one remote image injected is caught
    once its Content-Security-Policy is removed; with it, the browser never asks."""
    image = '<img src="http://192.0.2.1/pixel.png"></body>'
    with_csp = render.to_html(report).replace("</body>", image)
    without = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", with_csp)
    for name, text, expected in (("csp", with_csp, []),
                                 ("open", without, ["http://192.0.2.1/pixel.png"])):
        page = tmp_path / f"{name}.html"
        page.write_text(text)
        assert chromium.run(page, tmp_path / name, "--dump-dom")[1] == expected, name
