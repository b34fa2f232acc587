"""The operator guide names only what exists: every `homelab-ops ...` it shows is a real
command whose --help works and which takes every option the guide gives it, every
deploy file it names is there, every settings block it shows validates."""

from __future__ import annotations

import re
import shlex
import subprocess
import textwrap
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from homelab_ops.cli import cli
from homelab_ops.models.settings import Settings

REPO = Path(__file__).resolve().parents[2]
GUIDE = (REPO / "docs" / "operator-guide.md").read_text()
GLOBAL = {"--state-dir", "--config"}


def _invocations() -> list[list[str]]:
    """Every homelab-ops command line in the guide: in sh blocks and in `inline code`."""
    lines = [ln for block in re.findall(r"```sh\n(.*?)```", GUIDE, re.S)
             for ln in block.splitlines()]
    lines += re.findall(r"`(homelab-ops [^`]+)`", GUIDE)
    out = []
    for line in lines:
        line = line.split("  #")[0].strip()
        if line.startswith("homelab-ops "):
            out.append(shlex.split(line)[1:])
    return out


def _resolve(args: list[str]) -> tuple[list[str], click.Command, list[str]]:
    """The command path, its click command and the rest of the words."""
    i = 0
    while i < len(args) and args[i] in GLOBAL:
        i += 2
    path, node = [], cli
    while i < len(args) and isinstance(node, click.Group) and args[i] in node.commands:
        node = node.commands[args[i]]
        path.append(args[i])
        i += 1
    return path, node, args[i:]


INVOCATIONS = _invocations()


def test_the_guide_shows_commands() -> None:
    assert len(INVOCATIONS) > 30


@pytest.mark.parametrize("args", INVOCATIONS, ids=" ".join)
def test_every_command_exists_with_its_options(args: list[str]) -> None:
    path, command, rest = _resolve(args)
    assert path, f"no such command: {args}"
    if isinstance(command, click.Group) and not command.invoke_without_command:
        pytest.fail(f"{' '.join(path)} needs a subcommand: {args}")
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    known = {opt for p in command.params for opt in p.opts}
    for word in rest:
        if word.startswith("--"):
            assert word.split("=")[0] in known, f"{' '.join(path)} has no {word}"


def test_every_deploy_file_named_exists() -> None:
    named = set(re.findall(r"deploys/[a-z_]+\.py", GUIDE))
    assert named >= {"deploys/backup_timers.py", "deploys/cycle_timer.py",
                     "deploys/report_timer.py"}
    for path in named:
        assert (REPO / path).is_file(), path
    assert (REPO / "inventory/example_ssh.py").is_file()


def test_every_settings_block_validates() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", GUIDE, re.S)
    assert len(blocks) >= 5
    for block in blocks:
        Settings.model_validate(tomllib.loads(block))


def test_every_alert_rule_passes_promtool(tmp_path: Path) -> None:
    """Prometheus's own checker (Debian's promtool, installed by scripts/setup.sh)
    parses each rule the guide shows, with the metric names it uses."""
    rules = re.findall(r"```yaml\n(- alert:.*?)```", GUIDE, re.S)
    assert rules
    path = tmp_path / "rules.yml"
    path.write_text("groups:\n- name: guide\n  rules:\n"
                    + "".join(textwrap.indent(r, "  ") for r in rules))
    check = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(rules)} rules found" in check.stdout
