"""The intent database: a data file shipped in the package (``intents.json``).

Each intent has an id, a cache TTL (short for records written between observations,
such as backups; long for answers from observations, which a new observation
invalidates anyway), a one-line description (shown as a suggestion when a question
is not understood), typed slots, phrase templates and example phrasings. Examples use
``{service}``/``{network}``/``{filesystem}`` placeholders, the same tokens the matcher
puts where it recognises a real name, so examples and questions compare like for like.

Template syntax, kept tiny on purpose: words separated by spaces, ``(a|b c)`` for
alternatives, ``[a|b]`` for an optional alternative, ``{slot}`` for a slot value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from homelab_ops.query.normalize import normalize

SLOT_TYPES = ("service", "network", "filesystem")


@dataclass(frozen=True)
class Intent:
    id: str
    description: str
    slots: dict[str, str]  # slot name -> slot type
    required: tuple[str, ...]
    ttl: float  # seconds an answer may be served from the cache
    templates: tuple[re.Pattern[str], ...]
    examples: tuple[str, ...]


@cache
def load_intents() -> tuple[Intent, ...]:
    """The intents of the packaged database, templates compiled, examples normalised."""
    raw = json.loads(files("homelab_ops.query").joinpath("intents.json").read_text())
    out = []
    for item in raw["intents"]:
        slots = dict(item.get("slots", {}))
        unknown = set(slots.values()) - set(SLOT_TYPES)
        if unknown:
            raise ValueError(f"intents.json: {item['id']}: unknown slot types {unknown}")
        out.append(Intent(
            id=item["id"],
            description=item["description"],
            slots=slots,
            required=tuple(item.get("required", ())),
            ttl=float(item["ttl"]),
            templates=tuple(compile_template(t) for t in item.get("templates", ())),
            examples=tuple(normalize(e) for e in item["examples"]),
        ))
    return tuple(out)


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
