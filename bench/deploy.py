"""Benchmark of the stack deploy: first deploy vs idempotent re-deploy on the lab.

Run: ``.venv/bin/python -m bench.deploy [--runs N]``

Builds a throwaway lab (or uses ``--state-dir`` with a lab that is up), deploys a
stack of nine services (all nine patterns, ten containers) through the same pyinfra
deploy the CLI uses, then deploys it again unchanged, ``--runs`` times each on fresh
stack names. It prints wall time, commands sent to the host (fact reads, operation
commands and uploads) and operations that changed, and the re-deploy as a ratio of
the first deploy. Health validation (testinfra) is not part of either number.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import yaml
from pyinfra.api.host import Host

SECRET_ENV = "BENCH_DB_PASSWORD"


def nine_pattern_stack(name: str, ports: dict[str, int]) -> dict:
    """Every pattern once on the lab's @local host, published on the given ports
    (keys: proxy, web, sso, app, media, metrics, site)."""
    return {
        "name": name,
        "hosts": ["@local"],
        "networks": {"proxy": {}},
        "secrets": {"db-password": {"env": SECRET_ENV}},
        "services": {
            "proxy": {"pattern": "reverse-proxy", "networks": ["proxy"],
                      "params": {"http_port": ports["proxy"], "podman_socket": ""}},
            "web": {"pattern": "web-app", "networks": ["proxy"], "depends_on": ["proxy"],
                    "params": {"host": "web.lab.arpa", "publish_port": ports["web"]}},
            "sso": {"pattern": "sso-web-app", "networks": ["proxy"], "depends_on": ["proxy"],
                    "params": {"host": "sso.lab.arpa", "publish_port": ports["sso"]}},
            "db": {"pattern": "database", "params": {"password": "db-password"}},
            "app": {"pattern": "app-database", "networks": ["proxy"], "depends_on": ["proxy"],
                    "params": {"host": "app.lab.arpa", "password": "db-password",
                               "publish_port": ports["app"]}},
            "media": {"pattern": "media-server", "networks": ["proxy"],
                      "params": {"host": "media.lab.arpa", "media": ["pool:data/media"],
                                 "devices": ["/dev/zero"], "publish_port": ports["media"]}},
            "metrics": {"pattern": "monitoring-exporter", "params": {"port": ports["metrics"]}},
            "worker": {"pattern": "background-worker", "depends_on": ["db"],
                       "params": {"image": "docker.io/library/python:3.12-slim",
                                  "health_cmd": "true"}},
            "site": {"pattern": "static-site", "networks": ["proxy"],
                     "params": {"host": "www.lab.arpa", "root": "pool:data/photos",
                                "publish_port": ports["site"]}},
        },
    }


@contextmanager
def counting():
    """Count every command and upload pyinfra sends to a host during the block."""
    counts = {"commands": 0}
    run, put = Host.run_shell_command, Host.put_file

    def counted_run(self, *args, **kwargs):
        counts["commands"] += 1
        return run(self, *args, **kwargs)

    def counted_put(self, *args, **kwargs):
        counts["commands"] += 1
        return put(self, *args, **kwargs)

    Host.run_shell_command, Host.put_file = counted_run, counted_put
    try:
        yield counts
    finally:
        Host.run_shell_command, Host.put_file = run, put


def measure(inventory, declared, secrets) -> dict:
    from homelab_ops.stacks import run

    with counting() as counts:
        start = time.perf_counter()
        result = run.deploy(inventory, declared, secrets)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "commands": counts["commands"],
            "changes": result.hosts["@local"].changes}


def bench(lab, runs: int, workdir: Path) -> list[tuple[dict, dict]]:
    import os

    from homelab_ops.collection.lib.secrets import read_secrets
    from homelab_ops.inventory import inventory_from_entries
    from homelab_ops.lab import lab_hosts
    from homelab_ops.lab.podman import podman
    from homelab_ops.lab.sshd import free_port
    from homelab_ops.stacks.load import load_stack

    os.environ[SECRET_ENV] = uuid.uuid4().hex
    inventory = inventory_from_entries(lab_hosts(lab.paths.root), lab.paths.inventory)
    pairs = []
    for _ in range(runs):
        name = f"bench{uuid.uuid4().hex[:6]}"
        keys = ("proxy", "web", "sso", "app", "media", "metrics", "site")
        path = workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(nine_pattern_stack(name, {k: free_port() for k in keys})))
        declared = load_stack(path)
        secrets = read_secrets(declared)
        try:
            pairs.append((measure(inventory, declared, secrets),
                          measure(inventory, declared, secrets)))
        finally:
            ids = podman(lab.paths, "ps", "-aq", "--filter",
                         f"label=homelab-ops.stack={name}").stdout.split()
            if ids:
                podman(lab.paths, "rm", "--force", "--time", "0", *ids)
    return pairs


def report(pairs: list[tuple[dict, dict]]) -> None:
    def med(i: int, key: str) -> float:
        return statistics.median(p[i][key] for p in pairs)

    print(f"stack deploy on the lab: 9 services (all nine patterns, 10 containers), "
          f"{len(pairs)} run(s), medians")
    print(f"{'':<22}{'wall s':>10}{'commands':>10}{'changes':>9}")
    for i, label in enumerate(("first deploy", "idempotent re-deploy")):
        print(f"{label:<22}{med(i, 'seconds'):>10.2f}{med(i, 'commands'):>10.0f}"
              f"{med(i, 'changes'):>9.0f}")
    print(f"re-deploy / first: wall time {med(1, 'seconds') / med(0, 'seconds'):.2f}, "
          f"commands {med(1, 'commands') / med(0, 'commands'):.2f}; "
          f"re-deploy changes: {med(1, 'changes'):.0f} (must be 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--state-dir", type=Path,
                        help="use the lab under this state directory (must be up)")
    args = parser.parse_args()
    from homelab_ops.lab import Lab

    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        own = args.state_dir is None
        lab = Lab((Path(tmp) if own else args.state_dir) / "lab")
        try:
            if own:
                lab.up()
            report(bench(lab, args.runs, Path(tmp)))
        finally:
            if own:
                lab.down()


if __name__ == "__main__":
    main()
