"""Evaluate the intent matcher on the learn or held-out split of the evaluation set.

Run ``.venv/bin/python -m tests.unit.ask_eval.evaluate [learn|heldout|fresh|cv] [-v]`` to print
intent accuracy (in-scope questions answered with the right intent and slots) and
out-of-scope rejection (questions answered with "I don't know"). The names that exist
are those of a typical self-hosted stack, given as an observation document so the same
code path as ``ask`` builds them.

``cv`` is the out-of-scope rejection of the learn split by 5-fold cross-validation: each
fold's out-of-scope questions taken out of the database's out-of-scope examples, which
they are also part of (how the out-of-scope examples were judged without the held-out
splits).

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

from homelab_ops.query import matcher
from homelab_ops.query.intents import load_database
from homelab_ops.query.matcher import match
from homelab_ops.query.normalize import normalize
from homelab_ops.query.slots import Names
from homelab_ops.query.tfidf import Index

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


def cross_validate_refusal(folds: int = 5) -> tuple[float, list[tuple[str, str]]]:
    """Learn's out-of-scope rejection, each fold scored without its own questions among
    the out-of-scope examples; and the questions answered (text, intent)."""
    db, names = load_database(), world()
    questions = [c["text"] for c in load("learn") if c["intent"] is None]
    known = [(i.id, db.canonical(e)) for i in db.intents for e in i.examples]
    answered, real = [], matcher.index
    try:
        for fold in range(folds):
            held = {normalize(q) for n, q in enumerate(questions) if n % folds == fold}
            fold_index = Index(known + [(matcher.OUT_OF_SCOPE, db.canonical(e))
                                        for e in db.out_of_scope if e not in held])
            matcher.index = lambda fold_index=fold_index: fold_index
            answered += [(q[:80], m.intent.id) for n, q in enumerate(questions)
                         if n % folds == fold and (m := match(q, names)).intent]
    finally:
        matcher.index = real
    return 1 - len(answered) / len(questions), answered


def main(argv: list[str]) -> None:
    split = argv[0] if argv else "heldout"
    if split == "cv":
        rejection, answered = cross_validate_refusal()
        print(f"learn, 5-fold cross-validation: out-of-scope rejection {rejection:.3f}")
        for text, got in answered if "-v" in argv else ():
            print(f"  {text!r}: expected None, got {got}")
        return
    r = evaluate(split)
    print(f"{split}: intent accuracy {r.accuracy:.3f} ({r.in_scope} questions), "
          f"out-of-scope rejection {r.rejection:.3f} ({r.out_of_scope} questions)")
    if "-v" in argv:
        for text, want, got in r.errors:
            print(f"  {text!r}: expected {want}, got {got}")


if __name__ == "__main__":
    main(sys.argv[1:])
