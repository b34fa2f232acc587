"""Stack files: the example loads; every mistake is one error naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from homelab_ops.errors import InputError
from homelab_ops.stacks.load import load_stack
from homelab_ops.stacks.patterns import load_pattern, pattern_names
from tests.conftest import REPO

EXAMPLE = REPO / "examples/lab-stack.yaml"
NINE = ["app-database", "background-worker", "database", "media-server",
        "monitoring-exporter", "reverse-proxy", "sso-web-app", "static-site", "web-app"]


def test_nine_patterns_with_valid_definitions() -> None:
    assert pattern_names() == NINE
    for name in NINE:
        assert load_pattern(name).description


def test_example_uses_all_patterns_in_dependency_order() -> None:
    stack = load_stack(EXAMPLE)
    assert sorted(set(stack.services.values())) == NINE
    names = [c.name for c in stack.containers]
    for i, c in enumerate(stack.containers):
        assert all(names.index(dep) < i for dep in c.depends_on), c.name
    app = next(c for c in stack.containers if c.name == "home-cloud")
    assert app.depends_on == ["home-cloud-db", "home-proxy"]
    # the database of app-database sits on the pattern's internal network only
    db = next(c for c in stack.containers if c.name == "home-cloud-db")
    assert db.networks == ["home-cloud-internal"]
    assert {n.name: n.internal for n in stack.networks}["home-cloud-internal"] is True


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _base() -> dict:
    return {"name": "home", "secrets": {"pw": {"env": "X"}}, "services": {
        "proxy": {"pattern": "reverse-proxy", "params": {"http_port": 8080}},
        "db": {"pattern": "database", "params": {"password": "pw"}},
        "web": {"pattern": "web-app", "depends_on": ["db"], "params": {"host": "a.b"}},
    }}


def _error(tmp_path: Path, change) -> InputError:
    doc = _base()
    change(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(InputError) as exc:
        load_stack(path)
    assert exc.value.path == path
    return exc.value


@pytest.mark.parametrize(("change", "field", "message"), [
    (lambda d: d.update(name="Home_1"), "name", "invalid name 'Home_1'"),
    (lambda d: d["services"].update({"Bad Name": {"pattern": "web-app"}}),
     "services.Bad Name.[key]", "invalid name"),
    (lambda d: d["services"]["web"].update(pattern="wordpress"),
     "services.web.pattern", "unknown pattern 'wordpress'"),
    (lambda d: d["services"]["web"]["params"].pop("host"),
     "services.web.params.host", "missing parameter"),
    (lambda d: d["services"]["web"]["params"].update(colour="red"),
     "services.web.params.colour", "has no parameter 'colour'"),
    (lambda d: d["services"]["web"]["params"].update(port="80"),
     "services.web.params.port", "must be of type int"),
    (lambda d: d["services"]["db"]["params"].update(password="nope"),
     "services.db.params.password", "unknown secret 'nope'"),
    (lambda d: d["services"]["web"]["params"].update(publish_port=8080),
     "services.web", "port collision: host port 8080/tcp is also published by services.proxy"),
    (lambda d: d["services"]["db"].update(depends_on=["web"]),
     "depends_on", "dependency cycle"),
    (lambda d: d["services"]["web"].update(depends_on=["cache"]),
     "services.web.depends_on", "unknown service 'cache'"),
    (lambda d: d["services"]["web"].update(networks=["dmz"]),
     "services.web.networks", "unknown network 'dmz'"),
    (lambda d: d["services"]["web"].update(replicas=2),
     "services.web.replicas", "Extra inputs are not permitted"),
    (lambda d: d["services"]["web"]["params"].update(host="a\nb"),
     "services.web.params", "single line"),
    (lambda d: d["services"]["db"].update(grace="5 minutes"),
     "services.db.grace", "should match pattern"),
])
def test_mistakes_name_file_and_field(tmp_path, change, field, message) -> None:
    err = _error(tmp_path, change)
    assert field in (err.field or ""), err
    assert message in err.message, err
    assert str(err).startswith(f"{tmp_path / 'stack.yaml'}: ")


def test_a_declared_grace_becomes_a_label_in_seconds(tmp_path) -> None:
    doc = _base()
    doc["services"]["db"]["grace"] = "5m"
    stack = load_stack(_write(tmp_path, doc))
    db = next(c for c in stack.containers if c.service == "db")
    assert db.labels["homelab-ops.grace"] == "300"
    web = next(c for c in stack.containers if c.service == "web")
    assert "homelab-ops.grace" not in web.labels  # none declared: the spec is unchanged


def test_cycle_names_the_whole_loop(tmp_path) -> None:
    def cycle(d):
        d["services"]["db"]["depends_on"] = ["proxy"]
        d["services"]["proxy"]["depends_on"] = ["web"]

    err = _error(tmp_path, cycle)
    loop = err.message.removeprefix("dependency cycle: ").split(" -> ")
    assert loop[0] == loop[-1] and set(loop) == {"db", "proxy", "web"}


def test_yaml_syntax_error_names_the_line(tmp_path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text("name: home\nservices: {web: [\n")
    with pytest.raises(InputError) as exc:
        load_stack(path)
    assert exc.value.field is not None and exc.value.field.startswith("line ")


def test_secret_sources(tmp_path, monkeypatch) -> None:
    from homelab_ops.collection.lib.secrets import read_secrets

    (tmp_path / "pw.txt").write_text("from-file\n")
    doc = _base()
    doc["secrets"] = {"pw": {"file": "pw.txt"}, "other": {"env": "STACK_UNIT_SECRET"}}
    stack = load_stack(_write(tmp_path, doc))
    with pytest.raises(InputError) as exc:
        read_secrets(stack)
    assert exc.value.field == "secrets.other"
    monkeypatch.setenv("STACK_UNIT_SECRET", "from-env")
    assert read_secrets(stack) == {"pw": "from-file", "other": "from-env"}


def test_a_duplicate_key_names_the_key_and_its_line(tmp_path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text("name: home\nservices:\n  db: {pattern: database, params: {password: pw}}\n"
                    "  db: {pattern: web-app, params: {host: a.b}}\n")
    with pytest.raises(InputError) as exc:
        load_stack(path)
    assert (exc.value.path, exc.value.field) == (path, "line 4")
    assert exc.value.message == "duplicate key 'db' (first at line 3)"
