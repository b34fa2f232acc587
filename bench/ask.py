"""bench/ask: ``homelab-ops ask`` as a whole process, on a cache hit and on a miss, and
the matcher's accuracy on the evaluation set's held-out splits.

Each case is timed as a fresh process (interpreter start, imports, store, answer), the
median of ``--runs`` runs, interleaved with a bare ``python -c pass`` start of the same
interpreter and an import of the CLI module alone, so the ratios compare like with like
on a machine that others share. A miss clears the query cache before each run (what a
new observation does); a hit asks the question that was just answered.

Accuracy is that of tests/unit/ask_eval: in-scope questions answered with the right
intent and slots, and out-of-scope or hostile ones refused, on the old held-out split
and on the fresh one. ``--against REV`` measures the code of a git revision the same
way (its tree exported to a temporary directory, run with this tree's evaluation data),
so a change is shown before and after, side by side.

    .venv/bin/python -m bench.ask [--runs 15] [--containers 40] [--state-dir DIR]
                                  [--against REV]

Without ``--state-dir`` the store is a temporary one holding one synthetic host with
``--containers`` containers, networks, filesystems and a restart event.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from homelab_ops.store import Store

HIT_TARGET_MS = 150.0
MISS_TARGET_MS = 1000.0
QUESTIONS = ("which containers use the most memory", "is svc-7 running",
             "when was svc-3 last restarted", "what is on network net-2",
             "how much disk space is left", "when will the disk be full")
EXE = Path(sys.executable)
REPO = Path(__file__).resolve().parent.parent
EVAL_DATA = REPO / "tests/unit/ask_eval"
SPLITS = ("heldout", "fresh")
_ACCURACY = ("import json, sys; from tests.unit.ask_eval.evaluate import evaluate; "
             "print(json.dumps({s: [r.accuracy, r.rejection, r.in_scope, r.out_of_scope] "
             "for s in sys.argv[1:] for r in [evaluate(s)]}))")
_POPULATE = ("import sys; from pathlib import Path; from bench.ask import populate; "
             "populate(Path(sys.argv[1]), int(sys.argv[2]))")
# a miss: the query cache cleared by the tree's own store code, as a new observation does
_INVALIDATE = ("import sys; from pathlib import Path; "
               "from homelab_ops.store import QUERY_CACHE_SCOPE, Store\n"
               "with Store.open(Path(sys.argv[1])) as s: s.cache_invalidate(QUERY_CACHE_SCOPE)")


def populate(state_dir: Path, containers: int) -> None:
    """One host observed twice, with a restart in between (so events exist)."""
    from homelab_ops.models.observation import (
        ContainerObs,
        FilesystemObs,
        NetworkObs,
        Observation,
    )
    from homelab_ops.observe import record

    now = datetime.now(UTC)

    def obs(ts: datetime, restarted: datetime) -> Observation:
        cs = [ContainerObs(name=f"svc-{i}", id=f"{i:064x}", image="img", state="running",
                           started_at=restarted if i == 3 else now - timedelta(days=2),
                           restart_count=int(i == 3 and restarted > now - timedelta(hours=1)),
                           mem_bytes=(i + 1) * 2**24, cpu_pct=i % 7 * 1.5,
                           networks=[f"net-{i % 5}"]) for i in range(containers)]
        nets = [NetworkObs(name=f"net-{n}", members=[c.name for c in cs
                                                     if f"net-{n}" in c.networks])
                for n in range(5)]
        fss = [FilesystemObs(mountpoint=m, device="/dev/x", fstype="btrfs",
                             size_bytes=2**40, used_bytes=2**39, avail_bytes=2**39)
               for m in ("/", "/mnt/data", "/mnt/backup", "/mnt/media")]
        return Observation(host="nas", ts=ts, reachable=True, containers=cs, networks=nets,
                           filesystems=fss)

    with Store.open(state_dir) as store:
        record(store, [obs(now - timedelta(hours=2), now - timedelta(days=2))])
        record(store, [obs(now - timedelta(minutes=5), now - timedelta(minutes=30))])


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def export(rev: str, into: Path) -> Path:
    """The tree of git revision ``rev`` in ``into``, with this tree's evaluation data
    (the splits it is measured on may be newer than the revision)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    for data in EVAL_DATA.glob("*.jsonl"):
        shutil.copy(data, into / "tests/unit/ask_eval" / data.name)
    return into


