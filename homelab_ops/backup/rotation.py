"""Space-forecast rotation: a pure decision over the disk prediction for the backup
target's mount point (written by the predictor into the store cache under
``prediction:disk:{host}:{mountpoint}``).

When the target is predicted to cross its threshold within the horizon, the target is
pruned down to its minimum-keep window early, and the run says why. When that prune has
nothing left to delete, early rotation cannot help: that is an alert for a human.
"""

from __future__ import annotations

from typing import Any

from homelab_ops.models.backup_run import Rotation


def plan_rotation(prediction: dict[str, Any] | None, horizon_days: float) -> Rotation:
    """Rotate early when the pessimistic end of the forecast falls inside the horizon."""
    if not prediction:
        return Rotation(early=False, reason="no disk prediction for the backup target")
    days = [v for v in (prediction.get("days_until_threshold"), prediction.get("low"))
            if isinstance(v, int | float)]
    if not days:
        return Rotation(early=False,
                        reason="backup target is not predicted to cross its threshold")
    soonest = min(days)
    basis = prediction.get("basis") or "forecast"
    if soonest > horizon_days:
        return Rotation(early=False,
                        reason=f"backup target crosses its threshold in {soonest:.1f} days "
                               f"({basis}), beyond the {horizon_days:g}-day horizon")
    return Rotation(early=True,
                    reason=f"backup target predicted to cross its threshold in "
                           f"{soonest:.1f} days ({basis}), within the {horizon_days:g}-day "
                           "horizon: pruning it down to the minimum-keep window early")


def alert(rotation: Rotation, deletable_at_minimum: int) -> str | None:
    """An alert when rotating early frees nothing (everything left is minimum-keep)."""
    if rotation.early and deletable_at_minimum == 0:
        return ("backup target will fill even at the minimum-keep window: "
                "add space or shorten min_keep")
    return None
