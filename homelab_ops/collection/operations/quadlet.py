"""Quadlet unit files: the operation that writes exactly a stack's declared set (units,
or a stack's secret environment files); the facts it reads are in facts/quadlet.py."""

from __future__ import annotations

import hashlib
import posixpath
from io import StringIO

from pyinfra import host
from pyinfra.api import FileUploadCommand, QuoteString, StringCommand, operation

from homelab_ops.collection.facts.quadlet import StackFiles
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
