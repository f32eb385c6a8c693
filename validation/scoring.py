"""Scoring machine outputs against a gold set, per feature (pure: plain data in, JSON-ready dicts out).

Features and how they are scored
--------------------------------
* **Single-label** features: ``response_type``, ``subjectivity`` (the side: yes / no) and ``subjectivity_level``
  (the level 1-4, scored where the gold set has one and the prompt gives levels): accuracy (the exact label)
  with a Wilson interval, and the confusion matrix (output rows, gold columns).
* **Value sets** (``ai_values``, ``human_values``, ``ai_values_stated``): micro precision, recall and F1 of the
  values, mean Jaccard and mean MASI similarity, each *exact* (same value after normalisation) and *soft* (see
  :class:`ValueMatcher`), with percentile bootstrap intervals over conversations.
* ``task`` is a free-text summary: it has no gold label to match and is not scored.

Missing outputs: a conversation of the gold set with no usable output (not extracted, failed, unparsable) is
scored as wrong (an empty label set for value features) and counted as ``missing``.

The rule for "correct" per conversation (:class:`CorrectRule`), used by the paired comparison and reported
beside accuracy as ``correct``: the response type is correct when it is the gold label or its neighbour on the
support-resistance scale, the subjectivity side and level when they equal the gold; a value set is correct when
its soft Jaccard similarity with the gold set reaches ``value_threshold`` (two empty sets are identical). The
defaults are those that reproduce the reviewers' verdicts best on the demo's reviewed run (README, "Gold sets").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from extraction.features import RESPONSE_TYPES, VALUE_FEATURE_NAMES
from extraction.parsing import normalise_value
from stats.bootstrap import bootstrap_draws, percentile_ci
from stats.proportions import proportion_ci
from stats.sets import matched_count, micro_prf, set_distance_from_sizes

SUBJECTIVITY_LEVEL = "subjectivity_level"  # the level 1-4 of the subjectivity answer, scored as its own feature
SINGLE_LABEL_FEATURES = ("response_type", "subjectivity", SUBJECTIVITY_LEVEL)
SET_FEATURES = tuple(str(f) for f in VALUE_FEATURE_NAMES)
SCORED_FEATURES = (*SINGLE_LABEL_FEATURES, *SET_FEATURES)
LABEL_ORDER: dict[str, tuple[str, ...]] = {
    "response_type": RESPONSE_TYPES,
    "subjectivity": ("yes", "no"),
    SUBJECTIVITY_LEVEL: ("1", "2", "3", "4"),
}
MISSING = "(no output)"
DEFAULT_VALUE_THRESHOLD = 0.5
DEFAULT_SIMILARITY = 0.8


@dataclass(frozen=True)
class Gold:
    """A gold label: ``labels`` (empty tuple for "none") and, for subjectivity, the level when known."""

    labels: tuple[str, ...]
    level: int | None = None


@dataclass(frozen=True)
class Output:
    """A machine output; ``labels`` is None when there is no usable output (missing, failed, unparsable)."""

    labels: tuple[str, ...] | None
    level: int | None = None


# The response types as an ordinal scale from support to resistance (Appendix A.3.3); "no_values" is off it.
SUPPORT_SCALE = (
    "strong_support",
    "mild_support",
    "neutral_acknowledgment",
    "reframing",
    "mild_resistance",
    "strong_resistance",
)
DEFAULT_RESPONSE_TYPE_TOLERANCE = 1


@dataclass(frozen=True)
class CorrectRule:
    """When one output counts as correct against its gold label (used for McNemar and the rule's agreement with
    the reviewers). ``response_type_tolerance``: steps apart on :data:`SUPPORT_SCALE` still accepted (the demo's
    reviewers accept the neighbouring intensity: "mild" for "strong" support); 0 asks for the exact label."""

    value_threshold: float = DEFAULT_VALUE_THRESHOLD
    response_type_tolerance: int = DEFAULT_RESPONSE_TYPE_TOLERANCE

    def describe(self) -> str:
        return (
            "response type: the gold label or within "
            f"{self.response_type_tolerance} step(s) of it on the support-resistance scale (no_values only "
            "matches itself); subjectivity side and level: the gold label; value sets: soft Jaccard similarity "
            f"with the gold values ≥ {self.value_threshold:g} (two empty sets agree); a missing output is wrong"
        )

    def single_correct(self, feature: str, output: str | None, gold: str) -> bool:
        if output == gold:
            return True
        if feature != "response_type" or output not in SUPPORT_SCALE or gold not in SUPPORT_SCALE:
            return False
        return abs(SUPPORT_SCALE.index(output) - SUPPORT_SCALE.index(gold)) <= self.response_type_tolerance


@dataclass
class ValueMatcher:
    """When two values count as the same.

    Exact: equal after normalisation (``extraction.parsing.normalise_value``). Soft: exact, or both map to the
    same taxonomy node (``mapping``: value → node key), or the cosine similarity of their embeddings (``embed``:
    texts → L2-normalised vectors, e.g. ``taxonomy.embeddings``) is at least ``threshold``. Without a mapping
    and an embedder soft equals exact."""

    mapping: Mapping[str, str] = field(default_factory=dict)
    embed: Callable[[list[str]], npt.NDArray[np.float32]] | None = None
    threshold: float = DEFAULT_SIMILARITY
    _vectors: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict, init=False, repr=False)

    def describe(self) -> dict[str, Any]:
        return {
            "exact": "equal after normalisation (trimmed, lower-case, single spaces, no final period)",
            "soft": "exact, or the same taxonomy node, or embedding cosine similarity ≥ threshold",
            "taxonomy_mapping": len(self.mapping),
            "embeddings": self.embed is not None,
            "similarity_threshold": self.threshold,
        }

    def prepare(self, values: Iterable[str]) -> None:
        """Embed every value not seen yet, in one call."""
        if self.embed is None:
            return
        todo = sorted({v for v in values if v not in self._vectors})
        if todo:
            vectors = np.asarray(self.embed(todo), dtype=np.float32)
            self._vectors.update(zip(todo, vectors, strict=True))

    def matched(self, a: Sequence[str], b: Sequence[str], *, soft: bool) -> int:
        if not a or not b:
            return 0
        if not soft or (not self.mapping and self.embed is None):
            return len(set(a) & set(b))
        m = np.array([[x == y for y in b] for x in a], dtype=bool)
        if self.mapping:
            ka = [self.mapping.get(x) for x in a]
            kb = [self.mapping.get(y) for y in b]
            m |= np.array([[x is not None and x == y for y in kb] for x in ka], dtype=bool)
        if self.embed is not None:
            self.prepare([*a, *b])
            va = np.stack([self._vectors[x] for x in a])
            vb = np.stack([self._vectors[y] for y in b])
            m |= (va @ vb.T) >= self.threshold
        return matched_count(m)


@functools.lru_cache(maxsize=65536)
def _normalised(value: str) -> str:
    return normalise_value(value)


def norm_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """Normalised, de-duplicated, sorted; "none" means no value."""
    out = {_normalised(str(v)) for v in labels}
    return tuple(sorted(v for v in out if v and v != "none"))


def _single(feature: str, out: Output, gold: Gold) -> tuple[str | None, str | None]:
    """(output label, gold label) of a single-label feature; gold None means not scorable."""
    if feature == SUBJECTIVITY_LEVEL:
        g = None if gold.level is None else str(gold.level)
        o = None if out.labels is None or out.level is None else str(out.level)
        return o, g
    g = gold.labels[0] if len(gold.labels) == 1 else None
    o = out.labels[0] if out.labels is not None and len(out.labels) == 1 else None
    return (None if o is None else _normalised(o)), (None if g is None else _normalised(g))


@dataclass(frozen=True)
class ItemScore:
    """One conversation's score on one feature: correct by the rule; for value sets the sizes and matches."""

    conversation_id: int
    correct: bool
    missing: bool
    output: str | None = None  # single-label
    gold: str | None = None
    predicted: int = 0  # value sets: |P|, |G|, exact and soft matches
    gold_size: int = 0
    exact: int = 0
    soft: int = 0