def accuracy(tree: Path) -> dict[str, list[float]]:
    """split -> [in-scope accuracy, refusal rate, in-scope count, out-of-scope count]."""
    out = subprocess.run([str(EXE), "-c", _ACCURACY, *SPLITS], cwd=tree, check=True,
                         capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tree)}).stdout
    return json.loads(out)


def populate_with(tree: Path, state_dir: Path, containers: int) -> Path:
    """A store made by ``tree``'s own code (``populate`` of its bench/ask.py), so an
    older revision reads a schema it knows."""
    state_dir.mkdir()
    subprocess.run([str(EXE), "-c", _POPULATE, str(state_dir), str(containers)], cwd=tree,
                   check=True, env={**os.environ, "PYTHONPATH": str(tree)})
    return state_dir


def measure(state_dirs: dict[str, Path], runs: int,
            trees: dict[str, Path]) -> dict[str, dict[str, float]]:
    """Whole-process medians per tree (the code ``ask`` runs: PYTHONPATH comes before
    the editable install of this tree), each on its store, the trees interleaved round
    by round so a neighbour's load falls on both alike."""
    cli = [str(EXE.with_name("homelab-ops")), "ask"]
    cases = ("python -c pass", "import homelab_ops.cli", "ask (cache miss)", "ask (cache hit)")
    samples = {label: {name: [] for name in cases} for label in trees}
    for i in range(runs + 1):
        question = QUESTIONS[i % len(QUESTIONS)]
        for label, tree in trees.items():
            env = {**os.environ, "HOMELAB_OPS_STATE_DIR": str(state_dirs[label]),
                   "PYTHONPATH": str(tree)}
            subprocess.run([str(EXE), "-c", _INVALIDATE, str(state_dirs[label])], cwd=tree,
                           check=True, env=env)
            row = [timed([str(EXE), "-c", "pass"], env),
                   timed([str(EXE), "-c", "import homelab_ops.cli"], env),
                   timed([*cli, question], env), timed([*cli, question], env)]
            if i:  # the first round warms the OS file cache and writes bytecode
                for name, ms in zip(cases, row, strict=True):
                    samples[label][name].append(ms)
    return {label: {name: statistics.median(v) for name, v in by_case.items()}
            for label, by_case in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--containers", type=int, default=40)
    ap.add_argument("--state-dir", type=Path)
    ap.add_argument("--against", metavar="REV", help="also measure this git revision")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": REPO}
        if args.against:
            (Path(tmp) / "old").mkdir()
            trees = {args.against: export(args.against, Path(tmp) / "old"), **trees}
        state_dirs = {label: args.state_dir or populate_with(tree, Path(tmp) / f"state{n}",
                                                             args.containers)
                      for n, (label, tree) in enumerate(trees.items())}
        timings = measure(state_dirs, args.runs, trees)
        results = {label: (timings[label], accuracy(tree)) for label, tree in trees.items()}
    print(f"homelab-ops ask, whole process, median of {args.runs} runs "
          f"({os.cpu_count()} CPUs, shared)")
    for label, (result, _) in results.items():
        base = result["python -c pass"]
        print(f" {label}:")
        for name, ms in result.items():
            print(f"  {name:24s} {ms:7.1f} ms  {ms / base:5.2f}x python -c pass")
    result = results["this tree"][0]
    hit, miss = result["ask (cache hit)"], result["ask (cache miss)"]
    print(f"target hit <= {HIT_TARGET_MS:.0f} ms: {'met' if hit <= HIT_TARGET_MS else 'MISSED'}"
          f"; target miss <= {MISS_TARGET_MS:.0f} ms: "
          f"{'met' if miss <= MISS_TARGET_MS else 'MISSED'}")
    floor = result["import homelab_ops.cli"]
    print(f"  of the hit, {floor:.0f} ms is starting Python and importing the CLI module "
          f"(click, homelab_ops/__init__.py), before ask runs at all")
    print("matcher accuracy (tests/unit/ask_eval): in scope = right intent and slots, "
          "refused = out-of-scope and hostile questions not answered")
    print(f"  {'':12s}" + "".join(f"{s + ' in scope':>18s}{s + ' refused':>18s}"
                                  for s in SPLITS))
    for label, (_, acc) in results.items():
        print(f"  {label:12s}" + "".join(
            f"{acc[s][0]:>9.3f} of {acc[s][2]:<4d}   {acc[s][1]:>9.3f} of {acc[s][3]:<4d}   "
            for s in SPLITS))


if __name__ == "__main__":
    main()
