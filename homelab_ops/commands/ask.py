"""``homelab-ops ask "..."`` answers a question from the store; ``homelab-ops cache
warm`` precomputes the common answers.

``ask`` is a read path that must start fast, so it imports only the standard library
and ``homelab_ops.query``, and finds the state directory without validating the
settings (no pydantic): nothing in them changes an answer, and validating them costs
more than the whole answer from cache. ``cache warm`` is no read path: it loads the
settings and may compute predictions.
"""

from __future__ import annotations

import click

from homelab_ops.commands.base import App, command, emit


@command(None, "ask")
@click.argument("question", nargs=-1, required=True)
@click.option("--explain", is_flag=True,
              help="Show why: the words after the lexicon, cues, the words that carried "
                   "the score, slots and the ranking.")
def ask_cmd(app: App, question: tuple[str, ...], explain: bool) -> None:
    """Answer a question about the homelab from what was observed (no shell, offline)."""
    from homelab_ops.query.run import ask

    text = " ".join(question)
    if not text.strip():
        raise click.UsageError("the question is empty: ask something, e.g. "
                               "homelab-ops ask \"is jellyfin running\"")
    with app.store(read_only_path=True) as store:
        reply = ask(store, text, tasks=_task_for)
    if not explain:
        reply.pop("explain", None)
    if ran := _run_task(app, reply):
        reply["ran"] = ran
    from homelab_ops.render import ask as render

    emit(app, reply, render.reply)


def _task_for(question: str, names, intent: str | None, canonical: str) -> dict | None:
    """The recommender's skills when the question is really a task, imported only when a
    question is computed (a cache hit never loads the recommender)."""
    from homelab_ops.recommend.handoff import task_for

    return task_for(question, names, intent, canonical)


def _run_task(app: App, reply: dict) -> dict | None:
    """A question that is really a task about a service that runs ("jellyfin keeps
    crashing") gets the top recommended skill run too when it only reads (diagnose,
    audit, netcheck): in process, its argv as the recommender filled it, never a shell.
    Only such questions pay for it; a plain question stays a read of the store."""
    from homelab_ops.errors import HomelabError

    top = next((s for s in reply.get("recommended") or [] if s["read_only"]), None)
    if top is None or not top["argv"]:
        return None
    from homelab_ops.commands.invoke import run_argv

    try:
        code, output = run_argv(tuple(top["argv"]), app.global_args(), capture=True)
    except (HomelabError, click.ClickException) as exc:  # one line, never a traceback
        return {"skill": top["id"], "argv": top["argv"], "exit": 1, "output": "",
                "error": f"{top['id']} failed: {exc}"}
    return {"skill": top["id"], "argv": top["argv"], "exit": code, "output": output}


@click.group()
def cache() -> None:
    """The answer cache of `ask` (cleared by every new observation)."""


@command(cache, "warm")
def cache_warm(app: App) -> None:
    """Precompute the common answers, prediction answers included (predictions are
    computed first when none are cached, so those answers have something to say)."""
    from homelab_ops.predict.run import cached_predictions
    from homelab_ops.query.run import warm

    with app.store() as store:
        report, from_cache = cached_predictions(store, app.settings)
        result = warm(store, tasks=_task_for)
    result["predictions"] = {"from_cache": from_cache, "disks": len(report.disks),
                             "containers": len(report.leaks)}
    emit(app, result, lambda r: click.echo(
        f"warmed {r['answers']} answers for {len(r['by_intent'])} intents "
        f"in {r['seconds']:.2f} s; predictions "
        f"{'were cached' if from_cache else 'computed'} for {len(report.disks)} "
        f"filesystems and {len(report.leaks)} containers"))
