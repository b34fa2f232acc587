"""Every operation of the collection run without a host: arguments and fact values in,
the exact commands (and the noop reason) out, as pyinfra tests its own operations
(pyinfra ``tests/test_operations.py``, ``tests/operations/*/*.json``).

A case is ``tests/unit/operations/<module>.<operation>/<case>.json``: ``kwargs`` (JSON,
converted to the operation's annotated types by pydantic, so a ``Place`` or a
``ContainerSpec`` is built and validated as a deploy builds it), ``facts`` (``module.Fact``
-> the fact's arguments as pyinfra prints them, defaults left out -> value), host
``data``, ``executing`` (pyinfra's run phase rather than its prediction), and the
expected ``commands``, ``noop`` or ``exception``. A folder may also name a ``@deploy``
whose choices are worth a table (``remediate.restart``: systemd or podman): it is added
with ``add_deploy`` and ``commands`` are those of all its operations in pyinfra's order,
``noop`` the list of their noop reasons. Tabled: ``stack.stack`` (backend choice, what is
restarted or stopped), ``backup.backup`` (volume selection, the send the preview shows,
early rotation), ``remediate.restart``/``restore_data``/``free_disk``. Not tabled: the
timer deploys (``backup.backup_timers``, ``cycle.cycle_timer``, ``report.report_timer``)
only hand unit texts to pyinfra's own ``files``/``systemd`` operations; the texts are
tested in test_cycle_timer.py and test_report_timer.py, the install in the lab.

What is real: pyinfra's ``State``, ``Inventory`` and ``Host``, the ``@operation``
wrapper called through ``add_op`` (pyinfra's own API for adding an operation outside
the CLI, which also counts the change), the command generator pyinfra runs, the
commands' quoting and ``host.noop`` (its log line is what is read back).

What is faked, and why: only ``Host.get_fact``, replaced on the one host by a lookup in
the case's facts. Reading a fact means running its command on a host, which is what a
unit test must not need; the fact parsers are tested on real captured output in
test_facts.py, and the lab tests run both together. The lookup fills in the fact's
default arguments as pyinfra does (``getcallargs``), so an argument the fact does not
take fails, and a case whose facts are not all read fails as stale.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter
from pyinfra.api import Config, FileUploadCommand, Inventory, State, StringCommand
from pyinfra.api.deploy import add_deploy
from pyinfra.api.operation import add_op
from pyinfra.api.util import get_kwargs_str
from pyinfra.context import ctx_host, ctx_state

from tests.unit.test_collection_docs import documented

CASES = Path(__file__).parent / "operations"
PACKAGES = ("homelab_ops.collection.operations", "homelab_ops.collection.deploys")


class Raised(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    message: str


class Case(BaseModel):
    """One JSON case file."""

    model_config = ConfigDict(extra="forbid")
    kwargs: dict[str, Any] = {}
    facts: dict[str, dict[str, Any]] = {}
    data: dict[str, Any] = {}
    executing: bool = False
    commands: list[Any] = []
    noop: str | list[str] | None = None  # a list for a deploy
    exception: Raised | None = None


def operation_of(folder: str):
    module, name = folder.split(".")
    for package in PACKAGES:
        try:
            found = import_module(f"{package}.{module}")
        except ModuleNotFoundError:
            continue
        return getattr(found, name)
    raise LookupError(f"{folder}: no module {module} in {PACKAGES}")


def case_files() -> list[Path]:
    return sorted(CASES.glob("*/*.json"))


def fact_key(fact_cls: type, kwargs: dict[str, Any]) -> tuple[str, str]:
    """The case's key of one fact read: ``module.Class`` and its non-default arguments
    in pyinfra's ``get_kwargs_str`` form."""
    command = fact_cls().command
    called = inspect.getcallargs(command, **kwargs)  # TypeError: not an argument
    called.pop("self", None)
    params = inspect.signature(command).parameters
    given = {k: v for k, v in called.items() if not _is_default(params[k], v)}
    return f"{fact_cls.__module__.rsplit('.', 1)[-1]}.{fact_cls.__name__}", \
        get_kwargs_str(given)


def _is_default(param: inspect.Parameter, value: Any) -> bool:
    default = param.default
    return default is not param.empty and type(default) is type(value) and default == value


