"""Recommendations with memory: what was offered, what was taken, and whether it
worked, kept in the store so the ranking learns (``classify.success_rate``).

A person reports with ``recommend --took SKILL --worked|--failed``; the cycle ranks
the skills whose playbook handles a finding with ``for_finding`` and records what its
pick did with ``cycle_outcome``. Outcomes are kept per (category, skill):
restarting works for a crash and may not for slowness.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from homelab_ops.errors import HomelabError
from homelab_ops.models.decision import SkillPick
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


def for_finding(store: Store, finding: str, handlers: Sequence[str]) -> list[SkillPick]:
    """The skills of ``handlers`` (the cycle playbooks that handle the finding code
    ``container_down``, ``disk_full``, ..., in the registry's order: equal rates keep it),
    best learned rate first. Each carries the
    factor people's own reports put on the cycle's confidence: only lowering it (a
    person saying a restart did not fix crashes makes the loop ask first), never
    raising it above what the loop's own record allows."""
    cat = load_catalogue()
    tally, people = store.skill_tally(), store.skill_tally(source="person")
    prior_mean = cat.prior[0] / sum(cat.prior)
    # one skill per playbook: the one named after it (prune-images also runs free-disk,
    # for a person who asks for it; the cycle runs the playbook as itself)
    own = {s.playbook: s for s in cat.skills if s.playbook and s.id == s.playbook}
    fits = sorted(((success_rate(tally, s.category, s.id, cat.prior), s)
                   for s in own.values() if s.playbook in handlers),
                  key=lambda t: (-t[0], list(handlers).index(t[1].playbook or "")))
    out = []
    for rank, (rate, s) in enumerate(fits, 1):
        worked, failed = people.get((s.category, s.id), (0, 0))
        mean = success_rate(people, s.category, s.id, cat.prior)
        factor = min(1.0, (1 - cat.weight + cat.weight * mean)
                     / (1 - cat.weight + cat.weight * prior_mean))
        out.append(SkillPick(
            skill=s.id, playbook=s.playbook or "", rank=rank, of=len(fits),
            rate=round(rate, 3), people=round(factor, 3),
            why=f"skill {s.id} ranked {rank} of {len(fits)} for {finding} (learned rate "
                f"{rate:.2f}; people reported {worked} worked, {failed} failed)"))
    return out


def cycle_outcome(store: Store, finding: str, pick: SkillPick, worked: bool,
                  now: float | None = None) -> None:
    """The cycle took ``pick`` for ``finding`` and verified whether it worked: the offer
    and its outcome are kept (under the skill's own category), so what a person is
    recommended learns from what the loop saw."""
    category = load_catalogue().skill(pick.skill).category
    offered = store.record_recommendation(source="cycle", text=finding, category=category,
                                          skills=[pick.skill], ts=now)
    store.record_skill_outcome(source="cycle", category=category, skill=pick.skill,
                               worked=worked, recommendation=offered,
                               ts=time.time() if now is None else now)
