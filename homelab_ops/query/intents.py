"""The intent database: a data file shipped in the package (``intents.json``).

Each intent has an id, a cache TTL (short for records written between observations,
such as backups; long for answers from observations, which a new observation
invalidates anyway), a one-line description (shown as a suggestion when a question
is not understood), typed slots, phrase templates and example phrasings. Examples use
``{service}``/``{network}``/``{filesystem}`` placeholders, the same tokens the matcher
puts where it recognises a real name, so examples and questions compare like for like.

The file also holds the matcher's acceptance threshold, margin and slot band, a lexicon
(groups of words that mean one thing: "ram", "rss" and "mem" are "memory"; "died",
"crashed" and "exited" are "fail") and the words that ask for an action (``ask`` only
reads, so "delete all snapshots" and "restart jellyfin" are refused, never answered
with the nearest read), and examples of questions ``ask`` does not answer at all.
Each intent may carry cues: sets of lexicon words that, all present and none of the
excluded ones, say what the question is about whatever the word order ("fail" with a
service name is that service's state; "grow" with "memory" is a leak). All of it is
data chosen on the learn split, not code.

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
SPELL_SAME_LENGTH = 5


@dataclass(frozen=True)
class Cue:
    """Words that, all present (each one of its ``a|b`` alternatives) and none of
    ``none``, point at one intent. Words are lexicon words after canonicalisation, or a
    slot placeholder such as ``{service}``."""

    text: str  # as written in the file, for --explain
    all_of: tuple[frozenset[str], ...]
    none: frozenset[str]

    def fires(self, words: set[str]) -> bool:
        return all(alt & words for alt in self.all_of) and not self.none & words


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
    cues: tuple[Cue, ...] = ()


@dataclass(frozen=True)
class Database:
    intents: tuple[Intent, ...]
    synonyms: dict[str, str]  # word -> its lexicon group, before cues and TF-IDF
    threshold: float  # least score to accept an intent
    margin: float  # least lead over the runner-up
    slot_band: float  # how far below the best an intent whose required slots are filled wins
    refuse: frozenset[str]  # words asking for an action wherever they are: never answered
    commands: frozenset[str]  # verbs that ask for an action when they open the question
    command_objects: frozenset[str]  # what follows such a verb in a command ("restart the")
    # polite words before a command verb ("can you restart", "please stop"), skipped
    openers: tuple[tuple[str, ...], ...] = ()
    # questions ask does not answer (how-tos, trivia, chat, requests to act): an intent
    # of their own for TF-IDF, so a question nearer to them than to any intent is refused
    out_of_scope: tuple[str, ...] = ()

    def canonical(self, text: str) -> str:
        """``text`` with lexicon words replaced by their group, so "ram", "rss" and
        "memory" are one term."""
        return " ".join(self.synonyms.get(w, w) for w in text.split())

    def action(self, text: str) -> tuple[str, ...]:
        """The words of ``text`` that ask for an action: a destructive word anywhere
        ("wipe", "sudo"), or a command verb opening the question after any polite
        opener, alone or before an object ("restart jellyfin", "could you stop the
        proxy"), which "restart history of jellyfin" is not."""
        words = text.split()
        asked = tuple(w for w in words if w in self.refuse)
        opener = next((o for o in self.openers if tuple(words[:len(o)]) == o), ())
        words = words[len(opener):]
        if words and words[0] in self.commands and (
                len(words) == 1 or words[1] in self.command_objects):
            asked = (words[0], *asked)
        return asked

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every word of the examples, templates and synonyms: the words a question is
        spelled against."""
        words = {w for i in self.intents for e in i.examples for w in e.split()}
        words |= {w for i in self.intents for w in i.words}
        return frozenset(words | set(self.synonyms) | self.refuse | self.commands)

    @cached_property
    def spelling(self) -> frozenset[str]:
        """The vocabulary and the words of the out-of-scope examples: "weather" is left
        as it is, not corrected to "whether". Only for spelling: a word of those
        examples still looks like a name ("nextcloud")."""
        return self.vocabulary | {w for e in self.out_of_scope for w in e.split()}

    def spell(self, text: str) -> str:
        """``text`` spelled against this database's words (see ``spell``)."""
        return spell(text, self.spelling)


def spell(text: str, vocabulary: frozenset[str]) -> str:
    """Correct words outside ``vocabulary`` to the closest word in it ("memroy" ->
    "memory", "bakup" -> "backup"). Character n-grams tolerate a typo in a long
    word, but a transposition in a short keyword breaks most of its n-grams, and the
    keyword is what tells two intents apart. Short words, placeholders, paths and
    numbers are left alone, and a word of up to ``SPELL_SAME_LENGTH`` letters is
    corrected only to a word of its length (a swapped or mistyped letter): one
    letter more or less in a short word is as often another word ("dice", "die")."""
    out = []
    for word in text.split():
        if len(word) >= SPELL_MIN and word.isalpha() and word not in vocabulary:
            close = [c for c in get_close_matches(word, vocabulary, n=3,
                                                  cutoff=SPELL_CUTOFF)
                     if len(word) > SPELL_SAME_LENGTH or len(c) == len(word)]
            word = close[0] if close else word
        out.append(word)
    return " ".join(out)


@cache
def load_database() -> Database:
    """The packaged database: templates compiled, examples normalised."""
    return parse_database(
        json.loads(files("homelab_ops.query").joinpath("intents.json").read_text()))


def parse_database(raw: dict) -> Database:
    """A database from the file's JSON; a contradiction in it is a ValueError naming
    the field."""
    groups = synonyms(raw.get("lexicon", {}))
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
            cues=tuple(_cue(item["id"], c, groups) for c in item.get("cues", ())),
        ))
    matcher, refuse = raw["matcher"], raw.get("refuse", {})
    return Database(tuple(intents), groups, float(matcher["threshold"]),
                    float(matcher["margin"]), float(matcher["slot_band"]),
                    frozenset(refuse.get("anywhere", ())),
                    frozenset(refuse.get("commands", ())),
                    frozenset(refuse.get("command_objects", ())),
                    openers=tuple(tuple(o.split()) for o in refuse.get("openers", ())),
                    out_of_scope=tuple(normalize(e) for e in raw.get("out_of_scope", ())))


def synonyms(lexicon: dict[str, list[str]], source: str = "intents.json") -> dict[str, str]:
    """word -> group; a word in two groups would mean two things, so it is an error
    (naming ``source``, the file the lexicon came from)."""
    out: dict[str, str] = {}
    for group, words in lexicon.items():
        for word in words:
            if out.setdefault(word, group) != group:
                raise ValueError(f"{source}: lexicon: {word!r} is in both "
                                 f"{out[word]!r} and {group!r}")
    return out


def _cue(intent_id: str, cue: dict[str, list[str]], synonyms: dict[str, str]) -> Cue:
    """A cue from the file; a cue word that is itself a lexicon member (not its group)
    could never fire, since questions are canonicalised first, so it is an error."""
    alternatives = [w.split("|") for w in cue["all"]]
    excluded = list(cue.get("none", ()))
    stray = sorted({w for ws in [*alternatives, excluded] for w in ws
                    if synonyms.get(w, w) != w})
    if stray:
        raise ValueError(f"intents.json: {intent_id}: cues: {stray} are lexicon members; "
                         f"write their groups {sorted({synonyms[w] for w in stray})}")
    text = " + ".join(cue["all"]) + (f" (not {', '.join(excluded)})" if excluded else "")
    return Cue(text, tuple(frozenset(a) for a in alternatives), frozenset(excluded))


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
