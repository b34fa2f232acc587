"""Match a question to an intent and fill its slots, or admit not knowing.

Order: normalise -> recognise real names and mask them with placeholders -> correct
misspelled words against the database's vocabulary -> phrase templates -> TF-IDF
nearest examples. A template hit lifts an intent's score halfway to 1, so a template
settles clear phrasings while TF-IDF still ranks two templates that both match; it
counts only when every slot it captured is or looks like a name, so "status of all
containers" is not read as a service called "all containers". The answer is accepted
only when the best score reaches the database's threshold and leads the runner-up by
its margin: two intents that fit almost equally well are a guess, and a guess that runs
the wrong query misleads more than "I don't know". Threshold and margin were chosen by
5-fold cross-validation on the learn split of tests/unit/ask_eval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from homelab_ops.query.intents import Intent, load_database, load_intents
from homelab_ops.query.normalize import normalize
from homelab_ops.query.slots import (
    Found,
    Names,
    filesystem_in,
    find_names,
    guess_name,
    mask,
    resolve,
)
from homelab_ops.query.tfidf import Index

SUGGESTIONS = 3


@dataclass(frozen=True)
class Slot:
    """A slot value: the real name, or what was said when nothing by that name exists
    (``name`` None, ``close`` the nearest real names)."""

    said: str
    name: str | None
    close: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    text: str  # normalised
    masked: str  # with recognised names as placeholders
    intent: Intent | None  # None: not understood
    score: float
    margin: float
    via: str  # "template", "tfidf" or "none"
    slots: dict[str, Slot] = field(default_factory=dict)
    ranking: tuple[tuple[str, float], ...] = ()  # (intent id, score), best first


@cache
def _index() -> Index:
    db = load_database()
    return Index([(i.id, db.canonical(e)) for i in db.intents for e in i.examples])


def intent_by_id(intent_id: str) -> Intent:
    return next(i for i in load_intents() if i.id == intent_id)


def match(question: str, names: Names) -> Match:
    """The intent and slots of ``question`` given the names that exist now."""
    text = normalize(question)
    tokens = text.split()
    found = find_names(tokens, names)
    db = load_database()
    masked = db.spell(mask(tokens, found))
    if not masked:
        return Match(text, masked, None, 0.0, 0.0, "none")
    scores = _index().scores(db.canonical(masked))
    hits = {i.id: m for i in db.intents for m in [_template(i, masked, names)] if m is not None}
    for intent_id in hits:
        scores[intent_id] = (1.0 + scores.get(intent_id, 0.0)) / 2
    ranking = tuple(sorted(scores.items(), key=lambda kv: -kv[1]))
    (best, top), runner = ranking[0], ranking[1][1] if len(ranking) > 1 else 0.0
    via = "template" if best in hits else "tfidf"
    if top < db.threshold or top - runner < db.margin:
        return Match(text, masked, None, top, top - runner, via, ranking=ranking)
    intent = intent_by_id(best)
    slots = _fill(intent, found, hits.get(best, {}), tokens, names)
    return Match(text, masked, intent, top, top - runner, via, slots, ranking)


def _template(intent: Intent, masked: str, names: Names) -> dict[str, str] | None:
    """Slot captures of the first template of ``intent`` that matches with slots that
    are placeholders, real names, or look like names (no word of them is a word the
    database uses: "nextcloud" is a name, "all containers" is not), else None."""
    vocabulary = load_database().vocabulary
    for template in intent.templates:
        m = template.match(masked)
        if m is None:
            continue
        captured = {k: v for k, v in m.groupdict().items() if v is not None}
        if all(v == "{" + k + "}" or resolve(v, intent.slots[k], names)[0] is not None
               or not vocabulary.intersection(v.split()) for k, v in captured.items()):
            return captured
    return None


def _fill(intent: Intent, found: list[Found], captured: dict[str, str],
          tokens: list[str], names: Names) -> dict[str, Slot]:
    """Slot values for ``intent``: a recognised name of the slot's type, else what a
    template captured (resolved fuzzily, or kept as said with the closest names)."""
    slots = {}
    for slot, slot_type in intent.slots.items():
        hit = next((f for f in found if f.type == slot_type), None)
        said = captured.get(slot, "")
        if hit is not None:
            slots[slot] = Slot(" ".join(tokens[hit.start:hit.end]), hit.name)
        elif slot_type == "filesystem" and (leaf := filesystem_in(tokens, names)):
            slots[slot] = Slot(leaf, leaf)
        elif said and said != "{" + slot + "}":
            name, close = resolve(said, slot_type, names)
            slots[slot] = Slot(said, name, tuple(close))
        elif slot in intent.required and (guess := guess_name(tokens, slot_type, names)):
            slots[slot] = Slot(*guess)
    return slots


def suggestions(m: Match, n: int = SUGGESTIONS) -> list[Intent]:
    """The ``n`` intents closest to a question that was not understood."""
    return [intent_by_id(intent_id) for intent_id, _ in m.ranking[:n]]
