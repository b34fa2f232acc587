"""bench/ask_embed: does a packaged sentence-embedding model earn its weight in ``ask``?

Issue 16 item 3. Side by side in one run, on the fresh and held-out splits of
tests/unit/ask_eval: (a) today's matcher (lexicon, templates, cues, TF-IDF);
(b) embedding nearest neighbours over the examples the matcher learned (mean cosine of
the three nearest examples of each intent, as TF-IDF does); (c) a blend of the two
scores. Every approach shares the matcher's rules that are not the model: names are
recognised and masked, typos spelled, requests to act refused, the slot-fit preference
and the slot filling, so only the scoring differs. The threshold, margin and blend
weight of (b) and (c) are chosen by 5-fold cross-validation on the learn split (the
fold's phrasings taken out of both indexes), never on fresh or heldout.

Then the whole-process latency of a miss for each: a fresh interpreter that imports
what the approach needs, loads its model, embeds the examples and answers one
question (no store: what the model adds on top of ``ask``'s miss).

Models: only packages whose wheel holds the weights (nothing but the package index is
reachable): ``wordllama`` (256-d static token embeddings, 19 MB wheel; its own loader
looks for the tokenizer in the wrong folder, so it is pointed at the package) and
``tokenlearn-static-model`` (64-d int8 static embeddings behind a Rust extension,
7 MB wheel). A model that is not installed is skipped with a note.

    .venv/bin/python -m bench.ask_embed [--runs 5]

Decision (measured 2026-12-03 on 2 shared CPUs, after the out-of-scope label): not
taken. The best, a wordllama blend (weight 0.7 on the matcher, chosen on learn), moved
fresh from 0.960/0.956 (in scope/refused) to 0.987/0.933 and heldout from 0.977/0.933
to 0.983/0.933: four more fresh questions understood for one more out-of-scope
question answered, the worse error for a tool that must not mislead. For it a miss
costs 1.4x to 4.6x the matcher's whole-process time (240 to 1200 ms more, as the
neighbours' load varied: loading 16 MB of weights and embedding every example each
process) and the install grows by about 45 MiB (wordllama, tokenizers, safetensors),
from a package whose default loader fetches its tokenizer from a model hub. The static
model alone scores well below the matcher. A few questions is what a few more learn
examples or lexicon words move; the model does not earn its weight.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from homelab_ops.query import matcher
from homelab_ops.query.intents import load_database
from homelab_ops.query.matcher import OUT_OF_SCOPE
from homelab_ops.query.normalize import normalize
from homelab_ops.query.slots import find_names, mask
from homelab_ops.query.tfidf import TOP_K, Index
from tests.unit.ask_eval.evaluate import load, world

SPLITS = ("heldout", "fresh")
FOLDS = 5
THRESHOLDS = tuple(round(0.2 + 0.025 * i, 3) for i in range(29))  # 0.2 .. 0.9
MARGINS = (0.0, 0.005, 0.01, 0.02, 0.04)
BLENDS = (0.3, 0.5, 0.7)  # weight of the matcher's score in (c)
MISS_QUESTION = "which container is chewing through the processor"
MODELS = {"wordllama": "wordllama", "static-model": "static_model"}


def _wordllama() -> Callable[[Sequence[str]], np.ndarray]:
    import wordllama
    from wordllama import WordLlama

    model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent)
    # a text of no known token embeds as 0/0: NaN, which would rank above nothing
    return lambda texts: np.nan_to_num(np.asarray(model.embed(list(texts), norm=True),
                                                  dtype=np.float32))


def _static_model() -> Callable[[Sequence[str]], np.ndarray]:
    import static_model

    def embed(texts: Sequence[str]) -> np.ndarray:
        v = np.asarray(static_model.get_embeddings(list(texts)), dtype=np.float32)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
    return embed


LOADERS = {"wordllama": _wordllama, "static-model": _static_model}


def plain(masked: str) -> str:
    """Placeholders as the words they stand for, which a model's vocabulary knows."""
    return masked.replace("{", "").replace("}", "")


@dataclass(frozen=True)
class Case:
    text: str
    intent: str | None
    slots: dict[str, str]
    masked: str  # normalised, names masked, spelled: what every approach scores


@cache
def cases(split: str) -> tuple[Case, ...]:
    names, db = world(), load_database()
    out = []
    for c in load(split):
        tokens = normalize(c["text"]).split()
        out.append(Case(c["text"], c["intent"], c["slots"],
                        db.spell(mask(tokens, find_names(tokens, names)))))
    return tuple(out)


