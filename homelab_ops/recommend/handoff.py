"""When a question to ``ask`` is really a task: "jellyfin keeps crashing", "why is
jellyfin slow?", "how do i free disk space".

A question is a task when the recommender's best text score reaches ``handoff``
(skills.json, above its own acceptance threshold) and either the matcher understood
nothing, or the question opens like a request for a task (``task_openers``), or the text
is nearer the recommender's examples than the matcher's examples of the intent it chose
(both are cosine similarities over the same features); an answer nearer its intent
than ``ask_sure`` is a question without scoring the recommender at all, which keeps a
cache miss of a plain question as fast as before. On ask's learn split that marks
4 of 767 answerable questions (which still get their answer, with the skills after
it) and no out-of-scope one that the matcher rejects but one hostile line.
Scoring needs no pydantic; only a question found to be a task loads the catalogue.
"""

from __future__ import annotations

from typing import Any

from homelab_ops.query.normalize import normalize
from homelab_ops.query.slots import Names
from homelab_ops.recommend.catalogue import raw_catalogue
from homelab_ops.recommend.classify import classify, score


def task_for(question: str, names: Names, intent: str | None = None,
             canonical: str = "") -> dict[str, Any] | None:
    """The recommended skills for ``question`` when it is a task, else None;
    ``intent`` and ``canonical`` are the matcher's choice and what it saw."""
    raw = raw_catalogue()
    asked = 0.0
    if intent is not None and not normalize(question).startswith(tuple(raw["task_openers"])):
        from homelab_ops.query.matcher import index

        asked = index().scores(canonical).get(intent, 0.0)
        if asked >= float(raw["ask_sure"]):
            return None  # plainly a question: the recommender is not even built
    _, top = score(question, names).best
    if top < float(raw["handoff"]) or (asked and top <= asked):
        return None
    rec = classify(question, names)
    skills = [{"id": r.skill.id, "title": r.skill.title, "command": r.command,
               "read_only": r.skill.read_only, "confidence": r.text,
               "argv": list(r.argv) if r.argv else None} for r in rec.ranked]
    lines = [f"That sounds like a task ({rec.category}). Try:"]
    lines += [f"  - {s['title']}: {s['command']}" for s in skills]
    lines.append(f'(homelab-ops recommend "{question.strip()[:80]}" --run runs the top '
                 "read-only one)")
    return {"category": rec.category, "recommended": skills, "lines": lines}
