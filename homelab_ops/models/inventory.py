"""The host data keys homelab-ops reads from a pyinfra inventory (documented defaults in
inventory/group_data/all.py). Other keys belong to pyinfra or the user and pass through."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HostData(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    env: dict[str, str] = Field(default_factory=dict, alias="_env")
    systemd: bool | None = None
    btrfs_pools: dict[str, str] = Field(default_factory=dict)
    # another inventory name of the same machine: observed, never acted through
    alias_of: str | None = None
