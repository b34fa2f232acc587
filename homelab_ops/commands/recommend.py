"""``homelab-ops recommend "TEXT" [--run]``: from a task or incident in plain words to the
skills that handle it; ``--took SKILL --worked|--failed`` tells it what came of one.

Only read-only skills run from here (``--run``, the top one whose command is complete);
a skill that changes things prints its exact command and never runs.
"""

from __future__ import annotations

import click

from homelab_ops.commands.base import App, command, emit
from homelab_ops.errors import HomelabError
from homelab_ops.models.categories import CATEGORIES


@command(None, "recommend")
@click.argument("text", nargs=-1)
@click.option("--run", is_flag=True, help="Run the top read-only skill and print its findings.")
@click.option("--took", metavar="SKILL",
              help="Record that you took SKILL (with --worked/--failed).")
@click.option("--worked/--failed", default=None, help="Whether the skill taken worked.")
@click.option("--category", type=click.Choice(CATEGORIES),
              help="The category the outcome counts for (default: the newest recommendation "
                   "that offered the skill, else the skill's own).")
@click.pass_context
def recommend_cmd(ctx: click.Context, app: App, text: tuple[str, ...], run: bool,
                  took: str | None, worked: bool | None, category: str | None) -> None:
    """Recommend the skills (diagnose, audit, deploy, back up, playbooks...) for a task
    or incident in plain words, ranked with confidence, learning from outcomes."""
    if took:
        if worked is None or text or run:
            raise click.UsageError("--took SKILL needs --worked or --failed, and no TEXT or --run")
        _took(app, took, worked, category)
        return
    if worked is not None or category:
        raise click.UsageError("--worked/--failed and --category go with --took SKILL")
    said = " ".join(text).strip()
    if not said:
        raise click.UsageError('say what is wrong or what to do, e.g. homelab-ops recommend '
                               '"jellyfin keeps crashing"')
    from homelab_ops.recommend.learn import recommend
    from homelab_ops.render import recommend as render

    with app.store(read_only_path=True) as store:
        rec = recommend(store, said)
    data = to_dict(rec)
    if not app.json:
        render.recommendations(data)
    if run:
        data["ran"] = _run(app, rec)
    if app.json:
        emit(app, data, render.recommendations)
    if run and data["ran"]["exit"]:
        ctx.exit(data["ran"]["exit"])


def to_dict(rec) -> dict:
    return {"text": rec.text, "category": rec.category, "confident": rec.confident,
            "service": rec.service, "unknown": list(rec.unknown), "close": list(rec.close),
            "skills": [{"id": r.skill.id, "title": r.skill.title, "category": r.skill.category,
                        "confidence": min(r.score, 1.0), "text_score": r.text,
                        "success_rate": r.rate, "risk": r.skill.risk,
                        "read_only": r.skill.read_only, "playbook": r.skill.playbook,
                        "reason": r.reason, "command": r.command} for r in rec.ranked]}


def _run(app: App, rec) -> dict:
    """Run the top read-only skill; one clear line when none can run."""
    from homelab_ops.commands.invoke import run_argv

    top = next((r for r in rec.ranked if r.skill.read_only), None)
    if top is None:
        raise HomelabError("nothing to run: no read-only skill fits "
                           + ("(not a task I know)" if not rec.confident else
                              "(the ones that fit change things: run their command yourself)"))
    if top.argv is None:
        need = ", ".join(top.skill.fill_ins) or "<service>"
        why = (f"no service called {rec.unknown[0]!r} runs here" if rec.unknown
               else "the text names no service that runs")
        if top.skill.fill_ins:
            why = "fill those in and run it yourself"
        raise HomelabError(f"cannot run {top.skill.id}: it needs {need} ({why}): {top.command}")
    if not app.json:
        click.echo(f"running: {top.command}")
    code, output = run_argv(top.argv, app.global_args(), capture=app.json)
    return {"skill": top.skill.id, "argv": list(top.argv), "exit": code,
            "output": output if app.json else None}


def _took(app: App, skill: str, worked: bool, category: str | None) -> None:
    from homelab_ops.recommend.learn import record_outcome

    with app.store(read_only_path=True) as store:
        result = record_outcome(store, skill, worked, category)
    emit(app, result, lambda r: click.echo(
        f"recorded: {r['skill']} {'worked' if r['worked'] else 'failed'} for {r['category']} "
        f"({r['tally']['worked']} worked, {r['tally']['failed']} failed; "
        f"success rate now {r['rate']:.2f})"))


