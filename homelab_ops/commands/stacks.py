"""``homelab-ops deploy | health | drift | patterns``: stacks drawn from the patterns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from homelab_ops.commands.base import App, command, emit, inventory_option, resolve_inventory
from homelab_ops.errors import HomelabError, InputError
from homelab_ops.render import stacks as render

stack_files = click.argument("stacks", nargs=-1,
                             type=click.Path(path_type=Path, dir_okay=False))


def _declared(path: Path):
    from homelab_ops.collection.lib.secrets import read_secrets
    from homelab_ops.stacks.load import load_stack

    declared = load_stack(path)
    return declared, read_secrets(declared)


def _stacks(app: App, given: tuple[Path, ...]) -> list[tuple[str, Any]]:
    """(name, (declared, secrets) or the InputError that makes it unavailable) for the
    stack files given, else for every stack deployed before (from the store). A given
    file that is wrong stops the command; a deployed one that moved away or broke is
    reported unavailable and the others are still checked."""
    from homelab_ops.stacks.known import deployed_files, unique

    if given:
        out = [(str(p), _declared(p)) for p in given]
        unique([d for _, (d, _s) in out])
        return out
    with app.store() as store:
        files = deployed_files(store)
    if not files:
        raise HomelabError("no stack deployed yet: pass a stack file")
    out: list[tuple[str, Any]] = []
    for name, path in sorted(files.items()):
        try:
            out.append((name, _declared(Path(path))))
        except InputError as exc:
            out.append((name, exc))
    return out


def _inventory(app: App, inventory: Path | None, loaded: list[tuple[str, Any]]):
    """The inventory, needed only when some stack can be checked."""
    if all(isinstance(x, InputError) for _, x in loaded):
        return None
    return resolve_inventory(app, inventory)


def _unavailable(name: str, exc: InputError) -> str:
    return (f"stack {name} is unavailable: {exc} (deploy it from its new place, or "
            f"`homelab-ops stacks forget {name}`)")


@command(None, "deploy")
@click.argument("stack", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--force", is_flag=True, help="Deploy even when the capacity check refuses.")
@inventory_option
def deploy_cmd(app: App, stack: Path, dry_run: bool, force: bool,
               inventory: Path | None) -> int:
    """Deploy a stack file: check capacity against the predictions, write units and
    secrets, start containers in dependency order, then validate health. A second
    deploy changes nothing."""
    from homelab_ops.stacks import run
    from homelab_ops.stacks.known import claim

    declared, secrets = _declared(stack)
    with app.store() as store:
        claim(store, declared.name, declared.source)
    inv = resolve_inventory(app, inventory)
    with app.store() as store:
        reports = run.capacity(inv, declared, secrets, store, app.settings)
    refused = [i for r in reports for i in r["items"] if not i["fits"]]
    if refused and not force:
        raise HomelabError(f"capacity check refuses {declared.name}: " + "; ".join(
            f"{r['host']} {i['resource']}: {i['basis']}" for r in reports for i in r["items"]
            if not i["fits"]) + " (deploy anyway with --force)")
    deployed = run.deploy(inv, declared, secrets, dry_run=dry_run)
    result: dict[str, Any] = {**deployed.model_dump(mode="json"), "capacity": reports}
    if not dry_run:
        good = [h for h, d in deployed.hosts.items() if d.ok]
        checked = run.health(inv, declared, secrets, good, _progress(app)) if good else []
        result["health"] = [c.model_dump(mode="json") for c in checked]
        healthy = {h: all(c.ok for c in checked if c.host == h) for h in good}
        result["ok"] = deployed.ok and all(healthy.values())
        with app.store() as store:
            run.record(store, declared, deployed, healthy)
    emit(app, result, render.deploy)
    return 0 if (dry_run and deployed.ok) or result.get("ok") else 1


def _progress(app: App):
    """Retries of slow health checks, on stderr so --json output stays clean."""
    if app.json:
        return None

    def show(check, attempt: int) -> None:
        target = f" {check.target}" if check.target else ""
        click.echo(f"  waiting for {check.container} {check.kind}{target} "
                   f"(attempt {attempt + 1})", err=True)
    return show


@command(None, "health")
@stack_files
@inventory_option
def health_cmd(app: App, stacks: tuple[Path, ...], inventory: Path | None) -> int:
    """Check through testinfra that every declared container runs and is healthy, its
    ports listen and its HTTP check answers (default: every deployed stack)."""
    from homelab_ops.models.health_check import CheckResult
    from homelab_ops.stacks import run

    results = []
    loaded_stacks = _stacks(app, stacks)
    inv = _inventory(app, inventory, loaded_stacks)
    for name, loaded in loaded_stacks:
        if isinstance(loaded, InputError):
            unavailable = CheckResult(host="", container="", kind="unavailable", ok=False,
                                      seen=_unavailable(name, loaded))
            results.append({"stack": name, **unavailable.model_dump(mode="json")})
            continue
        declared, secrets = loaded
        results += [{"stack": declared.name, **r.model_dump(mode="json")}
                    for r in run.health(inv, declared, secrets, progress=_progress(app))]
    emit(app, results, render.health)
    return 0 if all(r["ok"] for r in results) else 1


@command(None, "drift")
@stack_files
@inventory_option
def drift_cmd(app: App, stacks: tuple[Path, ...], inventory: Path | None) -> int:
    """List every difference between the declared stacks and the live hosts: image,
    environment, labels, ports, networks, volumes, unit files, missing, stopped and
    unexpected containers (default: every deployed stack). Exit 1 when there is any."""
    from homelab_ops.models.drift import Difference
    from homelab_ops.stacks import run

    found = []
    loaded_stacks = _stacks(app, stacks)
    inv = _inventory(app, inventory, loaded_stacks)
    for name, loaded in loaded_stacks:
        if isinstance(loaded, InputError):
            found.append(Difference(host="", stack=name, subject=name, kind="unavailable",
                                    live=_unavailable(name, loaded)).model_dump(mode="json"))
            continue
        declared, secrets = loaded
        found += [d.model_dump(mode="json") for d in run.drift(inv, declared, secrets)]
    emit(app, found, render.drift)
    return 1 if found else 0


@click.group()
def patterns() -> None:
    """The deployment patterns stacks draw their services from."""


@command(patterns, "list")
def patterns_list(app: App) -> None:
    """Every pattern with its description."""
    from homelab_ops.stacks.patterns import load_pattern, pattern_names

    data = [{"name": n, "description": load_pattern(n).description} for n in pattern_names()]
    emit(app, data, lambda rows: click.echo("\n".join(
        f"{r['name']:<20} {r['description']}" for r in rows)))


@command(patterns, "show")
@click.argument("name")
def patterns_show(app: App, name: str) -> None:
    """A pattern's description and parameters."""
    from homelab_ops.stacks.patterns import load_pattern, pattern_names

    if name not in pattern_names():
        raise HomelabError(f"unknown pattern {name!r} (known: {', '.join(pattern_names())})")
    data = load_pattern(name).model_dump(mode="json")
    emit(app, data, render.pattern)


@click.group("stacks")
def stacks_group() -> None:
    """The stacks homelab-ops deployed."""


@command(stacks_group, "list")
def stacks_list(app: App) -> None:
    """Every deployed stack and the file it was deployed from."""
    from homelab_ops.stacks.known import deployed_files

    with app.store() as store:
        files = deployed_files(store)
    rows = [{"stack": n, "file": f, "exists": Path(f).is_file()} for n, f in sorted(files.items())]
    emit(app, rows, lambda rs: click.echo("\n".join(
        f"{r['stack']:<20} {r['file']}{'' if r['exists'] else '  (missing)'}" for r in rs)
        or "no stack deployed yet"))


@command(stacks_group, "forget")
@click.argument("name")
def stacks_forget(app: App, name: str) -> None:
    """Forget a deployed stack: health and drift stop checking it. Its containers and
    units stay on the hosts (remove them with podman or systemctl)."""
    with app.store() as store:
        removed = store.forget_stack(name)
    if not removed:
        raise HomelabError(f"no deployed stack called {name!r} (see `homelab-ops stacks list`)")
    emit(app, {"stack": name, "forgotten_records": removed},
         lambda d: click.echo(f"forgot stack {name} ({removed} deployment record(s)); its "
                              "containers were left running"))
