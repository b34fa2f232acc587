"""Notifications through apprise to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from homelab_ops.cli import main
from homelab_ops.errors import InputError
from homelab_ops.loop.notify import notify
from homelab_ops.models.settings import Notifications, load_settings


@pytest.fixture
def receiver():
    """A local HTTP receiver; ``status`` chooses its answer."""
    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        status = 200

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"path": self.path, "json": json.loads(body)})
            self.send_response(Handler.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], got, Handler
    server.shutdown()
    server.server_close()


def test_message_arrives_with_title_and_body(receiver):
    port, got, _ = receiver
    result = notify((f"json://127.0.0.1:{port}/hook",), "disk full", "pruned 3 images",
                    "warning")
    assert result.ok and [d.sent for d in result.deliveries] == [True]
    assert got[0]["json"]["title"] == "disk full"
    assert got[0]["json"]["message"] == "pruned 3 images"
    assert got[0]["json"]["type"] == "warning"


def test_receiver_500_and_down_fail_without_raising(receiver):
    port, got, handler = receiver
    handler.status = 500
    free = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    down = free.server_address[1]
    free.server_close()
    result = notify((f"json://user:secret@127.0.0.1:{port}/tok", f"json://127.0.0.1:{down}/x"),
                    "t", "b", "failure")
    assert [d.sent for d in result.deliveries] == [False, False]
    assert all(d.error and "\n" not in d.error for d in result.deliveries)
    assert "secret" not in result.model_dump_json() and "tok" not in result.model_dump_json()
    assert len(got) == 1


def test_no_urls_and_min_level_skip():
    assert notify((), "t", "b", "info").skipped
    quiet = Notifications(urls=("json://127.0.0.1:1/x",), min_level="failure")
    assert notify(quiet, "t", "b", "warning").skipped


def test_bad_url_is_a_settings_error_naming_the_field(tmp_path):
    cfg = tmp_path / "settings.toml"
    cfg.write_text('[notifications]\nurls = ["not a url"]\n')
    with pytest.raises(InputError) as err:
        load_settings(cfg, tmp_path)
    assert "notifications.urls" in str(err.value) and str(cfg) in str(err.value)


def test_notify_test_command_one_line_per_url_masked(receiver, tmp_path, capsys):
    port, got, _ = receiver
    cfg = tmp_path / "settings.toml"
    cfg.write_text(f'[notifications]\nurls = ["json://u:pw@127.0.0.1:{port}/secret"]\n')
    with pytest.raises(SystemExit) as done:
        main(["--config", str(cfg), "--state-dir", str(tmp_path), "notify", "test"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and got
    assert out.strip() == f"json://***@127.0.0.1:{port}/***: sent"
    main_json = ["--config", str(cfg), "--state-dir", str(tmp_path), "settings", "--json"]
    with pytest.raises(SystemExit):
        main(main_json)
    assert "pw" not in capsys.readouterr().out
