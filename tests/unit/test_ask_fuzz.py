"""No question, however hostile, makes ``ask`` start a process.

Every way Python starts a process is replaced by a trap for the duration of each
example; hypothesis then throws arbitrary unicode and shell-shaped strings at the
matcher, the handlers and the CLI command. Any call to a trap fails the test.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homelab_ops.cli import cli
from homelab_ops.models.observation import ContainerObs, NetworkObs, Observation
from homelab_ops.observe import record
from homelab_ops.query.run import ask
from homelab_ops.recommend.handoff import task_for
from homelab_ops.store import Store

SPAWNERS = [name for name in dir(os) if name.startswith(("exec", "spawn", "posix_spawn"))]
SPAWNERS += ["system", "popen", "fork", "forkpty"]
HOSTILE = ["; rm -rf /", "$(id)", "`id`", "&&", "||", "|", ">", "<", "$IFS", "\\", "'", '"',
           "\x00", "\u202e", "\u200b", "\uff52\uff4d", "\u0458ellyfin", "%n", "{{7*7}}",
           "../..", "\n"]
WORDS = ["is", "jellyfin", "running", "when", "disk", "full", "network", "proxy", "restart",
         "memory", "top", "backup", "what", "did", "the", "loop", "do", "/mnt/data"]


class Spawned(AssertionError):
    pass


@contextmanager
def no_process():
    """Replace every process-starting function with one that raises."""
    saved = {name: getattr(os, name) for name in SPAWNERS if hasattr(os, name)}
    saved_popen = subprocess.Popen

    def trap(*args, **kwargs):
        raise Spawned(f"a process was started: {args!r}")

    try:
        for name in saved:
            setattr(os, name, trap)
        subprocess.Popen = trap  # type: ignore[misc, assignment]
        yield
    finally:
        for name, fn in saved.items():
            setattr(os, name, fn)
        subprocess.Popen = saved_popen  # type: ignore[misc]


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ask-fuzz")
    obs = Observation(
        host="nas", ts=datetime.now(UTC), reachable=True,
        containers=[ContainerObs(name=n, id=n, image="x", state="running", mem_bytes=1,
                                 cpu_pct=1.0, networks=["proxy"])
                    for n in ("jellyfin", "traefik", "immich-server")],
        networks=[NetworkObs(name="proxy", members=["immich-server", "jellyfin", "traefik"])])
    with Store.open(path) as store:
        record(store, [obs])
    return path


questions = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(HOSTILE + WORDS), max_size=25).map(" ".join),
    st.lists(st.one_of(st.sampled_from(HOSTILE + WORDS), st.text(max_size=8)),
             max_size=12).map("".join),
    st.builds(lambda n, s: s * n, st.integers(1, 3000), st.sampled_from(HOSTILE + WORDS)),
)


def test_the_trap_catches_a_process_start() -> None:
    with no_process(), pytest.raises(Spawned):
        subprocess.run(["true"], check=False)
    with no_process(), pytest.raises(Spawned):
        os.system("true")


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=questions)
def test_no_question_starts_a_process(state_dir: Path, question: str) -> None:
    with Store.open(state_dir) as store, no_process():
        reply = ask(store, question, tasks=task_for)
    assert reply["lines"] and isinstance(reply["understood"], bool)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=questions)
def test_the_ask_command_starts_no_process(state_dir: Path, question: str) -> None:
    runner = CliRunner()
    with no_process():
        result = runner.invoke(cli, ["--state-dir", str(state_dir), "ask", "--json", "--",
                                     question or "?"])
    assert not isinstance(result.exception, Spawned), result.exception
    # a blank question is a usage error (exit 2); anything else gets an answer
    assert result.exit_code == (2 if not (question or "?").strip() else 0), result.output