class Facts:
    """The case's fact values, looked up as ``host.get_fact`` would read them."""

    def __init__(self, facts: dict[str, dict[str, Any]]) -> None:
        self.facts = facts
        self.read: set[tuple[str, str]] = set()

    def __call__(self, fact_cls: type, *args: Any, **kwargs: Any) -> Any:
        assert not args, "facts are read with keyword arguments"
        key = fact_key(fact_cls, kwargs)
        if key[1] not in self.facts.get(key[0], {}):
            raise KeyError(f"the case gives no value for fact {key[0]} ({key[1]})")
        self.read.add(key)
        return json.loads(json.dumps(self.facts[key[0]][key[1]]))  # a fresh copy

    def unread(self) -> list[tuple[str, str]]:
        return [(f, k) for f, by in self.facts.items() for k in by if (f, k) not in self.read]


def encode(command: Any) -> Any:
    """A command as the case spells it: the shell line, or ``["upload", text, dest]``."""
    if isinstance(command, StringCommand):
        raw, masked = command.get_raw_value(), command.get_masked_value()
        return raw if raw == masked else [raw, masked]
    if isinstance(command, FileUploadCommand):
        command.src.seek(0)
        return ["upload", command.src.read(), str(command.dest)]
    raise TypeError(f"no case form for {command!r}")


def typed(op: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The case's JSON arguments as the operation's annotated types."""
    hints = get_type_hints(op._inner)
    return {k: TypeAdapter(hints[k]).validate_python(v) for k, v in kwargs.items()}


@contextmanager
def noops() -> Iterator[list[str]]:
    """The reasons ``host.noop`` logs (pyinfra logs them at debug or info)."""
    said: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if "noop: " in text:
                said.append(text.split("noop: ", 1)[1])

    logger, handler = logging.getLogger("pyinfra"), Catch(logging.DEBUG)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield said
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def run_case(folder: str, case: Case) -> tuple[list[Any], list[str]]:
    """The commands the operation (or deploy) yields on a host with the case's facts
    and data, and the noop reasons it gave; pyinfra's change count must agree."""
    func = operation_of(folder)
    inventory = Inventory(([("unit-host", dict(case.data))], {}))
    state = State(inventory, Config())
    host = inventory.get_host("unit-host")
    facts = Facts(case.facts)
    host.get_fact = facts  # the one fake: see the module docstring
    with noops() as said:
        if hasattr(func._inner, "deploy_name"):
            add_deploy(state, func, host=host, **typed(func, case.kwargs))
        else:
            add_op(state, func, host=host, **typed(func, case.kwargs))
        metas = [state.get_op_data_for_host(host, h) for h in state.get_op_order()]
        predicted = [m.operation_meta.will_change for m in metas]
        said.clear()
        state.is_executing = case.executing
        commands = []
        with ctx_state.use(state), ctx_host.use(host):  # as pyinfra runs it
            for op_data in metas:
                done = [encode(c) for c in op_data.command_generator()]
                assert case.executing or predicted.pop(0) == bool(done), \
                    "pyinfra's change count disagrees with the commands"
                commands += done
    assert not facts.unread(), f"facts the operation never read: {facts.unread()}"
    return commands, said


@pytest.mark.parametrize("path", case_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_operation_case(path: Path) -> None:
    case = Case.model_validate_json(path.read_text())
    if case.exception is not None:
        with pytest.raises(Exception) as raised:
            run_case(path.parent.name, case)
        assert type(raised.value).__name__ == case.exception.name
        assert str(raised.value) == case.exception.message
        return
    commands, said = run_case(path.parent.name, case)
    assert commands == case.commands
    noop = [case.noop] if isinstance(case.noop, str) else case.noop or []
    assert said == noop
    if not commands and hasattr(operation_of(path.parent.name)._inner, "is_idempotent"):
        assert noop, "an operation that changes nothing says why (host.noop)"


def test_every_operation_has_cases() -> None:
    """A "changes" case for each operation and a noop case for each that can noop."""
    missing = []
    operations = {n: f for n, f in documented().items() if hasattr(f, "is_idempotent")}
    assert operations
    for name, inner in operations.items():
        cases = [Case.model_validate_json(p.read_text()) for p in CASES.glob(f"{name}/*.json")]
        if not any(c.commands for c in cases):
            missing.append(f"{name}: no case with commands")
        if inner.is_idempotent and not any(c.noop and not c.commands for c in cases):
            missing.append(f"{name}: no noop case")
    assert not missing


def test_case_folders_name_operations() -> None:
    names = {p.name for p in CASES.iterdir() if p.is_dir()}
    assert all(operation_of(name) for name in names)
