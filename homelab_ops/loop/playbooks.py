# TEMPORARY SMOKE SHIM — not committed; replaced by the real module from wt-playbooks
import subprocess, time
from typing import Any, Literal
from pydantic import BaseModel

class Playbook(BaseModel):
    name: str; risk: str; reversible: bool = True; changes: str = ""; verifies: str = ""; handles: tuple[str, ...]

PLAYBOOKS = {"restart": Playbook(name="restart", risk="low", handles=("container_down", "unhealthy")),
             "free-disk": Playbook(name="free-disk", risk="low", handles=("disk_full",))}

class ActionResult(BaseModel):
    playbook: str; host: str; target: str; ok: bool; changed: bool; error: str | None = None; detail: dict = {}; seconds: float

class Verification(BaseModel):
    ok: bool; checks: list[str]; error: str | None = None; seconds: float

def _env(inventory, host):
    h = next(h for h in inventory if h.name == host)
    import os
    return {**os.environ, **h.data.get("_env", {})}

def run_playbook(inventory, host, name, params, dry_run=False):
    t = time.monotonic()
    if dry_run:
        return ActionResult(playbook=name, host=host, target=params.get("service",""), ok=True, changed=False, seconds=0)
    p = subprocess.run(["podman", "restart", params["service"]], env=_env(inventory, host), capture_output=True, text=True)
    return ActionResult(playbook=name, host=host, target=params["service"], ok=p.returncode == 0, changed=True, error=p.stderr.strip() or None, seconds=time.monotonic()-t)

def verify(inventory, host, name, params):
    time.sleep(1)
    p = subprocess.run(["podman", "inspect", "--format", "{{.State.Status}}", params["service"]], env=_env(inventory, host), capture_output=True, text=True)
    ok = p.stdout.strip() == "running"
    return Verification(ok=ok, checks=[f"state {p.stdout.strip()}"], error=None if ok else "not running", seconds=1)
