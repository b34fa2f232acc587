"""Recommended skills for a described task, ranked, with their risk and command."""

from __future__ import annotations

import click

from homelab_ops.models.categories import CATEGORIES


def recommendations(data: dict) -> None:
    if not data["confident"]:
        click.echo("That does not look like a homelab task I know. I can help with: "
                   + ", ".join(CATEGORIES) + ".")
        return
    click.echo(f"{data['category']}: {data['text']!r}")
    for i, s in enumerate(data["skills"], 1):
        kind = "read-only" if s["read_only"] else f"changes things, risk {s['risk']}"
        click.echo(f"{i}. {s['id']} ({s['confidence']:.2f}, {kind})")
        click.echo(f"   {s['reason']}")
        click.echo(f"   $ {s['command']}")
