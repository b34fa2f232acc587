"""Normalise a question before matching: one canonical spelling for what a user typed.

Why each step: NFKC folds full-width and compatibility forms (full-width "is jellyfin"
becomes plain ASCII); the confusables table folds Cyrillic/Greek look-alikes that NFKC
keeps apart (a "jellyfin" spelled with a Cyrillic "j" is read as the Latin word, never
as a different name); casefold ignores case; invisible format characters vanish; an
apostrophe inside a word goes ("what's" is one word, as people read it); and
punctuation other than the characters that occur in service names and paths
(``- _ . /``) becomes a space. The length caps bound the work any input can cause: the
raw text is cut before NFKC (which may expand it) and again after.
"""

from __future__ import annotations

import re
import unicodedata

MAX_RAW = 1000
MAX_CHARS = 200

# Look-alike letters NFKC does not fold (Cyrillic, Greek and Latin variants, lower case,
# written as escapes so the table itself shows what it folds).
CONFUSABLES = str.maketrans({
    "\u0430": "a", "\u0432": "b", "\u0435": "e", "\u0451": "e", "\u0456": "i", "\u0457":
    "i", "\u0458": "j", "\u043a": "k", "\u043c": "m", "\u043d": "h", "\u043e": "o",
    "\u0440": "p", "\u0441": "c", "\u0455": "s", "\u0442": "t", "\u0443": "y", "\u0445":
    "x", "\u0501": "d", "\u0261": "g", "\u03b1": "a", "\u03b2": "b", "\u03b5": "e",
    "\u03b9": "i", "\u03ba": "k", "\u03bd": "v", "\u03bf": "o", "\u03c1": "p", "\u03c4":
    "t", "\u03c5": "u", "\u03c7": "x", "\u0131": "i",
})
_APOSTROPHE = re.compile(r"(?<=\w)['\u2019](?=\w)")  # what's -> whats, not "what s"
_KEEP = re.compile(r"[^\w\-./{}]+")  # {} keeps slot placeholders of examples intact
_EDGE = re.compile(r"(?<![\w/])[.\-]+|[.\-]+(?![\w/])")


def _fold_space(ch: str) -> str:
    """Invisible format characters (zero-width joiners) vanish, so they cannot split a
    name; other control and separator characters become a space."""
    category = unicodedata.category(ch)
    if category == "Cf":
        return ""
    return " " if category[0] in "CZ" else ch


def normalize(text: str) -> str:
    """The canonical form of ``text``: folded, lower case, single-spaced, capped."""
    text = unicodedata.normalize("NFKC", text[:MAX_RAW]).casefold()
    text = text.translate(CONFUSABLES)
    text = "".join(_fold_space(ch) for ch in text)
    text = _KEEP.sub(" ", _APOSTROPHE.sub("", text).replace("_", "-"))
    text = _EDGE.sub(" ", text)
    return " ".join(text.split())[:MAX_CHARS].strip()
