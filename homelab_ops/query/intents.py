"""The intent database: a data file shipped in the package (``intents.json``).

Each intent has an id, a cache TTL (short for records written between observations,
such as backups; long for answers from observations, which a new observation
invalidates anyway), a one-line description (shown as a suggestion when a question
is not understood), typed slots, phrase templates and example phrasings. Examples use
``{service}``/``{network}``/``{filesystem}`` placeholders, the same tokens the matcher
puts where it recognises a real name, so examples and questions compare like for like.

The file also holds the matcher's acceptance threshold and margin and a synonym table
(both are data tuned on the evaluation set, not code).

Template syntax, kept tiny on purpose: words separated by spaces, ``(a|b c)`` for
alternatives, ``[a|b]`` for an optional alternative, ``{slot}`` for a slot value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from difflib import get_close_matches
from functools import cache, cached_property
from importlib.resources import files

from homelab_ops.query.normalize import normalize

SLOT_TYPES = ("service", "network", "filesystem")
SPELL_MIN = 4
SPELL_CUTOFF = 0.8


@dataclass(frozen=True)
class Intent:
    id: str
    description: str
    slots: dict[str, str]  # slot name -> slot type
    required: tuple[str, ...]
    ttl: float  # seconds an answer may be served from the cache
    templates: tuple[re.Pattern[str], ...]
    examples: tuple[str, ...]
    words: frozenset[str]  # literal words of the templates


@dataclass(frozen=True)
class Database:
    intents: tuple[Intent, ...]
    synonyms: dict[str, str]  # word -> the word the examples use, before TF-IDF
    threshold: float  # least score to accept an intent
    margin: float  # least lead over the runner-up

    def canonical(self, text: str) -> str:
        """``text`` with synonyms replaced, so "ram" and "memory" are one term."""
        return " ".join(self.synonyms.get(w, w) for w in text.split())

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every word of the examples, templates and synonyms: the words a question is
        spelled against."""
        words = {w for i in self.intents for e in i.examples for w in e.split()}
        words |= {w for i in self.intents for w in i.words}
        return frozenset(words | set(self.synonyms))

    def spell(self, text: str) -> str:
        """Correct words outside the vocabulary to the closest word in it ("memroy" ->
        "memory", "bakup" -> "backup"). Character n-grams tolerate a typo in a long
        word, but a transposition in a short keyword breaks most of its n-grams, and the
        keyword is what tells two intents apart. Short words, placeholders, paths and
        numbers are left alone."""
        out = []
        for word in text.split():
            if len(word) >= SPELL_MIN and word.isalpha() and word not in self.vocabulary:
                close = get_close_matches(word, self.vocabulary, n=1, cutoff=SPELL_CUTOFF)
                word = close[0] if close else word
            out.append(word)
        return " ".join(out)


@cache
def load_database() -> Database:
    """The packaged database: templates compiled, examples normalised."""
    raw = json.loads(files("homelab_ops.query").joinpath("intents.json").read_text())
    intents = []
    for item in raw["intents"]:
        slots = dict(item.get("slots", {}))
        unknown = set(slots.values()) - set(SLOT_TYPES)
        if unknown:
            raise ValueError(f"intents.json: {item['id']}: unknown slot types {unknown}")
        intents.append(Intent(
            id=item["id"],
            description=item["description"],
            slots=slots,
            required=tuple(item.get("required", ())),
            ttl=float(item["ttl"]),
            templates=tuple(compile_template(t) for t in item.get("templates", ())),
            words=frozenset(re.findall(r"[a-z]+", " ".join(item.get("templates", ())))),
            examples=tuple(normalize(e) for e in item["examples"]),
        ))
    return Database(tuple(intents), dict(raw.get("synonyms", {})),
                    float(raw["matcher"]["threshold"]), float(raw["matcher"]["margin"]))


def load_intents() -> tuple[Intent, ...]:
    return load_database().intents


def compile_template(template: str) -> re.Pattern[str]:
    """A template as an anchored regex over normalised text. A slot matches either its
    placeholder (the name was recognised) or one to three words (it was not)."""
    pattern, started = "", False
    for token in re.findall(r"\([^)]*\)|\[[^\]]*\]|\{[^}]*\}|\S+", template.casefold()):
        optional = token.startswith("[")
        if token.startswith(("(", "[")):
            words = [re.escape(w).replace(r"\ ", r"\s+") for w in token[1:-1].split("|")]
            body = "(?:" + "|".join(words) + ")"
        elif token.startswith("{"):
            name = token[1:-1]
            body = rf"(?P<{name}>\{{{name}\}}|[\w./-]+(?:\s+[\w./-]+){{0,2}}?)"
        else:
            body = re.escape(token)
        if not started:
            pattern += f"(?:{body}\\s+)?" if optional else body
            started = not optional
        else:
            pattern += f"(?:\\s+{body})?" if optional else f"\\s+{body}"
    return re.compile(pattern + "$")
