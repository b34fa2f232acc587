"""bench/observe: one observe of a lab host running 20 containers over SSH.

1. homelab-ops' batched probe (one SSH command per host) against a baseline that runs
   one command per fact per container over ssh, as a shell script would — same host,
   same containers, same run. Prints wall time and commands per probe, and the ratio.
2. Fan-out: observing 1 inventory host against 20 inventory aliases of the same lab
   sshd. All 20 share this machine's 2 cores, so the ratio shows how pyinfra's parallel
   connections overlap, not what 20 real hosts (each with its own CPU) would cost.

Builds its own lab in a temporary state directory and removes it afterwards.

    .venv/bin/python -m bench.observe [--containers 20] [--aliases 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from bench.timing import median_time
from homelab_ops.inventory import inventory_from_entries
from homelab_ops.lab import Lab, lab_hosts
from homelab_ops.lab.podman import podman
from homelab_ops.models.settings import Settings
from homelab_ops.observe import observe
from homelab_ops.store import Store


def shell_script_probe(lab: Lab, names: list[str], mounts: list[str]) -> int:
    """What a hand-written script does: one ssh command per fact and per container."""
    cmds = [["podman", "ps", "-a", "--format", "json"], ["podman", "network", "ls"],
            ["df", "-B1"], ["cat", "/proc/meminfo"], ["cat", "/proc/loadavg"], ["nproc"]]
    cmds += [["btrfs", "filesystem", "usage", "-b", m] for m in mounts]
    for name in names:
        cmds += [["podman", "healthcheck", "run", name], ["podman", "inspect", name],
                 ["podman", "stats", "--no-stream", "--format", "json", name]]
    ssh = ["ssh", "-F", str(lab.paths.ssh_config), lab.spec.ssh_alias]
    for cmd in cmds:
        subprocess.run([*ssh, *cmd], capture_output=True, check=False)
    return len(cmds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--containers", type=int, default=20)
    ap.add_argument("--aliases", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp) / "lab")
        try:
            lab.up()
            names = [f"bench-{i:02d}" for i in range(args.containers)]
            for name in names:
                podman(lab.paths, "run", "-d", "--name", name, "--health-cmd",
                       "wget -q -O /dev/null http://127.0.0.1/", lab.spec.image)
            entries = dict(lab_hosts(lab.paths.root))
            ssh_data = entries[lab.spec.ssh_alias]
            mounts = list(ssh_data["btrfs_pools"].values())
            one = inventory_from_entries([(lab.spec.ssh_alias, ssh_data)], "bench")
            many = inventory_from_entries(
                [(f"alias-{i:02d}", ssh_data) for i in range(args.aliases)], "bench")
            with Store(Path(tmp) / "state.db") as store:
                t_ours, obs = median_time(lambda: observe(one, store, Settings()), args.runs)
                t_base, n_base = median_time(lambda: shell_script_probe(lab, names, mounts),
                                       args.runs)
                t_many, _ = median_time(lambda: observe(many, store, Settings()), args.runs)
            seen = len(obs[0].containers)
            rt = obs[0].cost.round_trips
        finally:
            lab.down()
    print(f"observe bench: 1 lab host over SSH, {seen} containers, median of {args.runs}")
    print(f"{'':34}{'wall (s)':>10}{'commands':>10}")
    print(f"{'homelab-ops batched probe':34}{t_ours:10.2f}{rt:10d}")
    print(f"{'shell script, one cmd per fact':34}{t_base:10.2f}{n_base:10d}")
    print(f"speed-up {t_base / t_ours:.1f}x, commands {n_base / rt:.0f}x fewer")
    print(f"fan-out: 1 host {t_ours:.2f} s, {args.aliases} aliases {t_many:.2f} s, "
          f"ratio {t_many / t_ours:.1f} (all on this machine's cores)")


if __name__ == "__main__":
    main()