def examples() -> list[tuple[str, str]]:
    """(intent id, masked example) the matcher learned, its out-of-scope examples
    under their own label."""
    db = load_database()
    return ([(i.id, e) for i in db.intents for e in i.examples]
            + [(OUT_OF_SCOPE, e) for e in db.out_of_scope])


def knn(query: np.ndarray, matrix: np.ndarray, labels: np.ndarray,
        ids: Sequence[str]) -> dict[str, float]:
    """Mean cosine of the ``TOP_K`` nearest examples of each intent."""
    sims = matrix @ query
    out = {}
    for intent_id in ids:
        s = sims[labels == intent_id]
        k = min(TOP_K, len(s))
        out[intent_id] = float(np.sort(s)[-k:].mean()) if k else 0.0
    return out


def decide(scores: dict[str, float], fit: dict[str, int], threshold: float,
           margin: float) -> str | None:
    """The matcher's acceptance rule on any score: the best-fitting intent within the
    slot band, accepted if it clears the threshold, leads its rivals by the margin and
    is nearer than the out-of-scope examples."""
    band = load_database().slot_band
    outside = scores.get(OUT_OF_SCOPE, 0.0)
    ranking = sorted(((i, v) for i, v in scores.items() if i != OUT_OF_SCOPE),
                     key=lambda kv: -kv[1])
    top = ranking[0][1]
    best, score = max((kv for kv in ranking if top - kv[1] <= band),
                      key=lambda kv: (fit[kv[0]], kv[1]))
    lead = score - max((s for i, s in ranking if i != best and fit[i] >= fit[best]),
                       default=0.0)
    return best if score >= threshold and lead >= margin and outside <= score else None


@dataclass
class Scored:
    """What a question needs to be decided under any parameters."""

    case: Case
    refused: bool
    lexical: dict[str, float]  # the matcher's scores (TF-IDF lifted by templates, cues)
    embedded: dict[str, float]
    fit: dict[str, int]
    slots_right: bool


def score(case: Case, embedded: dict[str, float]) -> Scored:
    db, names = load_database(), world()
    m = matcher.match(case.text, names)
    words = set(db.canonical(case.masked).split())
    hits = {i.id: h for i in db.intents if (h := matcher._template(i, case.masked, names))
            is not None}
    fit = {i.id: matcher._fit(i, words, hits.get(i.id, {})) for i in db.intents}
    fit[OUT_OF_SCOPE] = -1
    lexical = dict(m.ranking)
    lexical[OUT_OF_SCOPE] = matcher.index().scores(db.canonical(case.masked)).get(
        OUT_OF_SCOPE, 0.0)
    return Scored(case, m.via in ("refused", "none"), lexical, embedded, fit,
                  slots_right(case))


def slots_right(case: Case) -> bool:
    """The expected intent's slots, filled as the matcher fills them, are the expected
    names (computed once per question: only the chosen intent varies with the
    parameters)."""
    if case.intent is None:
        return True
    names = world()
    tokens = normalize(case.text).split()
    intent = matcher.intent_by_id(case.intent)
    hits = matcher._template(intent, case.masked, names) or {}
    slots = matcher._fill(intent, find_names(tokens, names), hits, tokens, names)
    return all(slots.get(k) is not None and slots[k].name == v
               for k, v in case.slots.items())


def blend(s: Scored, weight: float) -> dict[str, float]:
    return {i: weight * s.lexical.get(i, 0.0) + (1 - weight) * s.embedded.get(i, 0.0)
            for i in s.embedded}


def rates(scored: Sequence[Scored], pick: Callable[[Scored], str | None]) -> tuple[float, float]:
    """(in-scope accuracy, out-of-scope refusal)."""
    inside = [s for s in scored if s.case.intent]
    outside = [s for s in scored if not s.case.intent]
    got = {id(s): None if s.refused else pick(s) for s in scored}
    return (sum(got[id(s)] == s.case.intent and s.slots_right for s in inside) / len(inside),
            sum(got[id(s)] is None for s in outside) / len(outside))


def objective(acc: tuple[float, float]) -> float:
    return acc[0] + acc[1]


