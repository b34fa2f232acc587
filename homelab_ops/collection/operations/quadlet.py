"""Quadlet unit files: the operation that writes exactly a stack's declared set (units,
or a stack's secret environment files; its facts are in facts/quadlet.py), and the two
guards of their services pyinfra's ``systemd.service`` lacks: clearing a failed state
and stopping a unit about to restart (``lib/backend.QuadletUnits``)."""

from __future__ import annotations

import hashlib
import posixpath
from io import StringIO

from pyinfra import host
from pyinfra.api import FileUploadCommand, QuoteString, StringCommand, operation

from homelab_ops.collection.facts.quadlet import StackFiles
from homelab_ops.collection.facts.systemd import UnitActiveState, UnitFailed
from homelab_ops.models.stack import STACK_MARKER


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@operation()
def stack_files(directory: str, stack: str, contents: dict[str, str], private: bool = False):
    """Make ``directory`` hold exactly the declared files of ``stack``.

    + directory: where the files live (created when missing)
    + stack: the stack's name; its files are those starting with its marker line
    + contents: file name -> text, each text starting with the stack's marker line
    + private: secrets: the directory is 0700 before anything is written into it and
      files are 0600 (else 0644)

    What differs is written and the stack's files that are no longer declared are
    removed; other files in ``directory`` stay. Texts are uploaded, never put on a
    command line, so secret files stay out of every log.

    **Example:**

    .. code:: python

        quadlet.stack_files(
            name="Quadlet units of wiki", directory="/etc/containers/systemd",
            stack="wiki", contents=plan.units,
        )
    """
    for name, text in contents.items():
        if not text.startswith(STACK_MARKER + stack + "\n") or "/" in name:
            raise ValueError(f"{name}: not a file of stack {stack}")
    live = host.get_fact(StackFiles, directory=directory, stack=stack)
    stale = [name for name, text in sorted(contents.items()) if live.get(name) != digest(text)]
    if stale:
        yield StringCommand("mkdir", "-p", QuoteString(directory))
        if private:
            yield StringCommand("chmod", "700", QuoteString(directory))
    for name in stale:
        path = posixpath.join(directory, name)
        yield FileUploadCommand(StringIO(contents[name]), path)
        yield StringCommand("chmod", "600" if private else "644", QuoteString(path))
    gone = sorted(set(live) - set(contents))
    if not stale and not gone:
        host.noop(f"{directory}: the files of {stack} are as declared")
    for name in gone:
        yield StringCommand("rm", "-f", "--", QuoteString(posixpath.join(directory, name)))


@operation()
def reset_failed(unit: str, user_mode: bool = False):
    """Clear ``unit``'s failed state so systemd accepts a start again.

    + unit: the unit's full name, e.g. ``home-wiki.service``
    + user_mode: the user's systemd instance instead of the system's

    After its start limit (``StartLimitBurst`` restarts within
    ``StartLimitIntervalSec``) every ``systemctl restart`` is refused ("Start request
    repeated too quickly") until ``systemctl reset-failed``. Nothing when the unit is
    not failed.

    **Example:**

    .. code:: python

        quadlet.reset_failed(name="Clear home-wiki's failed state", unit="home-wiki.service")
    """
    if not host.get_fact(UnitFailed, unit=unit, user_mode=user_mode):
        host.noop(f"{unit} is not failed")
        return
    yield StringCommand("systemctl", *(("--user",) if user_mode else ()), "reset-failed",
                        QuoteString(unit))


# ActiveStates in which a unit is not running and will not start again by itself
_AT_REST = ("inactive", "failed", "")


@operation()
def unit_stopped(unit: str, user_mode: bool = False):
    """Stop ``unit`` unless it is at rest (inactive or failed).

    A ``Restart=always`` unit whose start failed sits in ``activating``
    (``auto-restart``) and starts again in a moment: pyinfra's
    ``systemd.service(running=False)`` sees it as stopped and does nothing, so its
    container could write while its data is being restored.

    + unit: the unit's full name, e.g. ``home-wiki.service``
    + user_mode: the user's systemd instance instead of the system's

    **Example:**

    .. code:: python

        quadlet.unit_stopped(name="Stop home-wiki.service", unit="home-wiki.service")
    """
    state = host.get_fact(UnitActiveState, unit=unit, user_mode=user_mode)
    if state in _AT_REST:
        host.noop(f"{unit} is {state or 'unknown'}")
        return
    yield StringCommand("systemctl", *(("--user",) if user_mode else ()), "stop",
                        QuoteString(unit))
