"""Evaluate the intent matcher on the learn or held-out split of the evaluation set.

Run ``.venv/bin/python -m tests.unit.ask_eval.evaluate [learn|heldout|fresh] [-v]`` to print
intent accuracy (in-scope questions answered with the right intent and slots) and
out-of-scope rejection (questions answered with "I don't know"). The names that exist
are those of a typical self-hosted stack, given as an observation document so the same
code path as ``ask`` builds them.

``fresh`` is a second held-out split, written for issue 16 before the matcher was
changed for it and never tuned on: slang and metaphors for resources, yes/no questions
with verbs of failure about one named service, terse forms, statements, typos, requests
to act (which ``ask`` never does) and hostile input. ``heldout`` was written alongside
the learn split and is closer to its phrasing.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from homelab_ops.query.matcher import match
from homelab_ops.query.slots import Names

HERE = Path(__file__).resolve().parent
SERVICES = ("traefik", "authelia", "jellyfin", "immich-server", "immich-ml", "immich-postgres",
            "prometheus", "cadvisor", "vaultwarden", "paperless", "redis")
NETWORKS = ("proxy", "immich-backend", "monitoring", "podman")
FILESYSTEMS = ("/", "/boot", "/mnt/data", "/mnt/backup")


def world() -> Names:
    doc = {"containers": [{"name": n} for n in SERVICES],
           "networks": [{"name": n} for n in NETWORKS],
           "filesystems": [{"mountpoint": m} for m in FILESYSTEMS]}
    return Names.from_observations([doc])


def load(split: str) -> list[dict]:
    lines = (HERE / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@dataclass
class Result:
    accuracy: float
    rejection: float
    in_scope: int
    out_of_scope: int
    errors: list[tuple[str, str | None, str | None]]  # text, expected, got


def evaluate(split: str) -> Result:
    names = world()
    right = rejected = n_in = n_out = 0
    errors = []
    for case in load(split):
        m = match(case["text"], names)
        got = m.intent.id if m.intent else None
        if case["intent"] is None:
            n_out += 1
            rejected += got is None
            if got is not None:
                errors.append((case["text"][:80], None, got))
            continue
        n_in += 1
        slots = {k: s.name for k, s in m.slots.items()}
        # expected slots must be found; an extra optional slot is no error
        ok = got == case["intent"] and all(slots.get(k) == v for k, v in case["slots"].items())
        right += ok
        if not ok:
            errors.append((case["text"], case["intent"], f"{got} {slots}"))
    return Result(right / n_in, rejected / n_out, n_in, n_out, errors)


def main(argv: list[str]) -> None:
    split = argv[0] if argv else "heldout"
    r = evaluate(split)
    print(f"{split}: intent accuracy {r.accuracy:.3f} ({r.in_scope} questions), "
          f"out-of-scope rejection {r.rejection:.3f} ({r.out_of_scope} questions)")
    if "-v" in argv:
        for text, want, got in r.errors:
            print(f"  {text!r}: expected {want}, got {got}")


if __name__ == "__main__":
    main(sys.argv[1:])
