"""One line per notification URL (masked): sent, or why not."""

from __future__ import annotations

import click


def deliveries(result: dict) -> None:
    if result["skipped"]:
        click.echo(f"nothing sent: {result['skipped']}")
    for d in result["deliveries"]:
        click.echo(f"{d['url']}: " + ("sent" if d["sent"] else f"FAILED: {d['error']}"))