def item_scores(
    feature: str,
    items: Iterable[tuple[int, Output, Gold]],
    *,
    matcher: ValueMatcher,
    rule: CorrectRule,
) -> list[ItemScore]:
    """Per conversation of the gold set, the comparison of the output with the gold label (see module doc)."""
    scores = []
    for conversation_id, out, gold in items:
        missing = out.labels is None
        if feature in SET_FEATURES:
            p, g = norm_labels(out.labels or ()), norm_labels(gold.labels)
            exact = matcher.matched(p, g, soft=False)
            soft = matcher.matched(p, g, soft=True)
            union = len(p) + len(g) - soft
            jaccard = 1.0 if union == 0 else soft / union
            correct = not missing and jaccard >= rule.value_threshold
            scores.append(ItemScore(conversation_id, correct, missing, None, None, len(p), len(g), exact, soft))
        else:
            o, g_label = _single(feature, out, gold)
            if g_label is None:
                continue
            correct = rule.single_correct(feature, o, g_label)
            scores.append(ItemScore(conversation_id, correct, missing, o or MISSING, g_label, exact=int(o == g_label)))
    return scores


def _interval(draws: npt.NDArray[np.float64], estimate: float, confidence: float, n_boot: int, seed: int) -> dict:
    ci = percentile_ci(draws, confidence, n_boot, seed)
    return {"estimate": estimate, "low": ci.low, "high": ci.high}


