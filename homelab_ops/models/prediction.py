"""Result shapes of the predictions: disk exhaustion, memory leaks, forecasts and the
pre-deployment capacity check. Everything the CLI, the cache, ``ask``, the decider
and backup rotation read about the future has one of these shapes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

REPORT_KEY = "prediction:all"  # the whole PredictionReport; it carries ``generated_at``


def disk_key(host: str, mountpoint: str) -> str:
    """Where the cache keeps a filesystem's DiskPrediction (written by the predictor,
    read by backup rotation and ``ask``)."""
    return f"prediction:disk:{host}:{mountpoint}"


def leak_key(host: str, container: str) -> str:
    """Where the cache keeps a container's LeakPrediction."""
    return f"prediction:leak:{host}:{container}"


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class Ranged(Result):
    """An estimate with its range: ``low``/``high`` bound it at ``interval`` confidence
    (None: unbounded on that side, or no estimate)."""

    low: float | None = None
    high: float | None = None
    interval: float = 0.8


class DiskPrediction(Ranged):
    """When a filesystem crosses its critical threshold.

    ``days_until_threshold`` is None unless ``status`` is "fills" or
    "over_threshold" (0); ``low``/``high`` bound it at ``interval`` confidence and
    ``high`` is None when the slowest plausible growth is zero (it may never fill).
    """

    host: str = ""
    mountpoint: str = ""
    status: Literal["fills", "not_filling", "over_threshold", "insufficient_data"]
    days_until_threshold: float | None = None
    threshold_pct: float
    used_pct: float | None = None
    growth_bytes_per_day: float | None = None
    growth_low: float | None = None
    growth_high: float | None = None
    trend_start: float | None = None
    span_days: float = 0.0
    p_value: float | None = None
    basis: str


class LeakPrediction(Result):
    """Memory growth of one container since its last restart.

    ``leak`` is True only for significant growth that is still going on at the end
    of the window; ``confidence`` (0..1) is what the decider weighs.
    """

    host: str = ""
    container: str = ""
    status: Literal["leak", "no_leak", "insufficient_data"]
    leak: bool = False
    mb_per_hour: float | None = None
    mb_per_hour_low: float | None = None
    mb_per_hour_high: float | None = None
    interval: float = 0.8
    since: float | None = None
    span_hours: float = 0.0
    current_mb: float | None = None
    limit_mb: float | None = None
    hours_until_limit: float | None = None
    hours_until_limit_low: float | None = None
    hours_until_limit_high: float | None = None
    confidence: float = Field(0.0, ge=0.0, le=1.0)
    basis: str


class Forecast(Ranged):
    """Value of a series at ``at`` with an ``interval`` range; ``current`` is the
    latest observed level."""

    at: float
    value: float | None = None
    current: float | None = None
    slope_per_day: float | None = None
    basis: str


Bytes = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class CapacityRequirements(Result):
    """What a stack declares it needs on one host (mountpoint -> bytes for disks)."""

    host: str
    memory_bytes: Bytes = 0.0
    disk_bytes: dict[Annotated[str, Field(pattern="^/")], Bytes] = Field(default_factory=dict)
    horizon_days: float = Field(7.0, gt=0, allow_inf_nan=False)


class CapacityItem(Result):
    resource: str
    need_bytes: float
    free_now_bytes: float | None = None
    free_at_horizon_bytes: float | None = None
    fits: bool
    basis: str


class CapacityReport(Result):
    host: str
    fits: bool
    horizon_days: float
    items: list[CapacityItem]


class PredictionReport(Result):
    generated_at: float
    disks: list[DiskPrediction] = Field(default_factory=list)
    leaks: list[LeakPrediction] = Field(default_factory=list)
    # why a configured history source was not used (Prometheus did not answer)
    notes: list[str] = Field(default_factory=list)
