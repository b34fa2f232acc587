"""Find, load and render patterns.

Patterns are data, not code: the top-level ``patterns/`` directory of the source tree
(the design fixes that place; ``scripts/setup.sh`` installs the project editable, so
edits there are live). A wheel carries them as data files to
``<prefix>/share/homelab-ops/patterns``, looked up next. ``$HOMELAB_OPS_PATTERNS``
overrides both, e.g. for your own patterns.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import ValidationError

from homelab_ops.errors import InputError, pydantic_field, read_text, validate_input
from homelab_ops.locations import patterns_dir
from homelab_ops.models.stack import PatternDef, PatternUnits

DEFINITION = "pattern.yaml"
TEMPLATE = "units.yaml.j2"


def pattern_names() -> list[str]:
    root = patterns_dir()
    return sorted(p.name for p in root.iterdir() if (p / DEFINITION).is_file())


def load_pattern(name: str) -> PatternDef:
    return _load(patterns_dir() / name)


@cache
def _load(directory: Path) -> PatternDef:
    path = directory / DEFINITION
    raw = read_yaml(path)
    pattern = validate_input(PatternDef, raw, path)
    if pattern.name != directory.name:
        raise InputError(path, "name", f"must equal its directory name {directory.name!r}")
    if not (directory / TEMPLATE).is_file():
        raise InputError(directory / TEMPLATE, None, "pattern template is missing")
    return pattern


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a second ``image:`` in a stack
    file would quietly win, so a repeated key is an error instead."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise DuplicateKey(key, line, seen[key])
            seen[key] = line
        return super().construct_mapping(node, deep)


class DuplicateKey(ValueError):
    def __init__(self, key: Any, line: int, first: int) -> None:
        self.line = line
        super().__init__(f"duplicate key {key!r} (first at line {first})")


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys (raises DuplicateKey)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)


def read_yaml(path: Path, text: str | None = None) -> Any:
    """Parse a YAML file; a syntax error or a repeated key names the file and line."""
    try:
        return safe_load(read_text(path) if text is None else text)
    except DuplicateKey as exc:
        raise InputError(path, f"line {exc.line}", str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise InputError(path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None


def render(name: str, context: dict[str, Any]) -> PatternUnits:
    """Render a pattern's template with its parameters into validated units.

    Values enter the YAML through ``tojson`` (JSON is YAML), so a parameter can never
    change the structure of what the template declares. Raises ValueError with the
    field of the rendered document that is wrong."""
    template = _environment(str(patterns_dir() / name)).get_template(TEMPLATE)
    text = template.render(**context)
    try:
        return PatternUnits.model_validate(safe_load(text))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ValueError(f"{pydantic_field(err['loc'])}: {err['msg']}") from None


@cache
def _environment(directory: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