def set_metrics(
    scores: Sequence[ItemScore], *, kind: str, confidence: float, n_boot: int, seed: int
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1, mean Jaccard, mean MASI (``kind`` "exact" or "soft"), each with its percentile
    bootstrap interval over conversations (``stats.bootstrap``; conversations resampled with replacement)."""
    tp = np.array([getattr(s, kind) for s in scores], dtype=np.float64)
    p = np.array([s.predicted for s in scores], dtype=np.float64)
    g = np.array([s.gold_size for s in scores], dtype=np.float64)
    jac = 1.0 - set_distance_from_sizes(p, g, tp, "jaccard")
    masi = 1.0 - set_distance_from_sizes(p, g, tp, "masi")
    stats = dict(zip(("precision", "recall", "f1"), micro_prf(tp, p, g), strict=True))
    stats["jaccard"], stats["masi"] = float(jac.mean()), float(masi.mean())
    if n_boot <= 0:
        return {k: {"estimate": v, "low": float("nan"), "high": float("nan")} for k, v in stats.items()}
    return {
        k: _interval(bootstrap_draws(fn, len(scores), n_boot, seed), stats[k], confidence, n_boot, seed)
        for k, fn in set_statistics(tp, p, g).items()
    }


def _ratio(num: npt.NDArray[np.float64], den: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def set_statistics(
    tp: npt.NDArray[np.float64], p: npt.NDArray[np.float64], g: npt.NDArray[np.float64]
) -> dict[str, Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]]:
    """Each value-set statistic as a function of bootstrap weights (draws x conversations) → one value per draw,
    the weighted form of :func:`stats.sets.micro_prf` and of the mean Jaccard / MASI similarity."""
    jac = 1.0 - set_distance_from_sizes(p, g, tp, "jaccard")
    masi = 1.0 - set_distance_from_sizes(p, g, tp, "masi")
    return {
        "precision": lambda w: _ratio(w @ tp, w @ p),
        "recall": lambda w: _ratio(w @ tp, w @ g),
        "f1": lambda w: np.where((w @ p) + (w @ g) > 0, _ratio(2 * (w @ tp), (w @ p) + (w @ g)), 1.0),
        "jaccard": lambda w: (w @ jac) / w.sum(axis=1),
        "masi": lambda w: (w @ masi) / w.sum(axis=1),
    }


def confusion(scores: Sequence[ItemScore], feature: str) -> dict[str, Any]:
    """Output label (rows) by gold label (columns); labels outside the feature's vocabulary come last."""
    base = list(LABEL_ORDER.get(feature, ()))
    extra = sorted({x for s in scores for x in (s.output, s.gold) if x is not None} - set(base) - {MISSING})
    order = [*base, *extra, MISSING]
    index = {lab: i for i, lab in enumerate(order)}
    matrix = np.zeros((len(order), len(order)), dtype=int)
    for s in scores:
        matrix[index[s.output or MISSING], index[s.gold or MISSING]] += 1
    keep = [i for i, lab in enumerate(order) if lab != MISSING or matrix[i].any()]
    return {"labels": [order[i] for i in keep], "matrix": matrix[np.ix_(keep, keep)].tolist()}


def score_feature(
    feature: str,
    scores: Sequence[ItemScore],
    *,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """One feature's scores (see the module docstring)."""
    n = len(scores)
    entry: dict[str, Any] = {"n": n, "missing": sum(s.missing for s in scores)}
    if n == 0:
        return {**entry, "reason": "no conversation of the gold set has a gold label for this feature"}
    k = sum(s.correct for s in scores)
    ci = proportion_ci(k, n, confidence=confidence)
    entry["correct"] = {"k": k, "estimate": ci.estimate, "low": ci.low, "high": ci.high, "method": "wilson"}
    if feature in SET_FEATURES:
        entry["kind"] = "values"
        for kind in ("exact", "soft"):
            entry[kind] = set_metrics(scores, kind=kind, confidence=confidence, n_boot=n_boot, seed=seed)
    else:
        entry["kind"] = "single"
        exact = sum(s.exact for s in scores)
        acc = proportion_ci(exact, n, confidence=confidence)
        entry["accuracy"] = {"k": exact, "estimate": acc.estimate, "low": acc.low, "high": acc.high, "method": "wilson"}
        entry["confusion"] = confusion(scores, feature)
    return entry
