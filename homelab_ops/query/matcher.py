"""Match a question to an intent and fill its slots, or admit not knowing.

Order: normalise -> recognise real names and mask them with placeholders -> correct
misspelled words against the database's vocabulary -> refuse a request to act -> map
words to their lexicon group ("rss" -> "memory", "died" -> "fail") -> phrase templates
and cues -> TF-IDF nearest examples, where the database's out-of-scope examples (how-tos,
trivia, chat, requests to act) are one more label: a question nearer to them than to
the chosen intent is refused. A template hit or a cue lifts an intent's score
halfway to 1, so they settle clear phrasings while TF-IDF still ranks two lifted
intents; a template counts only when every slot it captured is or looks like a name,
so "status of all containers" is not read as a service called "all containers".

Among the intents within the slot band of the best, one whose slots the question fills
(all its required ones) wins over one that uses no name the question gives, and both
over one whose required slot is missing: "has vaultwarden stopped" names a service, so
it asks about that service and not about all of them. The answer is accepted only when
its score reaches the threshold and leads by the margin every rival that fits the slots
as well: two intents that fit almost equally well are a guess, and a guess that runs the
wrong query misleads more than "I don't know". Threshold, margin and band were chosen by
5-fold cross-validation on the learn split of tests/unit/ask_eval (never on its held-out
splits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from homelab_ops.locations import cache_dir
from homelab_ops.query.intents import Intent, load_database, load_intents
from homelab_ops.query.normalize import normalize
from homelab_ops.query.slots import (
    Found,
    Names,
    filesystem_in,
    find_names,
    guess_name,
    mask,
    resolve_name,
)
from homelab_ops.query.tfidf import Index

SUGGESTIONS = 3
OUT_OF_SCOPE = "(out of scope)"  # the label of the database's out-of-scope examples


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
    via: str  # "template", "cue", "tfidf", "refused", "outside" or "none"
    slots: dict[str, Slot] = field(default_factory=dict)
    ranking: tuple[tuple[str, float], ...] = ()  # (intent id, score), best first
    canonical: str = ""  # masked, in lexicon groups: what cues and TF-IDF saw
    cues: tuple[str, ...] = ()  # the cues of the chosen intent that fired
    preferred: bool = False  # chosen over a higher score: it fills its slots
    refused: tuple[str, ...] = ()  # the words that asked for an action


@cache
def index() -> Index:
    db = load_database()
    return Index.cached([(i.id, db.canonical(e)) for i in db.intents for e in i.examples]
                        + [(OUT_OF_SCOPE, db.canonical(e)) for e in db.out_of_scope],
                        cache_dir(), "ask")


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
    canonical = db.canonical(masked)
    words = set(canonical.split())
    if asked := db.action(masked):
        return Match(text, masked, None, 0.0, 0.0, "refused", canonical=canonical,
                     refused=asked)
    scores = index().scores(canonical)
    outside = scores.pop(OUT_OF_SCOPE, 0.0)
    hits = {i.id: m for i in db.intents for m in [_template(i, masked, names)] if m is not None}
    cued = {i.id: fired for i in db.intents
            for fired in [tuple(c.text for c in i.cues if c.fires(words))] if fired}
    for intent_id in hits.keys() | cued.keys():
        scores[intent_id] = (1.0 + scores.get(intent_id, 0.0)) / 2
    ranking = tuple(sorted(scores.items(), key=lambda kv: -kv[1]))
    fit = {i.id: _fit(i, words, hits.get(i.id, {})) for i in db.intents}
    top = ranking[0][1]
    best, score = max((kv for kv in ranking if top - kv[1] <= db.slot_band),
                      key=lambda kv: (fit[kv[0]], kv[1]))
    margin = score - max((s for i, s in ranking if i != best and fit[i] >= fit[best]),
                         default=0.0)
    via = "template" if best in hits else "cue" if best in cued else "tfidf"
    common = {"ranking": ranking, "canonical": canonical, "cues": cued.get(best, ()),
              "preferred": score < top}
    if score < db.threshold or margin < db.margin:
        return Match(text, masked, None, score, margin, via, **common)
    if outside > score:  # nearer to what ask does not answer than to what it does
        return Match(text, masked, None, score, margin, "outside", **common)
    intent = intent_by_id(best)
    slots = _fill(intent, found, hits.get(best, {}), tokens, names)
    return Match(text, masked, intent, score, margin, via, slots, **common)


def _fit(intent: Intent, words: set[str], captured: dict[str, str]) -> int:
    """-1: a required slot is missing; 1: the question fills every required slot and
    at least one slot (a recognised name or a template capture); 0: otherwise."""
    filled = {s for s, t in intent.slots.items() if "{" + t + "}" in words or s in captured}
    if not set(intent.required) <= filled:
        return -1
    return 1 if filled else 0


def carried(m: Match, n: int = 6) -> list[tuple[str, float]]:
    """The words of the question that carried the TF-IDF match of its best intent, with
    their share of its score."""
    if not m.ranking or not m.canonical:
        return []
    best = m.intent.id if m.intent else m.ranking[0][0]
    return index().carried(m.canonical, best)[:n]


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
        if all(v == "{" + k + "}" or resolve_name(v, intent.slots[k], names)[0] is not None
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
            name, close = resolve_name(said, slot_type, names)
            slots[slot] = Slot(said, name, tuple(close))
        elif slot in intent.required and (guess := guess_name(tokens, slot_type, names)):
            slots[slot] = Slot(*guess)
    return slots


def suggestions(m: Match, n: int = SUGGESTIONS) -> list[Intent]:
    """The ``n`` intents closest to a question that was not understood."""
    return [intent_by_id(intent_id) for intent_id, _ in m.ranking[:n]]
