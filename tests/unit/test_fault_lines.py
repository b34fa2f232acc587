"""Fault trials of issue 10: files a user broke reach the console script as one clear
line naming the file (and the line or field), a non-zero exit and no traceback."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
from pathlib import Path

from tests.conftest import REPO, run_cli


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMELAB_OPS_")}
    return {**env, "HOME": str(tmp_path), **extra}


def _one_line(proc, *words: str) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_settings_file_with_invalid_utf8(tmp_path: Path) -> None:
    cfg = tmp_path / "settings.toml"
    cfg.write_bytes(b'protected_services = ["traefik"]\nstate_dir = "/srv/caf\xe9"\n')
    env = _env(tmp_path, HOMELAB_OPS_CONFIG=str(cfg))
    for args in (["settings"], ["ask", "is traefik running"], ["status"]):
        line = _one_line(run_cli(*args, env=env, check=False), str(cfg), "line 2", "UTF-8")
        assert "0xe9" in line


def test_stack_file_with_invalid_utf8(tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    shutil.copy(REPO / "examples" / "lab-stack.yaml", stack)
    with stack.open("ab") as fh:
        fh.write(b"# r\xe9sum\xe9 of the services\n")
    lines = stack.read_bytes().count(b"\n")
    env = _env(tmp_path, HOMELAB_OPS_STATE_DIR=str(tmp_path / "state"))
    proc = run_cli("deploy", str(stack), "--dry-run", env=env, check=False)
    _one_line(proc, str(stack), f"line {lines}", "not valid UTF-8")


def test_secret_file_with_invalid_utf8(tmp_path: Path) -> None:
    from homelab_ops.collection.lib.secrets import read_secrets
    from homelab_ops.errors import InputError
    from homelab_ops.stacks.load import load_stack

    (tmp_path / "pw.txt").write_bytes(b"\xff\xfep\x00w\x00")  # saved as UTF-16
    stack = tmp_path / "stack.yaml"
    stack.write_text("name: home\nsecrets: {pw: {file: pw.txt}}\nservices:\n"
                     "  db: {pattern: database, params: {password: pw}}\n")
    try:
        read_secrets(load_stack(stack))
    except InputError as exc:
        assert exc.path == stack and exc.field == "secrets.pw"
        assert "pw.txt: line 1: not valid UTF-8" in exc.message
    else:
        raise AssertionError("a UTF-16 secret file was accepted")


def test_inventory_that_raises_or_exits(tmp_path: Path) -> None:
    raises = tmp_path / "raises.py"
    raises.write_text('import os\nhomelab = [("nas", {})]\nos.environ["NO_SUCH_VAR_HERE"]\n')
    exits = tmp_path / "exits.py"
    exits.write_text('import sys\n\nsys.exit(3)\n')
    env = _env(tmp_path, HOMELAB_OPS_STATE_DIR=str(tmp_path / "state"))
    proc = run_cli("observe", "-i", str(raises), env=env, check=False)
    _one_line(proc, str(raises), "line 3", "KeyError", "NO_SUCH_VAR_HERE")
    assert proc.returncode == 2
    proc = run_cli("observe", "-i", str(exits), env=env, check=False)
    _one_line(proc, str(exits), "line 3", "sys.exit(3)")
    assert proc.returncode == 2


def test_capacity_numbers_are_validated_by_the_option(tmp_path: Path) -> None:
    env = _env(tmp_path, HOMELAB_OPS_STATE_DIR=str(tmp_path / "state"))
    for args, words in ((["--memory", "-5"], ["--memory", "greater than or equal to 0"]),
                        (["--disk", "/=-1"], ["--disk", "/:", "greater than or equal to 0"]),
                        (["--disk", "srv=1"], ["--disk", "absolute path"]),
                        (["--memory", "nan"], ["--memory", "finite"]),
                        (["--days", "0"], ["--days", "greater than 0"])):
        proc = run_cli("predict", "capacity", "--host", "nas", *args, env=env, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
        assert len(errors) == 1 and all(w in errors[0] for w in words), proc.stderr
    assert not (tmp_path / "state").exists()  # refused before the store was touched


def _fake_lab(tmp_path: Path) -> Path:
    """A lab directory as `lab up` leaves it, without the pools and the sshd."""
    from homelab_ops.lab.paths import MARKER

    lab = tmp_path / "state" / "lab"
    lab.mkdir(parents=True)
    (lab / MARKER).touch()
    return lab


def test_truncated_lab_json_says_down_then_up(tmp_path: Path) -> None:
    lab = _fake_lab(tmp_path)
    (lab / "lab.json").write_text('{"ssh_port": 22')  # truncated by a full disk
    env = _env(tmp_path, HOMELAB_OPS_STATE_DIR=str(tmp_path / "state"))
    for args in (["lab", "status"], ["lab", "up"]):
        proc = run_cli(*args, env=env, check=False)
        _one_line(proc, str(lab / "lab.json"), "damaged", "lab down", "lab up")
    (lab / "lab.json").write_text('{"ssh_port": "twenty-two"}')
    _one_line(run_cli("lab", "status", env=env, check=False), "ssh_port", "lab down")
    proc = run_cli("lab", "down", env=env)  # the advice can be followed
    assert "removed lab" in proc.stdout and not lab.exists()


def test_corrupt_lab_inventory_says_lab_up(tmp_path: Path) -> None:
    lab = _fake_lab(tmp_path)
    env = _env(tmp_path, HOMELAB_OPS_STATE_DIR=str(tmp_path / "state"))
    for text in (b"\x00\x00\x00\x00", b'{"hosts": [1, 2]}', b'{"host": {}}', b"[1]"):
        (lab / "inventory.json").write_bytes(text)
        proc = run_cli("observe", env=env, check=False)
        _one_line(proc, str(lab / "inventory.json"), "damaged", "lab up")


def test_tcp_listener_that_never_speaks_ssh(tmp_path: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    held: list[socket.socket] = []

    def accept() -> None:  # accept and stay silent, as a stuck or wrong service does
        with contextlib.suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    inv = tmp_path / "inv.py"
    inv.write_text(f'homelab = [("mute", {{"ssh_hostname": "127.0.0.1", "ssh_port": {port},'
                   ' "ssh_user": "root"})]\n')
    env = _env(tmp_path, HOMELAB_OPS_STATE_DIR=str(tmp_path / "state"))
    try:
        proc = run_cli("observe", "-i", str(inv), "--json", env=env, check=False)
    finally:
        listener.close()
    assert "Traceback" not in proc.stderr, proc.stderr
    status = json.loads(run_cli("status", "--json", env=env).stdout)
    assert f"no SSH banner within 5 s from 127.0.0.1:{port}" in json.dumps(status)
