"""Recommendations with memory: what was offered, what was taken, and whether it
worked, kept in the store so the ranking learns (``classify.success_rate``).

A person reports with ``recommend --took SKILL --worked|--failed``; the cycle calls
``record_outcome(..., source="cycle")`` for its own picks and ``for_finding`` to rank
the skills whose playbook handles a finding. Outcomes are kept per (category, skill):
restarting works for a crash and may not for slowness.
"""

from __future__ import annotations

import time

from homelab_ops.errors import HomelabError
from homelab_ops.query.slots import Names
from homelab_ops.recommend.catalogue import load_catalogue
from homelab_ops.recommend.classify import Recommendation, classify, success_rate
from homelab_ops.store import Store


def recommend(store: Store, text: str, names: Names | None = None, source: str = "person",
              now: float | None = None) -> Recommendation:
    """Classify ``text`` against the names that run now (the latest observation's
    unless given) and what was learned, and record what was offered."""
    if names is None:
        names = Names.from_observations(store.latest_observations().values())
    rec = classify(text, names, store.skill_tally())
    if rec.confident:
        store.record_recommendation(source=source, text=rec.text, category=rec.category or "",
                                    skills=[r.skill.id for r in rec.ranked], ts=now)
    return rec


def record_outcome(store: Store, skill: str, worked: bool, category: str | None = None,
                   source: str = "person", now: float | None = None) -> dict:
    """Record that ``skill`` was taken and whether it worked. Without ``category`` it
    is that of the newest recommendation that offered the skill, else the skill's own."""
    cat = load_catalogue()
    known = cat.skill(skill)
    if known is None:
        raise HomelabError(f"no skill called {skill!r}; known: "
                           f"{', '.join(s.id for s in cat.skills)}")
    offered = store.recommendation_with(skill)
    category = category or (offered["category"] if offered else known.category)
    store.record_skill_outcome(source=source, category=category, skill=skill, worked=worked,
                               recommendation=offered["id"] if offered else None,
                               ts=time.time() if now is None else now)
    worked_n, failed_n = store.skill_tally().get((category, skill), (0, 0))
    return {"skill": skill, "category": category, "worked": worked,
            "recommendation": offered["id"] if offered else None,
            "tally": {"worked": worked_n, "failed": failed_n},
            "rate": round(success_rate(store.skill_tally(), category, skill, cat.prior), 3)}


def for_finding(store: Store, finding: str, record: bool = False,
                now: float | None = None) -> list[tuple[str, str, float]]:
    """(skill, playbook, success rate) of the skills whose cycle playbook handles the
    finding code (``container_down``, ``disk_full``, ...), best rate first. With
    ``record`` the offer is kept as the cycle's recommendation, so the outcome the cycle
    records next (``record_outcome(..., source="cycle")``) points back to it."""
    from homelab_ops.loop.playbooks import PLAYBOOKS

    cat, tally = load_catalogue(), store.skill_tally()
    out = sorted(((s.id, s.playbook, success_rate(tally, s.category, s.id, cat.prior))
                  for s in cat.skills
                  if s.playbook and finding in PLAYBOOKS[s.playbook].handles),
                 key=lambda t: -t[2])
    if record and out:
        store.record_recommendation(source="cycle", text=finding,
                                    category=cat.skill(out[0][0]).category,
                                    skills=[sid for sid, _, _ in out], ts=now)
    return out
