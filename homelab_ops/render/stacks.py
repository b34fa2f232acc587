"""A stack deploy per host, its health checks, its drift, and the patterns."""

from __future__ import annotations

from typing import Any

import click


def deploy(d: dict[str, Any]) -> None:
    for r in d["capacity"]:
        for i in r["items"]:
            mark = "fits" if i["fits"] else "does not fit (forced)"
            click.echo(f"capacity {r['host']} {i['resource']}: {mark}: {i['basis']}")
    verb = "would change" if d["dry_run"] else "changed"
    for host, h in d["hosts"].items():
        if not h["ok"]:
            click.echo(f"{host}: deploy of {d['stack']} FAILED: {h['error']}")
            continue
        click.echo(f"{host}: {verb} {h['changes']} operation(s)"
                   + "".join(f"\n  {name}" for name in h["changed"]))
    if "health" in d:
        health(d["health"])


def health(results: list[dict[str, Any]]) -> None:
    for r in results:
        if r["kind"] == "unavailable":
            click.echo(f"FAIL {r['seen']}")
            continue
        mark = "ok  " if r["ok"] else "FAIL"
        target = f" {r['target']}" if r["target"] else ""
        click.echo(f"{mark} {r['host']}: {r['container']} {r['kind']}{target}: {r['seen']}")


def drift(found: list[dict[str, Any]]) -> None:
    from homelab_ops.models.drift import Difference

    if not found:
        click.echo("no drift: every host runs what its stacks declare")
    for d in found:
        diff = Difference.model_validate(d)
        click.echo(diff.live if diff.kind == "unavailable" else diff.line())


def pattern(p: dict[str, Any]) -> None:
    click.echo(f"{p['name']}: {p['description']}\nparameters:")
    for name, spec in p["parameters"].items():
        need = "required" if spec["required"] else f"default {spec['default']!r}"
        click.echo(f"  {name} ({spec['type']}, {need}): {spec['description']}")
