"""What every file-backed shape shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Unknown keys are errors, so a typo in a settings, stack, pattern or backup file is
    never silently ignored; a loaded value is never changed in place."""

    model_config = ConfigDict(extra="forbid", frozen=True)
