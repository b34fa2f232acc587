"""An answer of ``ask``: its lines, the skill it ran, how fresh it is and, with
--explain, why the matcher chose it."""

from __future__ import annotations

import click


def reply(reply: dict) -> None:
    for line in reply["lines"]:
        click.echo(line)
    if ran := reply.get("ran"):
        click.echo(f"ran {' '.join(ran['argv'])}:")
        click.echo(ran.get("error") or ran["output"].rstrip())
    click.echo(reply["freshness"] + (" [cached]" if reply.get("cached") else ""))
    why = reply.get("explain")
    if why:
        click.echo(f"intent: {reply.get('intent') or 'none'} via {why['via']}, "
                   f"score {why['score']:.2f}, margin {why['margin']:.2f}"
                   + (" (preferred: the question fills its slots)"
                      if why["preferred_for_slots"] else ""))
        click.echo(f"normalised: {why['normalised']!r}, masked: {why['masked']!r}, "
                   f"lexicon: {why['lexicon']!r}")
        if why["refused"]:
            click.echo(f"refused: {', '.join(why['refused'])} asks for an action")
        for cue in why["cues"]:
            click.echo(f"cue: {cue}")
        if why["carried"]:
            click.echo("TF-IDF score carried by: "
                       + ", ".join(f"{w} {v:.2f}" for w, v in why["carried"]))
        for slot, value in why["slots"].items():
            click.echo(f"slot {slot}: said {value['said']!r} -> {value['name']}")
        if why["ranking"]:
            click.echo("ranking: " + ", ".join(f"{i} {s:.2f}" for i, s in why["ranking"]))
