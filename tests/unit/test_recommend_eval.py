"""The recommender against its labelled set (tests/unit/recommend_eval): the held-out part
meets the targets and shares no phrasing with what the classifier learned. Print the
figures with ``.venv/bin/python -m tests.unit.recommend_eval.evaluate heldout -v``."""

from __future__ import annotations

from collections import Counter

from homelab_ops.models.categories import CATEGORIES
from homelab_ops.query.normalize import normalize
from homelab_ops.recommend.catalogue import load_catalogue
from tests.unit.recommend_eval.evaluate import evaluate, load


def test_heldout_meets_the_targets() -> None:
    r = evaluate("heldout")
    assert r.top1 >= 0.85, r.errors
    assert r.top3 >= 0.95, r.errors
    assert r.rejection >= 0.9, r.errors


def test_heldout_shares_no_phrasing_with_what_was_learned() -> None:
    learned = {normalize(e) for s in load_catalogue().skills for e in s.examples}
    learned |= {normalize(c["text"]) for c in load("learn")}
    assert [c["text"] for c in load("heldout") if normalize(c["text"]) in learned] == []


def test_each_split_covers_every_category_and_out_of_scope() -> None:
    for split in ("learn", "heldout"):
        cases = load(split)
        per = Counter(c["category"] for c in cases)
        assert set(per) - {None} == set(CATEGORIES)
        assert min(per[c] for c in CATEGORIES) >= 20 and per[None] >= 40, per
        known = {s.id: s.category for s in load_catalogue().skills}
        assert all(known[c["skill"]] == c["category"] for c in cases if c["skill"])
        # real names, misspelled names and names that run nowhere
        assert sum(1 for c in cases if c["service"]) >= 30
        assert any(c["service"] and c["service"] not in normalize(c["text"]).replace(" ", "-")
                   for c in cases)
        assert sum(1 for c in cases if c["skill"] and not c["service"]
                   and {"nextcloud", "gitea", "plex"} & set(normalize(c["text"]).split())) >= 3


def test_ask_hands_over_no_out_of_scope_question() -> None:
    """ask's refusals stay refusals: of the out-of-scope questions of its held-out
    splits that its matcher rejects, (almost) none becomes a recommendation (a request
    to act that ask refuses is never handed over)."""
    from homelab_ops.query.matcher import match
    from homelab_ops.recommend.handoff import task_for
    from tests.unit.ask_eval.evaluate import load as ask_load
    from tests.unit.ask_eval.evaluate import world

    names = world()
    for split in ("heldout", "fresh"):
        rejected = [c["text"] for c in ask_load(split) if c["intent"] is None
                    for m in [match(c["text"], names)] if m.intent is None and not m.refused]
        handed = [t for t in rejected if task_for(t, names) is not None]
        assert len(handed) <= 0.05 * len(rejected), handed
