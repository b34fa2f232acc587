"""bench/recommend: the recommender's accuracy on its labelled set and the latency of a
whole ``homelab-ops recommend`` process.

Accuracy is that of tests/unit/recommend_eval: top-1 and top-3 (the labelled skill, with
the named service resolved), category, and out-of-scope rejection, on the learn split
(where the threshold was chosen) and the held-out split (never tuned on). Latency is the
median of ``--runs`` fresh processes, interleaved with a bare ``python -c pass`` and an
``ask`` of the same store as baselines side by side, with the ratio to ``python -c pass``.

    .venv/bin/python -m bench.recommend [--runs 9] [--containers 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.ask import populate, timed
from tests.unit.recommend_eval.evaluate import evaluate

TARGETS = {"top1": 0.85, "top3": 0.95, "rejection": 0.9}
TEXTS = ("svc-7 keeps crashing", "why is svc-3 slow", "how do i free disk space",
         "is my server secure", "svc-2 cannot reach svc-4")


def latency(state_dir: Path, runs: int) -> dict[str, float]:
    exe = Path(sys.executable)
    cli = str(exe.with_name("homelab-ops"))
    env = {**os.environ, "HOMELAB_OPS_STATE_DIR": str(state_dir)}
    cases: dict[str, list[float]] = {"python -c pass": [], "ask (question)": [],
                                     "recommend": []}
    for i in range(runs + 1):
        text = TEXTS[i % len(TEXTS)]
        row = [timed([str(exe), "-c", "pass"], env),
               timed([cli, "ask", "which containers use the most memory"], env),
               timed([cli, "recommend", text], env)]
        if i:  # the first round warms the file cache and writes bytecode
            for name, ms in zip(cases, row, strict=True):
                cases[name].append(ms)
    return {name: statistics.median(v) for name, v in cases.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--containers", type=int, default=40)
    args = ap.parse_args()
    print("recommender accuracy (tests/unit/recommend_eval)")
    for split in ("learn", "heldout"):
        r = evaluate(split)
        met = all(getattr(r, k) >= v for k, v in TARGETS.items())
        print(f"  {split:8s} top-1 {r.top1:.3f}  top-3 {r.top3:.3f}  category {r.category:.3f}"
              f"  ({r.in_scope} tasks)  rejection {r.rejection:.3f} ({r.out_of_scope} texts)"
              + (f"  targets {'met' if met else 'MISSED'}" if split == "heldout" else ""))
    print("  targets on heldout: " + ", ".join(f"{k} >= {v}" for k, v in TARGETS.items()))
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        state.mkdir()
        populate(state, args.containers)
        result = latency(state, args.runs)
    base = result["python -c pass"]
    print(f"whole process, median of {args.runs} runs ({os.cpu_count()} CPUs, shared)")
    for name, ms in result.items():
        print(f"  {name:18s} {ms:7.1f} ms  {ms / base:5.2f}x python -c pass")


if __name__ == "__main__":
    main()
