"""Backup runs, the copies on each host, retention's verdicts, restore tests and
backup freshness."""

from __future__ import annotations

from typing import Any

import click


def run(report: dict[str, Any]) -> None:
    for host, out in report["hosts"].items():
        if out["ok"]:
            click.echo(f"{host}: ok  ({out['rotation']['reason']})")
        else:  # the headline is the failure; the forecast was read before the run
            why = out.get("error") or next((op["error"] for op in out["ops"]
                                            if not op.get("ok", True)), "failed")
            click.echo(f"{host}: FAILED: {why}\n  space forecast before this run: "
                       f"{out['rotation']['reason']}")
        for why in out.get("unchecked", {}).values():
            click.echo(f"  WARNING: {why}")
        for op in out["ops"]:
            state = ("would change" if op.get("would_change") else "no change") if \
                report["dry_run"] else ("changed" if op.get("changed") else
                                        "no change" if op.get("ok") else "FAILED")
            click.echo(f"  {state:12} {op['name']}" + (f": {op['error']}"
                                                        if op.get("error") else ""))
        for key, vol in out["volumes"].items():
            sent = "" if "sent_from" not in vol else (
                f" (sent incrementally from {vol['sent_from']})" if vol["sent_from"]
                else " (sent in full)")
            click.echo(f"  {key}: newest {vol['snapshot']}"
                       + (f", on target {vol.get('on_target')}{sent}" if "target" in vol
                          else "")
                       + (f"  ALERT: {vol['alert']}" if vol.get("alert") else ""))
            for name, why in sorted(vol.get("unusable", {}).items()):
                click.echo(f"  {key}: did not use {name} as incremental parent: {why}")


def copies(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("no snapshots")
    for r in rows:
        flag = ("" if r["complete"] else
                "  (cut-off receive: deleted by the next run)" if r["garbled"] else
                "  (not a complete receive: kept, it may be yours; never an incremental "
                "parent)")
        click.echo(f"{r['host']:10} {r['subvolume']:20} {r['kind']:8} {r['name']}{flag}")


def prune_plan(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("no snapshots")
    for r in rows:
        click.echo(f"{'keep' if r['keep'] else 'DELETE':6} {r['kind']:8} {r['name']:40} "
                   f"{r['reason']}")


def restore_tests(results: list[dict[str, Any]]) -> None:
    if not results:
        click.echo("nothing to verify: no volume of an @local host has a backup target")
    for r in results:
        if r["ok"]:
            click.echo(f"ok     {r['host']} {r['subvolume']}: {r['snapshot']} restored, "
                       f"{r['files']} files match")
        else:
            what = r.get("error") or ", ".join(
                f"{k}: {', '.join(r[k])}" for k in ("missing", "extra", "changed") if r.get(k))
            click.echo(f"FAILED {r['host']} {r['subvolume']}: {what}")


def status(data: dict[str, Any]) -> None:
    if not data["subvolumes"]:
        click.echo("no backups recorded yet")
    for key, entry in sorted(data["subvolumes"].items()):
        last = entry["last_ok"]
        when = f"{entry['age_hours']:.1f} h ago ({last['snapshot']})" if last else "never"
        click.echo(f"{key:30} last ok backup: {when}" + ("  STALE" if key in data["stale"]
                                                         else ""))
    if not data["restore_tests"]:
        click.echo("last restore test: never")
    for key, test in sorted(data["restore_tests"].items()):
        click.echo(f"{key:30} last restore test: {'ok' if test['ok'] else 'FAILED'} "
                   f"{test['age_days']:.1f} days ago")
