"""Ask a question, with the result cache in front: the entry point of ``ask`` and
``cache warm``.

Two cache levels, both in the store's query scope so a new observation clears them:
``ask:q:<normalised question>`` holds the whole reply, so a repeated
question is one indexed read with no matching at all; ``ask:a:<intent>:<slots>`` holds
the handler's answer, shared by every phrasing of the same question, which is what
``warm`` fills. The reply carries the data's timestamp, and its "as of" text is
rendered when it is served, so a cached answer never claims to be fresher than it is.

A question that is really a task gets the recommender's skills from ``tasks`` (the CLI
passes ``recommend.handoff.task_for``): the recommender is built on this package's
pieces, so this package only knows the shape of that hand-off, never its module.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from homelab_ops.query.fmt import freshness
from homelab_ops.query.normalize import normalize
from homelab_ops.store import QUERY_CACHE_SCOPE, Store

if TYPE_CHECKING:  # the matcher and handlers load only when a question is computed
    from homelab_ops.query.handlers import Answer
    from homelab_ops.query.intents import Intent
    from homelab_ops.query.matcher import Match
    from homelab_ops.query.slots import Names

UNKNOWN_TTL = 900.0
# (question, names, the matcher's intent or None, what it saw) -> skills reply or None
TaskFinder = Callable[[str, "Names", "str | None", str], "dict[str, Any] | None"]


def ask(store: Store, question: str, now: float | None = None,
        tasks: TaskFinder | None = None) -> dict[str, Any]:
    """The reply to ``question``: understood or not, always with its freshness; with
    ``tasks``, a question that is really a task also gets the skills for it."""
    now = time.time() if now is None else now
    text = normalize(question)
    key = "ask:q:" + text  # bounded by the normaliser; a parameter, never SQL text
    reply = store.cache_get(key, now=now)
    if reply is None:
        reply, ttl = _compute(store, question, now, tasks)
        store.cache_put(key, reply, ttl=ttl, scope=QUERY_CACHE_SCOPE, now=now)
        reply["cached"] = False
    else:
        reply["cached"] = True
    reply["freshness"] = freshness(reply["as_of"], now)
    return reply


def _compute(store: Store, question: str, now: float, tasks: TaskFinder | None
             ) -> tuple[dict[str, Any], float]:
    """Match and answer (imported here: a cache hit needs none of it)."""
    from homelab_ops.query.handlers import Answer, Context
    from homelab_ops.query.matcher import match
    from homelab_ops.query.slots import Names

    latest = store.latest_observations()
    names = Names.from_observations(latest.values())
    m = match(question, names)
    explain = _explain(m)
    task = None if m.refused or tasks is None else tasks(
        question, names, m.intent.id if m.intent else None, m.canonical)
    if m.intent is None:
        if task is not None:
            return {"understood": False, "intent": None, "slots": {}, "data": None,
                    "as_of": None, "sources": [], "suggestions": [], **task,
                    "explain": explain}, UNKNOWN_TTL
        return _unknown(m, explain), UNKNOWN_TTL
    intent = m.intent
    problem = _slot_problem(intent, m, latest)
    slots = {k: s.name for k, s in m.slots.items() if s.name is not None}
    if problem is not None:  # judged against the names of the latest observation
        answer = Answer([problem], None, Context(store, latest, now).observed_at,
                        ["observations"])
    else:
        answer = answer_for(store, intent, slots, latest, now)
    reply = {"understood": True, "intent": intent.id, "description": intent.description,
             "slots": slots, **answer.to_dict(), "explain": explain}
    reply["lines"] = [*_names_used(m), *reply["lines"], *(task["lines"] if task else ())]
    if task is not None:
        reply.update(category=task["category"], recommended=task["recommended"])
    return reply, intent.ttl


def answer_for(store: Store, intent: Intent, slots: dict[str, str],
               latest: dict[str, dict], now: float) -> Answer:
    """The handler's answer for an intent and its slots, from the cache if there."""
    from homelab_ops.query.handlers import Answer, Context, handlers

    key = f"ask:a:{intent.id}:{json.dumps(slots, sort_keys=True)}"
    cached = store.cache_get(key, now=now)
    if cached is not None:
        return Answer(**cached)
    answer = handlers()[intent.id](Context(store, latest, now), slots)
    store.cache_put(key, answer.to_dict(), ttl=intent.ttl, scope=QUERY_CACHE_SCOPE, now=now)
    return answer