def cross_validate(embed: Callable[[Sequence[str]], np.ndarray]) -> dict[str, tuple]:
    """Parameters of (b) and (c) from 5-fold cross-validation on the learn split: each
    fold is scored with indexes that lack its phrasings (TF-IDF and embedding alike)."""
    learn = cases("learn")
    pairs = examples()
    ids = sorted({i for i, _ in pairs})
    matrix = embed([plain(e) for _, e in pairs])
    labels = np.array([i for i, _ in pairs])
    queries = embed([plain(c.masked) for c in learn])
    scored: list[Scored] = []
    db = load_database()
    real_index = matcher.index
    try:
        for fold in range(FOLDS):
            held = {t for n, c in enumerate(learn) if n % FOLDS == fold
                    for t in (c.masked, normalize(c.text))}
            keep = np.array([e not in held for _, e in pairs])
            fold_index = Index([(i, db.canonical(e))
                                for (i, e), k in zip(pairs, keep, strict=True) if k])
            matcher.index = lambda fold_index=fold_index: fold_index
            for n, c in enumerate(learn):
                if n % FOLDS == fold:
                    scored.append(score(c, knn(queries[n], matrix[keep], labels[keep], ids)))
    finally:
        matcher.index = real_index
    grid = list(itertools.product(THRESHOLDS, MARGINS))
    emb = max(grid, key=lambda p: objective(rates(
        scored, lambda s: decide(s.embedded, s.fit, *p))))
    mix = max(((w, *p) for w in BLENDS for p in grid), key=lambda p: objective(rates(
        scored, lambda s: decide(blend(s, p[0]), s.fit, p[1], p[2]))))
    return {"embedding": emb, "blend": mix}


def evaluate(model: str) -> dict[str, dict[str, tuple[float, float]]]:
    """approach -> split -> (in-scope accuracy, refusal)."""
    embed = LOADERS[model]()
    params = cross_validate(embed)
    pairs = examples()
    ids = sorted({i for i, _ in pairs})
    matrix, labels = embed([plain(e) for _, e in pairs]), np.array([i for i, _ in pairs])
    db = load_database()
    w, t, m = params["blend"]
    out: dict[str, dict[str, tuple[float, float]]] = {"matcher": {}, model: {},
                                                      f"{model} blend": {}}
    for split in SPLITS:
        split_cases = cases(split)
        queries = embed([plain(c.masked) or "-" for c in split_cases])
        scored = [score(c, knn(q, matrix, labels, ids))
                  for c, q in zip(split_cases, queries, strict=True)]
        out["matcher"][split] = rates(scored, lambda s: decide(
            s.lexical, s.fit, db.threshold, db.margin))
        out[model][split] = rates(scored, lambda s: decide(s.embedded, s.fit,
                                                           *params["embedding"]))
        out[f"{model} blend"][split] = rates(scored, lambda s: decide(blend(s, w), s.fit,
                                                                      t, m))
    print(f"  {model}: chosen on learn by {FOLDS}-fold CV: embedding threshold/margin "
          f"{params['embedding']}, blend weight/threshold/margin {params['blend']}")
    return out


def one_miss(mode: str) -> None:
    """The work of one miss in this process (timed from outside by ``latency``)."""
    names = world()
    m = matcher.match(MISS_QUESTION, names)
    if mode != "matcher":
        embed = LOADERS[mode]()
        matrix = embed([plain(e) for _, e in examples()])
        _ = matrix @ embed([plain(m.masked)])[0]


def latency(mode: str, runs: int) -> float:
    """Median whole-process milliseconds of one miss."""
    argv = [sys.executable, "-m", "bench.ask_embed", "--one", mode]
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(argv, check=True, cwd=Path(__file__).resolve().parent.parent)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[1:])  # the first run writes bytecode


def wheel_note(model: str) -> str:
    spec = importlib.util.find_spec(MODELS[model])
    root = Path(spec.origin).parent
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return f"{size / 2**20:.0f} MiB installed (package alone, without numpy/tokenizers)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one_miss(args.one)
        return
    models = [m for m, mod in MODELS.items() if importlib.util.find_spec(mod)]
    for m in set(MODELS) - set(models):
        print(f"  {m}: not installed, skipped")
    results: dict[str, dict[str, tuple[float, float]]] = {}
    for model in models:
        results.update(evaluate(model))
    ms = {mode: latency(mode, args.runs) for mode in ["matcher", *models]}
    base = ms["matcher"]
    print(f"ask's matcher vs embedding models, whole-process miss median of {args.runs}")
    print(f"  {'approach':22s}" + "".join(f"{s + ' in scope':>18s}{s + ' refused':>18s}"
                                          for s in SPLITS) + f"{'miss ms':>10s}{'ratio':>7s}")
    for approach, by_split in results.items():
        mode = approach.removesuffix(" blend")
        row = "".join(f"{by_split[s][0]:>18.3f}{by_split[s][1]:>18.3f}" for s in SPLITS)
        cost = ms["matcher" if mode == "matcher" else mode]
        print(f"  {approach:22s}{row}{cost:>10.0f}{cost / base:>7.2f}")
    for model in models:
        print(f"  {model}: {wheel_note(model)}")


if __name__ == "__main__":
    main()
