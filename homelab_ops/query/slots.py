"""Recognise names that really exist (services, networks, filesystems) in a question.

Names come from the latest observation, so "jelyfin" finds the container jellyfin and
a name that exists nowhere is never invented. A recognised name is replaced by its
slot placeholder before intent matching: "is jellyfin running" and "is traefik
running" then look the same to the matcher, as they should.

Fuzzy matching uses difflib's ratio on the normalised spelling: short names (<= 4
characters) must match exactly, since one typo in "db" is another word; longer ones
need a ratio of at least ``FUZZY_CUTOFF`` and the same numbers. Filesystems are
recognised by their path ("/mnt/data", never a bare "/", which is punctuation as often
as the root); their last path component ("data") and a bare "/" only count once the
question is known to be about disks, because "data" is also an ordinary word. A network
name before "networks" describes them ("all podman networks"), it names none of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher, get_close_matches

from homelab_ops.query.normalize import normalize

FUZZY_CUTOFF = 0.84
GUESS_CUTOFF = 0.75  # once an intent is known to need a name, one more typo is fine
SHORT = 4
MAX_SPAN = 3
_DIGITS = re.compile(r"\d+")
_PARTS = re.compile(r"[-_.]")


@dataclass(frozen=True)
class Names:
    """The names a question may refer to, by slot type: normalised spelling -> real."""

    service: dict[str, str] = field(default_factory=dict)
    network: dict[str, str] = field(default_factory=dict)
    filesystem: dict[str, str] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)  # real names of running containers

    @classmethod
    def from_observations(cls, docs: Iterable[dict]) -> Names:
        names = cls()
        for doc in docs:
            for c in doc.get("containers", []):
                names.service.setdefault(normalize(c["name"]), c["name"])
                if c.get("state") == "running":
                    names.running.add(c["name"])
            for n in doc.get("networks", []):
                names.network.setdefault(normalize(n["name"]), n["name"])
            for fs in doc.get("filesystems", []):
                names.filesystem.setdefault(normalize(fs["mountpoint"]) or "/",
                                            fs["mountpoint"])
        return names

    def of(self, slot_type: str) -> dict[str, str]:
        return getattr(self, slot_type)


@dataclass(frozen=True)
class Found:
    """A name found in the question: which real name, how sure, and where (tokens)."""

    type: str
    name: str
    score: float
    start: int
    end: int


def similarity(said: str, name: str) -> float:
    """How alike a spoken span and a normalised name are (0..1); hyphens are optional,
    so "immich server", "immich-server" and "immichserver" are the same. Numbers must
    match exactly: they tell instances apart (db1, db2)."""
    if said == name or said.replace("-", "") == name.replace("-", ""):
        return 1.0
    if len(name) <= SHORT or _DIGITS.findall(said) != _DIGITS.findall(name):
        return 0.0  # a typo in "db" is another word; "svc-77" is not a typo of "svc-7"
    return max(SequenceMatcher(None, said, name).ratio(),
               SequenceMatcher(None, said.replace("-", ""), name.replace("-", "")).ratio())


def find_names(tokens: list[str], names: Names) -> list[Found]:
    """The best non-overlapping recognised names in ``tokens``, left to right."""
    candidates = []
    for start in range(len(tokens)):
        for end in range(start + 1, min(start + MAX_SPAN, len(tokens)) + 1):
            said = "-".join(tokens[start:end])
            for slot_type in ("service", "network"):
                for norm, real in names.of(slot_type).items():
                    if 2 * min(len(said), len(norm)) < FUZZY_CUTOFF * (len(said) + len(norm)):
                        continue  # the lengths alone rule it out: skip the expensive ratio
                    score = similarity(said, norm)
                    if score >= FUZZY_CUTOFF and not (
                            slot_type == "network" and tokens[end:end + 1] == ["networks"]):
                        candidates.append(Found(slot_type, real, score, start, end))
            if end == start + 1 and len(said) > 1 and said in names.filesystem:
                candidates.append(Found("filesystem", names.filesystem[said], 1.0, start, end))
    taken: set[int] = set()
    chosen = []
    for f in sorted(candidates, key=lambda f: (-f.score, -(f.end - f.start), f.start)):
        span = set(range(f.start, f.end))
        if not span & taken:
            taken |= span
            chosen.append(f)
    return sorted(chosen, key=lambda f: f.start)


def mask(tokens: list[str], found: list[Found]) -> str:
    """The question with each recognised name replaced by its placeholder."""
    out, i = [], 0
    for f in found:
        out += [*tokens[i:f.start], "{" + f.type + "}"]
        i = f.end
    return " ".join(out + tokens[i:])


def resolve_name(said: str, slot_type: str, names: Names) -> tuple[str | None, list[str]]:
    """A real name for a slot value the templates captured but that was not
    recognised: (name, []) when one is close enough, else (None, close names)."""
    known = names.of(slot_type)
    said = said.strip()
    if slot_type == "filesystem" and (leaf := filesystem_in(said.split(), names)):
        return leaf, []  # "the data pool" names /mnt/data
    best = max(known, key=lambda n: similarity(said, n), default=None)
    if best is not None and similarity(said, best) >= FUZZY_CUTOFF:
        return known[best], []
    if slot_type == "service" and (whole := by_part(said, names)):
        return whole, []
    close = get_close_matches(said, list(known), n=3, cutoff=0.5)
    return None, [known[c] for c in close]


def by_part(said: str, names: Names) -> str | None:
    """The one running container whose name has ``said`` as a whole part ("whoami" in
    home-whoami, split on - _ .); None when no name or several have it."""
    hits = {real for real in names.running if said.lower() in _PARTS.split(real.lower())}
    return hits.pop() if len(hits) == 1 else None


def filesystem_in(tokens: list[str], names: Names) -> str | None:
    """A filesystem named by its last path component ("data" for /mnt/data) or "root"
    for "/"; used only for questions already known to be about disks."""
    by_leaf = {(mp.rstrip("/").rsplit("/", 1)[-1] or "root"): real
               for mp, real in names.filesystem.items()}
    for token in tokens:
        if token in by_leaf:
            return by_leaf[token]
        if token in names.filesystem:  # a bare "/": about disks, it is the root
            return names.filesystem[token]
    return None


def guess_name(tokens: list[str], slot_type: str, names: Names) -> tuple[str, str] | None:
    """(said, real name) of the closest name of ``slot_type`` in the question, with the
    looser ``GUESS_CUTOFF``: used only when the intent is settled and needs this slot."""
    best: tuple[float, str, str] | None = None
    for start in range(len(tokens)):
        for end in range(start + 1, min(start + MAX_SPAN, len(tokens)) + 1):
            said = "-".join(tokens[start:end])
            for norm, real in names.of(slot_type).items():
                score = similarity(said, norm)
                if score >= GUESS_CUTOFF and (best is None or score > best[0]):
                    best = (score, " ".join(tokens[start:end]), real)
    return (best[1], best[2]) if best else None
