"""The packaged skill catalogue (``skills.json``), validated once per process.

A broken file is an ``InputError`` naming the file and the field (pydantic's location
of the first error), so the CLI prints one line instead of a traceback. Scoring reads
the same text raw (``raw_catalogue``), so ``ask`` can tell a task from a question
without importing pydantic.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from homelab_ops.errors import InputError

if TYPE_CHECKING:
    from homelab_ops.models.skill import Catalogue

FILE = "skills.json"


@cache
def _text() -> str:
    return files("homelab_ops.recommend").joinpath(FILE).read_text()


@cache
def raw_catalogue() -> dict[str, Any]:
    """The file's JSON as is: what scoring reads without loading the models (a broken
    file still fails through ``load_catalogue``, which names the field)."""
    try:
        return json.loads(_text())
    except json.JSONDecodeError:
        load_catalogue()
        raise


@cache
def load_catalogue() -> Catalogue:
    return parse_catalogue(_text(), FILE)


def parse_catalogue(text: str, source: str = FILE) -> Catalogue:
    """The catalogue in ``text``; a bad file names ``source`` and the field."""
    from pydantic import ValidationError

    from homelab_ops.models.skill import Catalogue

    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"line {exc.lineno}", exc.msg) from None
    try:
        return Catalogue.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(source, _where(raw, err["loc"]), err["msg"]) from None


def _where(raw: object, loc: tuple) -> str:
    """A pydantic location as a readable field path; a skill is named by its id
    ("skills[restart].risk"), not only its position."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            item = node[key]
            label = item.get("id") if isinstance(item, dict) else None
            parts[-1:] = [f"{parts[-1] if parts else ''}[{label or key}]"]
            node = item
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)
