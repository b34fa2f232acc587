"""From plain words to ranked skills: offline, no LLM, on the ``ask`` matcher's pieces.

The path is ``ask``'s: normalise -> recognise real service names (from the latest
observation) and mask them as ``{service}`` -> correct typos against the catalogue's
vocabulary -> map words to lexicon groups (ask's lexicon plus the catalogue's own) ->
TF-IDF nearest examples per skill. The text score decides whether the text is in scope
at all (``threshold`` in skills.json, chosen on the learn split of
tests/unit/recommend_eval), so what was learned never makes "tell me a joke" a task.

The ranking then blends that text score with how well each skill worked for the
category before (``learn.success_rate``): ``score = text * (1 - w + w * rate) /
(1 - w + w * prior_mean)``, which equals the text score while nothing was recorded, and
moves a skill up to 1/(1 - w/2) = 4/3 or down to 2/3 of it (w = 0.5, prior mean 1/2)
as outcomes accumulate. The query's category is that of its best skill by text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from homelab_ops.locations import cache_dir
from homelab_ops.query.intents import load_database, spell, synonyms
from homelab_ops.query.normalize import normalize
from homelab_ops.query.slots import Names, find_names, mask, resolve_name
from homelab_ops.query.tfidf import Index
from homelab_ops.recommend.catalogue import FILE, load_catalogue, raw_catalogue

if TYPE_CHECKING:  # the models load only when skills are ranked
    from homelab_ops.models.skill import Catalogue, Skill

TOP = 3
NAME_BAR = 1.0  # share of the threshold the rest of a text must reach without a name
Tally = Mapping[tuple[str, str], tuple[int, int]]  # (category, skill) -> (worked, failed)


@dataclass(frozen=True)
class Ranked:
    """One recommended skill: its blended score, why, and its command filled in."""

    skill: Skill
    score: float  # the ranking score (text blended with the success rate)
    text: float  # the text score alone
    rate: float  # posterior mean success rate for the query's category
    reason: str
    command: str  # the template with the resolved service, or <service> left open
    argv: tuple[str, ...] | None  # runnable argv: complete and read-only, else None


@dataclass(frozen=True)
class Recommendation:
    text: str  # normalised
    canonical: str  # what TF-IDF saw
    category: str | None  # None: out of scope
    ranked: tuple[Ranked, ...] = ()
    service: str | None = None  # the real service named in the text
    unknown: tuple[str, ...] = ()  # words that look like a service that does not run
    close: tuple[str, ...] = ()  # real names close to them

    @property
    def confident(self) -> bool:
        return self.category is not None


@dataclass(frozen=True)
class Scored:
    """The text scores of one text, before any ranking: all ``ask`` needs to decide
    whether a question is a task (no pydantic on this path)."""

    text: str  # normalised
    canonical: str  # what TF-IDF saw
    scores: dict[str, float]  # skill id -> text score
    service: str | None
    unknown: tuple[str, ...]
    close: tuple[str, ...]

    @property
    def best(self) -> tuple[str | None, float]:
        if not self.scores:
            return None, 0.0
        sid = max(self.scores, key=lambda k: self.scores[k])
        return sid, self.scores[sid]


@dataclass(frozen=True)
class _Model:
    """The scoring side of the catalogue, built from the file's raw JSON so ``ask`` can
    score a question without loading the pydantic models; ranking (which shows skills)
    loads the validated catalogue."""

    threshold: float
    index: Index
    synonyms: dict[str, str]
    vocabulary: frozenset[str]
    category: dict[str, str]  # skill id -> category
    named: frozenset[str] = frozenset()  # skills whose examples name a service

    def canonical(self, text: str) -> str:
        return " ".join(self.synonyms.get(w, w) for w in text.split())


@cache
def _model() -> _Model:
    try:
        raw = raw_catalogue()
        skills = [(s["id"], s["category"], [normalize(e) for e in s["examples"]])
                  for s in raw["skills"]]
        threshold, lexicon = float(raw["threshold"]), raw.get("lexicon", {})
    except (KeyError, TypeError, ValueError):
        load_catalogue()  # a broken file: the validated load names the field
        raise
    groups = merged_lexicon(lexicon)
    vocabulary = {w for _, _, examples in skills for e in examples for w in e.split()}
    vocabulary |= set(groups) | set(groups.values())
    canonical = _Model(threshold, Index([]), groups, frozenset(), {}).canonical
    index = Index.cached([(sid, canonical(e)) for sid, _, examples in skills for e in examples],
                         cache_dir(), "recommend")
    named = frozenset(sid for sid, _, examples in skills
                      if any("{service}" in e for e in examples))
    return _Model(threshold, index, groups, frozenset(vocabulary),
                  {sid: category for sid, category, _ in skills}, named)


def merged_lexicon(lexicon: dict[str, list[str]]) -> dict[str, str]:
    """ask's lexicon with the catalogue's groups added; a word the two files put in
    different groups is an error naming skills.json."""
    asks = load_database().synonyms
    mine = synonyms(lexicon, FILE)
    clash = sorted(w for w, g in mine.items() if asks.get(w, g) != g)
    if clash:
        raise ValueError(f"{FILE}: lexicon: {clash} are in other groups in intents.json")
    return {**asks, **mine}


def score(text: str, names: Names) -> Scored:
    """The text score of every skill for ``text``, given the names that run now."""
    model = _model()
    norm = normalize(text)
    tokens = norm.split()
    found = [f for f in find_names(tokens, names) if f.type == "service"]
    masked = spell(mask(tokens, found), model.vocabulary)
    canonical = model.canonical(masked)
    service = found[0].name if found else None
    unknown = tuple(w for w in masked.split() if _looks_like_name(w, model.vocabulary)
                    and w not in load_database().vocabulary)
    close = tuple(c for w in unknown for c in resolve_name(w, "service", names)[1])
    scores = model.index.scores(canonical) if canonical else {}
    if scores and service is None and unknown:
        scores = _as_name(model, canonical, unknown[0], scores)
    return Scored(norm, canonical, scores, service, unknown, close)


def classify(text: str, names: Names, tally: Tally | None = None,
             threshold: float | None = None) -> Recommendation:
    """Ranked skills for ``text`` given the names that run now and recorded outcomes."""
    s = score(text, names)
    best, top = s.best
    limit = _model().threshold if threshold is None else threshold
    if best is None or top < limit:
        return Recommendation(s.text, s.canonical, None, service=s.service,
                              unknown=s.unknown, close=s.close)
    cat = load_catalogue()
    category = _model().category[best]
    ranked = sorted((_rank(cat.skill(sid), t, category, tally or {}, cat, s.service,
                           s.unknown, s.close) for sid, t in s.scores.items()),
                    key=lambda r: -r.score)
    return Recommendation(s.text, s.canonical, category, tuple(ranked[:TOP]), s.service,
                          s.unknown, s.close)


def _as_name(model: _Model, canonical: str, word: str, scores: dict[str, float]
             ) -> dict[str, float]:
    """Scores with an unknown name-like word read as a service ("gitea keeps crashing"
    like "{service} keeps crashing"), for skills about a service, only when the text
    without the word is itself near that skill: a word alone never makes a task."""
    rest = model.index.scores(" ".join(w for w in canonical.split() if w != word))
    named = model.index.scores(canonical.replace(word, "{service}", 1))
    bar = model.threshold * NAME_BAR
    return {k: max(v, named[k]) if k in model.named and rest[k] >= bar else v
            for k, v in scores.items()}


def success_rate(tally: Tally, category: str, skill: str, prior: tuple[float, float]
                 ) -> float:
    """Posterior mean of a Beta(prior) success rate after the recorded outcomes."""
    worked, failed = tally.get((category, skill), (0, 0))
    a, b = prior
    return (a + worked) / (a + b + worked + failed)


def _rank(skill: Skill, text: float, category: str, tally: Tally, cat: Catalogue,
          service: str | None, unknown: tuple[str, ...], close: tuple[str, ...]) -> Ranked:
    rate = success_rate(tally, category, skill.id, cat.prior)
    prior_mean = cat.prior[0] / sum(cat.prior)
    score = text * (1 - cat.weight + cat.weight * rate) / (1 - cat.weight
                                                           + cat.weight * prior_mean)
    command, argv = fill(skill, service)
    reason = f"{skill.title}: {skill.when}"
    if "service" in skill.slots and service is None:
        near = f"; did you mean {', '.join(close)}?" if close else ""
        reason += (f" (no service called {unknown[0]!r} runs here{near})" if unknown
                   else " (name the service)")
    return Ranked(skill, round(score, 3), round(text, 3), round(rate, 3), reason, command,
                  argv)


def fill(skill: Skill, service: str | None) -> tuple[str, tuple[str, ...] | None]:
    """The command with ``{service}`` replaced by a resolved name, and its argv when
    it may run from ``recommend --run`` (read-only, nothing left to fill in). The name
    is substituted into the split argv as one element, never into a shell string."""
    argv = [service if a == "{service}" and service else a for a in skill.argv]
    shown = skill.command.replace("{service}", service) if service else \
        skill.command.replace("{service}", "<service>")
    complete = not skill.fill_ins and "{service}" not in argv
    return shown, tuple(argv) if skill.read_only and complete else None


def _looks_like_name(word: str, vocabulary: frozenset[str]) -> bool:
    """A word that is no word of the catalogue and could be a service name."""
    return (len(word) >= 3 and word not in vocabulary and not word.startswith("{")
            and word[0].isalpha() and word not in _COMMON)


_COMMON = frozenset((
    "a", "an", "the", "my", "our", "your", "is", "are", "was", "were", "be", "been",
    "it", "its", "this", "that", "these", "those", "and", "or", "but", "of", "to",
    "in", "on", "at", "for", "from", "with", "by", "about", "as", "into", "than",
    "then", "so", "if", "why", "how", "what", "when", "where", "which", "who", "whom",
    "whose", "do", "does", "did", "done", "can", "cant", "could", "would", "should",
    "will", "wont", "not", "no", "yes", "me", "i", "you", "we", "they", "he", "she",
    "them", "us", "please", "now", "again", "still", "just", "very", "really", "too",
    "also", "all", "any", "some", "get", "got", "has", "have", "had", "keep", "keeps",
    "kept",
))
