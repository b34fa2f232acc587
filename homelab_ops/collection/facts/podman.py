"""podman facts. Where podman needs a private configuration (the lab), the inventory sets
host data ``_env``, which pyinfra applies to every fact and operation on that host."""

from __future__ import annotations

import json
from typing import Any

from pyinfra.api import FactBase


class PodmanInfo(FactBase):
    """Version and storage/runtime configuration of the host's podman."""

    requires_command = "podman"

    def command(self) -> str:
        return "podman info --format json"

    def process(self, output: list[str]) -> dict[str, Any]:
        info = json.loads("\n".join(output))
        host, store = info.get("host", {}), info.get("store", {})
        return {
            "version": info.get("version", {}).get("Version"),
            "graph_root": store.get("graphRoot"),
            "run_root": store.get("runRoot"),
            "cgroup_manager": host.get("cgroupManager"),
            "network_backend": host.get("networkBackend"),
            "oci_runtime": (host.get("ociRuntime") or {}).get("name"),
        }
