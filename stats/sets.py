"""Set-valued labels: Jaccard and MASI distances, and machine-versus-reviewer agreement on value sets.

The project's one Jaccard: the extraction's self-consistency confidence, set-valued alpha and the agreement
report all measure set overlap here.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from stats.errors import EmptyInputError, LengthMismatchError, StatsInputError
from stats.result import Result

__all__ = [
    "SetAgreement",
    "jaccard_distance",
    "jaccard_similarity",
    "masi_distance",
    "matched_count",
    "micro_prf",
    "set_agreement",
]


@dataclass(frozen=True)
class SetAgreement(Result):
    """Agreement between machine and reviewer value sets over n pairs."""

    n: int
    exact_match: float
    mean_jaccard: float
    mean_masi: float


def as_set(v: Any, where: str) -> frozenset[Any]:
    """One rating as a frozenset of labels; a bare string is refused (it would become a set of characters)."""
    if isinstance(v, (str, bytes)):
        raise StatsInputError(f"{where}: expected a set of labels, got the string {v!r} (wrap it in a list)")
    try:
        return frozenset(v)
    except TypeError:
        raise StatsInputError(f"{where}: expected a set of labels, got {v!r}") from None


def jaccard_similarity(a: Iterable[Hashable], b: Iterable[Hashable]) -> float:
    """|A∩B| / |A∪B| (Jaccard 1912); two empty sets are identical (similarity 1)."""
    sa, sb = frozenset(a), frozenset(b)
    union = len(sa | sb)
    return 1.0 if union == 0 else len(sa & sb) / union


def jaccard_distance(a: Iterable[Hashable], b: Iterable[Hashable]) -> float:
    """1 - |A∩B| / |A∪B| (Jaccard 1912); two empty sets are identical (distance 0)."""
    return 1.0 - jaccard_similarity(a, b)


def masi_distance(a: Iterable[Hashable], b: Iterable[Hashable]) -> float:
    """MASI distance (Passonneau 2006, LREC): 1 - J·M with J the Jaccard similarity and M the monotonicity
    weight: 1 if A = B, 2/3 if one contains the other, 1/3 if they overlap otherwise, 0 if disjoint.
    Same constants as ``nltk.metrics.distance.masi_distance``; two empty sets are identical (distance 0)."""
    sa, sb = frozenset(a), frozenset(b)
    sizes = np.array([len(sa)]), np.array([len(sb)]), np.array([len(sa & sb)])
    return float(set_distance_from_sizes(*sizes, "masi")[0])


def set_distance_from_sizes(
    size_a: npt.NDArray[Any], size_b: npt.NDArray[Any], inter: npt.NDArray[Any], kind: str
) -> npt.NDArray[np.float64]:
    """Jaccard or MASI distance per pair, vectorised, from the two set sizes and the intersection size."""
    size_a = np.asarray(size_a, dtype=np.float64)
    size_b = np.asarray(size_b, dtype=np.float64)
    inter = np.asarray(inter, dtype=np.float64)
    union = size_a + size_b - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        jac = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)
    if kind == "jaccard":
        return 1.0 - jac
    equal = (size_a == size_b) & (inter == size_a)
    subset = inter == np.minimum(size_a, size_b)
    m = np.where(equal, 1.0, np.where(subset, 2.0 / 3.0, np.where(inter > 0, 1.0 / 3.0, 0.0)))
    return 1.0 - jac * m


def set_agreement(machine: Sequence[Iterable[Hashable]], reviewer: Sequence[Iterable[Hashable]]) -> SetAgreement:
    """Exact-match rate, mean Jaccard similarity and mean MASI similarity (1 - distance) between paired sets
    (Passonneau 2006). For a categorical feature (one label) exact match is plain accuracy."""
    if len(machine) != len(reviewer):
        raise LengthMismatchError(f"{len(machine)} machine label sets but {len(reviewer)} reviewer label sets")
    if len(machine) == 0:
        raise EmptyInputError("no corrected labels to compare (no reviews?)")
    a = [as_set(s, f"machine labels, item {i}") for i, s in enumerate(machine)]
    b = [as_set(s, f"reviewer labels, item {i}") for i, s in enumerate(reviewer)]
    sa = np.array([len(s) for s in a])
    sb = np.array([len(s) for s in b])
    inter = np.array([len(x & y) for x, y in zip(a, b, strict=True)])
    jac = 1.0 - set_distance_from_sizes(sa, sb, inter, "jaccard")
    masi = 1.0 - set_distance_from_sizes(sa, sb, inter, "masi")
    exact = float(np.mean([x == y for x, y in zip(a, b, strict=True)]))
    return SetAgreement(n=len(a), exact_match=exact, mean_jaccard=float(jac.mean()), mean_masi=float(masi.mean()))


def matched_count(match: npt.ArrayLike) -> int:
    """Largest number of one-to-one pairs in a boolean match matrix (rows: one set's values, columns: the
    other's; True where two values count as the same): the size of a maximum bipartite matching, found as a
    linear assignment (Kuhn 1955; ``scipy.optimize.linear_sum_assignment``). With exact equality as the match
    this is |A ∩ B|; with a soft match (same taxonomy node, similar embeddings) no value is counted twice."""
    from scipy.optimize import linear_sum_assignment

    m = np.asarray(match, dtype=bool)
    if m.ndim != 2:
        raise StatsInputError(f"a match matrix must be two-dimensional, got shape {m.shape}")
    if m.size == 0:
        return 0
    rows, cols = linear_sum_assignment(m, maximize=True)
    return int(m[rows, cols].sum())


def micro_prf(
    matched: npt.ArrayLike, predicted: npt.ArrayLike, gold: npt.ArrayLike, weights: npt.ArrayLike | None = None
) -> tuple[float, float, float]:
    """Micro-averaged precision, recall and F1 of predicted value sets against gold sets.

    With per-item counts tp (matched values), |P| and |G| and item weights w (1 by default; bootstrap draws pass
    resample counts): precision = Σw·tp / Σw·|P|, recall = Σw·tp / Σw·|G|, F1 = 2Σw·tp / (Σw·|P| + Σw·|G|)
    (van Rijsbergen 1979; micro-averaging as in Manning, Raghavan & Schütze 2008, §13.6). A ratio whose
    denominator is 0 is NaN, except F1 with no value on either side, which is 1 (nothing to find, nothing found).
    """
    tp = np.asarray(matched, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    g = np.asarray(gold, dtype=np.float64)
    w = np.ones_like(tp) if weights is None else np.asarray(weights, dtype=np.float64)
    s_tp, s_p, s_g = float((w * tp).sum()), float((w * p).sum()), float((w * g).sum())
    precision = s_tp / s_p if s_p else float("nan")
    recall = s_tp / s_g if s_g else float("nan")
    f1 = 2 * s_tp / (s_p + s_g) if s_p + s_g else 1.0
    return precision, recall, f1
