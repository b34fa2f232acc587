"""Evaluate the recommender on the learn or held-out split of its labelled set.

``.venv/bin/python -m tests.unit.recommend_eval.evaluate [learn|heldout] [-v]`` prints
top-1 and top-3 (the labelled skill first, or among the first three, with the named
service resolved when the case names one that runs), category accuracy, and the
rejection of out-of-scope text. The names that exist are those of ask's evaluation
(a typical self-hosted stack), built through the same code path as ``recommend``.

``heldout`` was written before the classifier existed and was never tuned on; the
threshold in skills.json was chosen on ``learn`` (``python -m ... learn --sweep``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from homelab_ops.recommend.classify import classify
from tests.unit.ask_eval.evaluate import world

HERE = Path(__file__).resolve().parent


def load(split: str) -> list[dict]:
    lines = (HERE / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@dataclass
class Result:
    top1: float
    top3: float
    category: float
    rejection: float
    in_scope: int
    out_of_scope: int
    errors: list[tuple[str, str | None, str]]


def evaluate(split: str, threshold: float | None = None) -> Result:
    names = world()
    top1 = top3 = cat = rejected = n_in = n_out = 0
    errors = []
    for case in load(split):
        rec = classify(case["text"], names, threshold=threshold)
        got = [r.skill.id for r in rec.ranked]
        if case["skill"] is None:
            n_out += 1
            rejected += not rec.confident
            if rec.confident:
                errors.append((case["text"][:80], None, f"{rec.category} {got}"))
            continue
        n_in += 1
        named = case["service"] is None or rec.service == case["service"]
        top1 += named and got[:1] == [case["skill"]]
        top3 += named and case["skill"] in got
        cat += rec.category == case["category"]
        if not (named and got[:1] == [case["skill"]]):
            errors.append((case["text"], case["skill"], f"{got} service={rec.service}"))
    return Result(top1 / n_in, top3 / n_in, cat / n_in, rejected / n_out, n_in, n_out,
                  errors)


def sweep(split: str) -> None:
    """Top-1 and rejection over thresholds: how the threshold in skills.json was chosen."""
    for t in [x / 100 for x in range(10, 61, 2)]:
        r = evaluate(split, threshold=t)
        print(f"  threshold {t:.2f}: top-1 {r.top1:.3f} top-3 {r.top3:.3f} "
              f"rejection {r.rejection:.3f}")


def main(argv: list[str]) -> None:
    split = argv[0] if argv and not argv[0].startswith("-") else "heldout"
    if "--sweep" in argv:
        sweep(split)
        return
    r = evaluate(split)
    print(f"{split}: top-1 {r.top1:.3f}, top-3 {r.top3:.3f}, category {r.category:.3f} "
          f"({r.in_scope} tasks), out-of-scope rejection {r.rejection:.3f} "
          f"({r.out_of_scope} texts)")
    if "-v" in argv:
        for text, want, got in r.errors:
            print(f"  {text!r}: expected {want}, got {got}")


if __name__ == "__main__":
    main(sys.argv[1:])
