"""bench/cycle: one autonomous cycle with no fault on a lab host running 20 containers,
against `observe` alone measured in the same run — the ratio is what orient, decide,
act and learn add on top of the probe. Prints the per-phase split of the cycle; then
ten faults over the same number of cycles: the things worth telling against the
messages composed (the notification dedup ratio).

Builds its own lab in a temporary state directory and removes it afterwards.

    .venv/bin/python -m bench.cycle [--containers 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.timing import median_time
from homelab_ops.inventory import inventory_from_entries
from homelab_ops.lab import Lab, lab_hosts
from homelab_ops.lab.podman import podman
from homelab_ops.loop.cycle import run_cycle
from homelab_ops.models.settings import LoopSettings, Settings
from homelab_ops.observe import observe
from homelab_ops.store import Store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--containers", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp) / "lab")
        try:
            lab.up()
            for i in range(args.containers):
                podman(lab.paths, "run", "-d", "--name", f"bench-{i:02d}", "--health-cmd",
                       "wget -q -O /dev/null http://127.0.0.1/", lab.spec.image)
            inv = inventory_from_entries(
                [e for e in lab_hosts(lab.paths.root) if e[0] == "@local"], "bench")
            # probe every cycle (no reuse of a fresh observation): a like-for-like ratio
            settings = Settings(state_dir=Path(tmp), loop=LoopSettings(
                fresh_observation_seconds=0))
            with Store(Path(tmp) / "state.db") as store:
                t_obs, _ = median_time(lambda: observe(inv, store, settings), args.runs)
                reports = []
                t_cycle, _ = median_time(
                    lambda: reports.append(run_cycle(inv, store, settings)), args.runs)
                # then ten faults nobody declared (jobs that exited): what the cycles
                # would tell against the messages they send
                for i in range(10):
                    podman(lab.paths, "run", "--name", f"bench-job-{i}", lab.spec.image,
                           "true")
                faulted = [run_cycle(inv, store, settings) for _ in range(args.runs)]
        finally:
            lab.down()
    acted = sum(len(r.actions) for r in reports)
    print(f"cycle bench: @local with {args.containers} containers, no fault, "
          f"median of {args.runs}")
    print(f"observe alone          {t_obs:8.2f} s")
    print(f"cycle (whole)          {t_cycle:8.2f} s   ratio {t_cycle / t_obs:.2f}x "
          f"(actions taken: {acted})")
    for phase in reports[0].phases:
        med = statistics.median(r.phases[phase] for r in reports)
        print(f"  {phase:20} {med:8.2f} s")
    events = sum(r.notice_events for r in faulted)
    sent = sum(r.notice_messages for r in faulted)
    print(f"10 faults, {args.runs} cycles: {events} things to tell, {sent} message(s): "
          f"dedup ratio {events / max(sent, 1):.1f}")


if __name__ == "__main__":
    main()
