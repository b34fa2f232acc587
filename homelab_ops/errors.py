"""Typed errors for user mistakes and environment problems.

The CLI prints ``str(error)`` as one line and exits non-zero: the message must say what
is wrong and where (file and field), so nobody needs a traceback to fix their input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

M = TypeVar("M")


class HomelabError(Exception):
    """Base of every error the CLI reports as one clear line."""

    exit_code = 1


class InputError(HomelabError):
    """A user-supplied file (settings, inventory, pattern, policy) is invalid."""

    exit_code = 2

    def __init__(self, path: Path | str, field: str | None, message: str) -> None:
        self.path = Path(path)
        self.field = field
        self.message = message
        where = f"{self.path}: {field}" if field else str(self.path)
        super().__init__(f"{where}: {message}")


class LabError(HomelabError):
    """The sandbox lab could not be built, inspected or removed."""


def read_text(path: Path, missing: str = "file does not exist") -> str:
    """A user's text file as str; missing, unreadable or not UTF-8 is an InputError that
    names the line of the first bad byte (a latin-1 editor save, a binary file)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, None, missing) from None
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(path, f"line {line}", f"not valid UTF-8 (byte 0x{data[exc.start]:02x} "
                         f"at column {column}): save the file as UTF-8") from None


def pydantic_field(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as a dotted field path (``a.b[2].c``)."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate_input(model: type[M], raw: Any, path: Path | str, prefix: str = "") -> M:
    """``model.model_validate(raw)``; the first problem becomes an InputError naming
    ``path`` and the field (under ``prefix``, where the data sits inside the file)."""
    from pydantic import ValidationError  # here, so importing errors stays light

    try:
        return model.model_validate(raw)  # type: ignore[attr-defined]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = pydantic_field(err["loc"]) if err["loc"] else ""
        field = ".".join(part for part in (prefix, field) if part) or None
        raise InputError(path, field, err["msg"].removeprefix("Value error, ")) from None
