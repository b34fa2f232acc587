"""``homelab-ops report``: the weekly intelligence report, from the store only."""

from __future__ import annotations

from pathlib import Path

import click

from homelab_ops.commands.base import App, command
from homelab_ops.commands.loop import _seconds as parse_seconds

_file = click.Path(path_type=Path, dir_okay=False)


@command(None, "report")
@click.option("--since", default="7d", show_default=True,
              callback=lambda _ctx, _param, value: parse_seconds(value),
              help="The period the report covers, up to now (24h, 7d, 2w).")
@click.option("--html", "html", type=_file, help="Write the HTML report (one offline file).")
@click.option("--md", "md", type=_file, help="Write the Markdown report.")
@click.option("--publish", is_flag=True,
              help="Write report-DATE.{html,md,json} into the settings' report_dir and "
                   "send a summary to the notifier (what the weekly timer runs).")
def report_cmd(app: App, since: float, html: Path | None, md: Path | None,
               publish: bool) -> None:
    """Health, predictions, what the cycle did, backups, drift and the top resource users
    over a period; without a file option the Markdown goes to stdout."""
    from homelab_ops.loop import heartbeat
    from homelab_ops.report import publish as out
    from homelab_ops.report import render
    from homelab_ops.report.build import build_report

    with app.store() as store:
        heartbeat.check(store, app.settings)  # the first to notice a missed one tells
        report = build_report(store, app.settings, window=since)
    written = out.write_all([(path, text(report)) for path, text in
                             ((html, render.to_html), (md, render.to_markdown))
                             if path is not None])
    published = out.publish(report, app.settings) if publish else None
    if app.json:
        click.echo(render.to_json(report))
        return
    for path in [*written, *(published.files if published else [])]:
        click.echo(f"wrote {path}")
    if published is not None and published.notified is not None:
        for d in published.notified["deliveries"]:
            click.echo(f"notified {d['url']}" if d["sent"]
                       else f"not notified {d['url']}: {d['error']}")
    if not written and published is None:
        click.echo(render.to_markdown(report), nl=False)