def _names_used(m: Match) -> list[str]:
    """Say so when a word stood for a longer name ("whoami" answered as home-whoami)."""
    return [f"(taking {s.said!r} to mean {s.name})"
            for s in m.slots.values()
            if s.name and s.name.lower() != s.said.lower()
            and s.said.lower() in re.split(r"[-_.]", s.name.lower())]


def _slot_problem(intent: Intent, m: Match, latest: dict[str, dict]) -> str | None:
    """Why the question cannot be answered as asked: a required name is missing, or a
    name was given that exists nowhere (with the closest real names)."""
    from homelab_ops.query.slots import Names

    if not latest and (intent.required or m.slots):
        return "Nothing observed yet: run `homelab-ops observe` first."
    for slot, slot_type in intent.slots.items():
        value = m.slots.get(slot)
        if value is not None and value.name is None:
            close = f" Did you mean {', '.join(value.close)}?" if value.close else ""
            return f"There is no {slot_type} called {value.said!r}.{close}"
        if value is None and slot in intent.required:
            known = sorted(Names.from_observations(latest.values()).of(slot_type).values())
            return f"Which {slot_type}? Known: {', '.join(known) or 'none'}."
    return None


def _unknown(m: Match, explain: dict[str, Any]) -> dict[str, Any]:
    from homelab_ops.query.matcher import suggestions

    if m.refused:  # a request to act: no near question would be what was meant
        near: list[dict[str, str]] = []
        lines = [f"I only answer questions; I never change anything "
                 f"({', '.join(repr(w) for w in m.refused)} asks for an action)."]
    else:
        near = [{"intent": i.id, "description": i.description,
                 "example": re.sub(r"\{(\w+)\}", r"<\1>", i.examples[0])}
                for i in suggestions(m)]
        lines = ["I don't know how to answer that. Closest questions I can answer:"]
        lines += [f"  - {s['description']} (e.g. \"{s['example']}\")" for s in near]
    return {"understood": False, "intent": None, "slots": {}, "lines": lines, "data": None,
            "as_of": None, "sources": [], "suggestions": near, "explain": explain}


def _explain(m: Match) -> dict[str, Any]:
    """Why the matcher chose what it chose: the words it saw at each step, what lifted
    the intent (template, cues, a filled slot) and which words carried its TF-IDF
    score."""
    from homelab_ops.query.matcher import carried

    return {"normalised": m.text, "masked": m.masked, "lexicon": m.canonical,
            "via": m.via, "score": round(m.score, 3), "margin": round(m.margin, 3),
            "cues": list(m.cues), "preferred_for_slots": m.preferred,
            "refused": list(m.refused),
            "carried": [[w, v] for w, v in carried(m)],
            "slots": {k: {"said": s.said, "name": s.name, "close": list(s.close)}
                      for k, s in m.slots.items()},
            "ranking": [[i, round(s, 3)] for i, s in m.ranking[:5]]}


def warm(store: Store, now: float | None = None, tasks: TaskFinder | None = None
         ) -> dict[str, Any]:
    """Precompute the common answers: every intent without a required slot (the
    prediction answers included) and every per-name intent for every name that exists,
    through the same path as a question, so both cache levels are filled."""
    from homelab_ops.query.intents import load_intents
    from homelab_ops.query.slots import Names

    now = time.time() if now is None else now
    started = time.perf_counter()
    names = Names.from_observations(store.latest_observations().values())
    warmed: dict[str, int] = {}
    for intent in load_intents():
        for question in _canonical(intent, names):
            ask(store, question, now=now, tasks=tasks)
            warmed[intent.id] = warmed.get(intent.id, 0) + 1
    return {"answers": sum(warmed.values()), "by_intent": warmed,
            "seconds": round(time.perf_counter() - started, 3)}


def _canonical(intent: Intent, names: Names) -> list[str]:
    """The intent's first example, once per real name when it needs one."""
    if not intent.required:
        plain = next((e for e in intent.examples if "{" not in e), None)
        return [plain] if plain else []
    slot = intent.required[0]
    example = next(e for e in intent.examples if "{" + slot + "}" in e)
    real = names.of(intent.slots[slot]).values()
    return [example.replace("{" + slot + "}", name) for name in sorted(real)]
