"""The statistical fallback: TF-IDF over character n-grams and words, pure Python.

Character n-grams inside word boundaries (3 to 5 characters, as scikit-learn's
``char_wb``) make "restartd", "restarted" and "restart" close, so typos and word forms
need no stemmer; word unigrams and bigrams keep the word order signal ("disk full"
versus "full disk report"). A question's score for an intent is its mean cosine
similarity to the three nearest examples of that intent: nearer to a phrasing style
than a centroid that blurs all of them, steadier than the single nearest example, which
lets one odd example decide (5-fold cross-validation on the learn split: 0.95 accuracy
against 0.92 for the nearest example alone, at the same rejection).
Tens of intents with several hundred examples make a brute-force scan cheaper than
any index structure.
"""

from __future__ import annotations

import hashlib
import heapq
import marshal
import math
import os
import sys
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

NGRAMS = (3, 4, 5)
TOP_K = 3


def features(text: str) -> Counter[str]:
    """Sparse term counts of one normalised text."""
    words = text.split()
    out: Counter[str] = Counter()
    for word in words:
        padded = f" {word} "
        for n in NGRAMS:
            out.update(padded[i:i + n] for i in range(max(1, len(padded) - n + 1)))
    out.update(f"w:{w}" for w in words)
    out.update(f"b:{a} {b}" for a, b in pairwise(words))
    return out


class Index:
    """Labelled examples as unit TF-IDF vectors (sublinear tf, smoothed idf)."""

    def __init__(self, examples: Sequence[tuple[str, str]]) -> None:
        counts = [features(text) for _, text in examples]
        # document frequency over labels, not examples: a term every intent uses
        # ("what", "is the") says nothing, one only a single intent uses says a lot
        by_label: dict[str, set[str]] = {}
        for (label, _), c in zip(examples, counts, strict=True):
            by_label.setdefault(label, set()).update(c)
        df: Counter[str] = Counter()
        for terms in by_label.values():
            df.update(terms)
        n = len(by_label)
        self.idf = {term: math.log((1 + n) / (1 + k)) + 1.0 for term, k in df.items()}
        self.unseen_idf = math.log(1 + n) + 1.0
        self.labels = [label for label, _ in examples]
        self.vectors = [self._vector(c) for c in counts]

    @classmethod
    def cached(cls, examples: Sequence[tuple[str, str]], directory: Path,
               name: str) -> Index:
        """The index of ``examples``, read from ``directory`` when this code built it
        from the same examples, else built (the bulk of a cold ``ask``: ~170 ms for
        ~1,100 examples, against ~20 ms to read) and saved there for the next process.
        ``name`` says whose index it is (ask's, recommend's): a new one replaces only
        the older files of that name. A missing, damaged or unwritable file only costs
        the build."""
        source = Path(__file__).read_bytes() + sys.version.encode()
        key = hashlib.sha256(source + marshal.dumps(list(map(tuple, examples)))).hexdigest()
        path = directory / f"tfidf-{name}-{key[:32]}.marshal"
        try:
            idf, unseen, labels, vectors = marshal.loads(path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            index = cls(examples)
            index._save(path, f"tfidf-{name}-*.marshal")
            return index
        index = cls.__new__(cls)
        index.idf, index.unseen_idf, index.labels, index.vectors = idf, unseen, labels, vectors
        return index

    def _save(self, path: Path, older: str) -> None:
        """Write atomically, and drop the files matching ``older`` (the same index
        built from other examples or code)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_bytes(marshal.dumps((self.idf, self.unseen_idf, self.labels,
                                           self.vectors)))
            os.replace(tmp, path)
            for old in path.parent.glob(older):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only home: every process builds its own

    def _vector(self, counts: Counter[str]) -> dict[str, float]:
        vec = {t: (1.0 + math.log(k)) * self.idf.get(t, self.unseen_idf)
               for t, k in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / norm for t, v in vec.items()}

    def carried(self, text: str, label: str) -> list[tuple[str, float]]:
        """Each word of ``text`` with its part of the score of ``label``: the terms
        shared with the nearest examples, a character n-gram split among the words that
        contain it, a bigram between its two words. Best first."""
        query = self._vector(features(text))
        near = heapq.nlargest(TOP_K, (
            (sum(w * vec.get(t, 0.0) for t, w in query.items()), vec)
            for lab, vec in zip(self.labels, self.vectors, strict=True) if lab == label),
            key=lambda sv: sv[0])
        words = text.split()
        out: Counter[str] = Counter()
        for _, vec in near:
            for term, w in query.items():
                part = w * vec.get(term, 0.0) / len(near)
                if not part:
                    continue
                owners = _owners(term, words)
                for word in owners:
                    out[word] += part / len(owners)
        return [(w, round(v, 3)) for w, v in out.most_common() if v > 0]

    def scores(self, text: str) -> dict[str, float]:
        """Mean cosine similarity of ``text`` to the ``TOP_K`` nearest examples of each
        label."""
        query = self._vector(features(text))
        sims: dict[str, list[float]] = {}
        for label, vec in zip(self.labels, self.vectors, strict=True):
            small, large = (query, vec) if len(query) < len(vec) else (vec, query)
            sims.setdefault(label, []).append(
                sum(w * large.get(t, 0.0) for t, w in small.items()))
        return {label: sum(heapq.nlargest(TOP_K, s)) / min(TOP_K, len(s))
                for label, s in sims.items()}


def _owners(term: str, words: list[str]) -> list[str]:
    """The words of a query a feature came from."""
    if term.startswith("w:"):
        return [term[2:]]
    if term.startswith("b:"):
        return term[2:].split()
    return [w for w in dict.fromkeys(words) if term in f" {w} "] or words
