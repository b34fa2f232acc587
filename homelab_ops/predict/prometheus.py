"""Prometheus as a history source: container memory (cadvisor) and filesystem usage
(node_exporter) read through its HTTP API's ``query_range``, keyed like the store's
series, so a homelab with months of Prometheus history gets predictions on day one."""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request

from homelab_ops.errors import HomelabError
from homelab_ops.models.settings import PrometheusHistory, mask_url
from homelab_ops.store import SeriesKey

MAX_POINTS = 10_000  # Prometheus refuses a query_range answer of more than 11,000 points
Points = list[tuple[float, float]]


class PrometheusError(HomelabError):
    """Prometheus could not be asked or did not answer a query."""


def fetch_history(url: str, cfg: PrometheusHistory, now: float, disk_since: float,
                  memory_since: float) -> dict[SeriesKey, Points]:
    """Every container's memory and every filesystem's used and size bytes, as the
    store's series keys (``mem_bytes``, ``used_bytes``, ``size_bytes``)."""
    size, free = f"({cfg.filesystem_size})", f"({cfg.filesystem_free})"
    wanted = (("container", cfg.container_label, "mem_bytes", cfg.container_memory,
               memory_since),
              ("filesystem", cfg.mountpoint_label, "size_bytes", size, disk_since),
              ("filesystem", cfg.mountpoint_label, "used_bytes", f"{size} - {free}",
               disk_since))
    found: dict[SeriesKey, Points] = {}
    for kind, label, metric, expr, since in wanted:
        for series in query_range(url, expr, since, now, cfg):
            labels = series["metric"]
            if not labels.get(label) or not labels.get(cfg.host_label):
                continue
            key = SeriesKey(host_name(labels[cfg.host_label]), kind, labels[label], metric)
            points = [(float(t), float(v)) for t, v in series["values"]]
            if len(points) > len(found.get(key, ())):  # one series per key: the fullest
                found[key] = points
    return found


def host_name(instance: str) -> str:
    """``nas:9100`` -> ``nas`` (an IPv6 ``[::1]:9100`` -> ``::1``)."""
    return re.sub(r"^\[(.*)\]$", r"\1", re.sub(r":\d+$", "", instance))


def query_range(url: str, expr: str, start: float, end: float,
                cfg: PrometheusHistory) -> list[dict]:
    """The matrix ``expr`` evaluates to over [start, end], at the finest step that
    keeps every series within one answer."""
    step = max(cfg.step_seconds, math.ceil((end - start) / MAX_POINTS))
    query = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    where = f"{url.rstrip('/')}/api/v1/query_range"
    try:
        with urllib.request.urlopen(f"{where}?{query}", timeout=cfg.timeout_seconds) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as exc:  # Prometheus explains a bad query in the body
        body = _json_or_none(exc) or {"error": f"HTTP {exc.code}"}
    except (OSError, ValueError) as exc:
        raise PrometheusError(f"prometheus at {mask_url(url)}: {_reason(exc)}") from None
    if body.get("status") != "success":
        raise PrometheusError(f"prometheus at {mask_url(url)}: query {expr!r}: "
                              f"{body.get('error')}")
    return body["data"]["result"]


def _json_or_none(exc: urllib.error.HTTPError) -> dict | None:
    try:
        return json.load(exc)
    except ValueError:
        return None


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    return getattr(reason, "strerror", None) or str(reason)
