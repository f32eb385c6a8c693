"""validation/stats.py against published numbers and independent implementations."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import krippendorff
import numpy as np
import pytest
from nltk.metrics import agreement as nltk_agreement
from nltk.metrics import distance as nltk_distance
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

from validation import stats

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: four observers, twelve units,
# missing values. Published: nominal .743, ordinal .815, interval .849, ratio .797.
KRIPPENDORFF_EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]
KRIPPENDORFF_PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


def _round1(x: float) -> str:
    """Round half up to one decimal, as printed in the paper (98.75 → 98.8)."""
    return str(Decimal(repr(x)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _value(res: stats.AlphaResult | stats.CoefficientResult) -> float:
    assert res.value is not None, res.reason
    return res.value


def _to_nan(data: list[list[Any]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in data], dtype=float)


# ------------------------------------------------------------------------------------------- proportions


@pytest.mark.parametrize(
    ("successes", "n", "estimate", "plus_minus"),
    [
        (88, 90, "97.8", "3.6"),  # subjectivity filter, yes/no side
        (85, 90, "94.4", "5.0"),  # subjectivity filter, exact score
        (79, 80, "98.8", "3.3"),  # AI values and stated AI values
        (75, 80, "93.8", "5.6"),  # human values
        (72, 80, "90.0", "6.7"),  # AI response type
    ],
)
def test_default_interval_reproduces_paper_appendix_a4(successes: int, n: int, estimate: str, plus_minus: str) -> None:
    ci = stats.proportion_ci(successes, n)
    assert ci.method == "wilson"
    assert _round1(100 * ci.estimate) == estimate
    assert _round1(100 * ci.half_width) == plus_minus
    assert ci.half_width == pytest.approx((ci.high - ci.low) / 2)


@pytest.mark.parametrize("method", ["clopper-pearson", "agresti-coull", "wald"])
def test_other_methods_do_not_reproduce_the_paper(method: str) -> None:
    """The docstring's finding: only Wilson without continuity correction matches all five figures."""
    published = [(88, 90, "3.6"), (85, 90, "5.0"), (79, 80, "3.3"), (75, 80, "5.6"), (72, 80, "6.7")]
    matches = [_round1(100 * stats.proportion_ci(s, n, method=method).half_width) == pm for s, n, pm in published]
    assert not all(matches)


@pytest.mark.parametrize(
    ("method", "sm_method"),
    [("wilson", "wilson"), ("clopper-pearson", "beta"), ("agresti-coull", "agresti_coull"), ("wald", "normal")],
)
def test_proportion_ci_matches_statsmodels(method: str, sm_method: str) -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(1, 500))
        x = int(rng.integers(0, n + 1))
        conf = float(rng.choice([0.8, 0.9, 0.95, 0.99]))
        ours = stats.proportion_ci(x, n, confidence=conf, method=method)
        lo, hi = proportion_confint(x, n, alpha=1 - conf, method=sm_method)
        assert ours.low == pytest.approx(lo, abs=1e-9), (x, n, conf)
        assert ours.high == pytest.approx(hi, abs=1e-9), (x, n, conf)


def test_wilson_coverage_simulation_with_reviewers_of_known_accuracy() -> None:
    """Seed 20251122. Machine labels are right with probability 0.9 and a reviewer judges correctly with
    probability 0.97, so the share judged correct has true value 0.9·0.97 + 0.1·0.03 = 0.876. Over 2,000
    studies of 200 items each, the 95% Wilson interval must cover 0.876 in 93-97% of them. (With 80 items, the
    paper's size, the same simulation gives 92.7%: Wilson's coverage oscillates with n and p, dipping below
    nominal at some points; Brown, Cai & DasGupta 2001, Stat Sci 16:101-133.)"""
    rng = np.random.default_rng(20251122)
    theta = 0.9 * 0.97 + 0.1 * 0.03
    n, reps = 200, 2000
    machine_right = rng.random((reps, n)) < 0.9
    reviewer_right = rng.random((reps, n)) < 0.97
    judged_correct = (machine_right == reviewer_right).sum(axis=1)
    covered = 0
    for x in judged_correct:
        ci = stats.proportion_ci(int(x), n)
        covered += ci.low <= theta <= ci.high
    assert 0.93 <= covered / reps <= 0.97


def test_required_sample_size_is_the_smallest_n_reaching_the_target() -> None:
    for expected, target, method, sm_method in [
        (0.95, 0.05, "wilson", "wilson"),
        (0.988, 0.033, "wilson", "wilson"),
        (0.9, 0.03, "clopper-pearson", "beta"),
        (0.8, 0.05, "agresti-coull", "agresti_coull"),
        (0.5, 0.1, "wald", "normal"),
    ]:
        n = stats.required_sample_size(expected, target, method=method)

        def hw(m: int, e: float = expected, sm: str = sm_method) -> float:
            lo, hi = proportion_confint(e * m, m, method=sm)
            return (hi - lo) / 2

        assert hw(n) <= target + 1e-12
        assert hw(n - 1) > target
    # 95% expected, ±5%: 82 items give ±5.03%, 83 give ±4.997%.
    assert stats.required_sample_size(0.95, 0.05) == 83


def test_additional_reviews_needed() -> None:
    # At 79/80 (paper's AI values) the Wilson half-width is 3.26%; reaching ±2% at 98.75% needs more items.
    more = stats.additional_reviews_needed(79, 80, 0.02)
    assert more == stats.required_sample_size(79 / 80, 0.02) - 80
    assert more > 0
    assert stats.proportion_ci(79 / 80 * (80 + more), 80 + more).half_width <= 0.02
    assert stats.additional_reviews_needed(79, 80, 0.05) == 0


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: stats.proportion_ci(0, 0), stats.EmptyInputError, "no reviews"),
        (lambda: stats.proportion_ci(5, 4), stats.OutOfScaleError, "0..n=4"),
        (lambda: stats.proportion_ci(1, 4, method="exact"), stats.StatsInputError, "unknown interval method"),
        (lambda: stats.proportion_ci(1, 4, confidence=95), stats.StatsInputError, "confidence"),
        (lambda: stats.required_sample_size(1.2, 0.05), stats.OutOfScaleError, "expected agreement"),
        (lambda: stats.required_sample_size(0.9, 0), stats.OutOfScaleError, "half-width"),
    ],
)
def test_proportion_bad_input(call, error, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=fragment):
        call()
    assert issubclass(error, ValueError)


# ------------------------------------------------------------------------------------------- alpha


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_krippendorff_worked_example(level: str) -> None:
    res = stats.krippendorff_alpha(KRIPPENDORFF_EXAMPLE, level=level, n_boot=0)
    assert round(_value(res), 3) == KRIPPENDORFF_PUBLISHED[level]
    ref = krippendorff.alpha(_to_nan(KRIPPENDORFF_EXAMPLE), level_of_measurement=level)  # type: ignore[arg-type]
    assert res.value == pytest.approx(ref, abs=1e-12)
    assert res.n_pairable_units == 11  # unit 12 has a single rating
    assert res.n_pairable_values == 40


def test_alpha_ordinal_labels_need_and_use_the_scale_order() -> None:
    names = {1: "very low", 2: "low", 3: "mid", 4: "high", 5: "very high"}
    labelled = [[None if v is None else names[v] for v in row] for row in KRIPPENDORFF_EXAMPLE]
    with pytest.raises(stats.StatsInputError, match="value_domain"):
        stats.krippendorff_alpha(labelled, level="ordinal", n_boot=0)
    res = stats.krippendorff_alpha(labelled, level="ordinal", value_domain=list(names.values()), n_boot=0)
    assert round(_value(res), 3) == 0.815


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_krippendorff_package_on_random_data(level: str) -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        coders, units = int(rng.integers(2, 7)), int(rng.integers(5, 120))
        truth = rng.integers(1, 6, units)
        data = np.where(rng.random((coders, units)) < 0.7, truth, rng.integers(1, 6, (coders, units))).astype(float)
        data[rng.random((coders, units)) < 0.25] = np.nan
        ours = stats.krippendorff_alpha(data, level=level, n_boot=0)
        if ours.value is None:
            continue
        ref = krippendorff.alpha(data, level_of_measurement=level)  # type: ignore[arg-type]
        assert ours.value == pytest.approx(ref, abs=1e-9)


def _random_sets(rng: np.random.Generator, coders: int, units: int, vocab: int = 12) -> list[list[Any]]:
    rows: list[list[Any]] = [[] for _ in range(coders)]
    for _ in range(units):
        base = set(rng.choice(vocab, size=int(rng.integers(1, 4)), replace=False).tolist())
        for c in range(coders):
            if rng.random() < 0.15:
                rows[c].append(None)
                continue
            s = set(base)
            if rng.random() < 0.4:
                s.add(int(rng.integers(vocab)))
            if rng.random() < 0.3 and len(s) > 1:
                s.discard(next(iter(s)))
            rows[c].append([f"v{x}" for x in sorted(s)])
    return rows


@pytest.mark.parametrize(("level", "nltk_distance_fn"), [("masi", "masi_distance"), ("jaccard", "jaccard_distance")])
def test_set_valued_alpha_matches_nltk_annotation_task(level: str, nltk_distance_fn: str) -> None:
    rng = np.random.default_rng(5)
    for _ in range(5):
        coders, units = int(rng.integers(2, 5)), int(rng.integers(20, 80))
        rows = _random_sets(rng, coders, units)
        triples = [
            (f"c{c}", f"u{u}", frozenset(v)) for c, row in enumerate(rows) for u, v in enumerate(row) if v is not None
        ]
        task = nltk_agreement.AnnotationTask(data=triples, distance=getattr(nltk_distance, nltk_distance_fn))
        ours = stats.krippendorff_alpha(rows, level=level, n_boot=0)
        assert ours.value == pytest.approx(task.alpha(), abs=1e-9)


def test_set_valued_alpha_matches_krippendorff_custom_metric_hook() -> None:
    """The package's hook gets indices into the value domain; we give it a MASI lookup over distinct sets."""
    rng = np.random.default_rng(9)
    rows = _random_sets(rng, 3, 40, vocab=6)
    distinct = sorted({frozenset(v) for r in rows for v in r if v is not None}, key=lambda s: sorted(s))
    index = {s: i for i, s in enumerate(distinct)}
    dist = np.array([[nltk_distance.masi_distance(a, b) for b in distinct] for a in distinct])
    coded = np.array([[math.nan if v is None else index[frozenset(v)] for v in r] for r in rows], dtype=float)

    def masi_hook(v1, v2, i1, i2, n_v, dtype=np.float64):  # type: ignore[no-untyped-def]
        return dist[i1, i2].astype(dtype)

    ref = krippendorff.alpha(coded, value_domain=np.arange(len(distinct)), level_of_measurement=masi_hook)
    assert stats.krippendorff_alpha(rows, level="masi", n_boot=0).value == pytest.approx(ref, abs=1e-9)


def test_set_distances_match_nltk() -> None:
    pairs: list[tuple[set[Any], set[Any]]] = [
        ({"a"}, {"a"}),
        ({"a", "b"}, {"a"}),
        ({"a", "b"}, {"b", "c"}),
        ({"a"}, {"b"}),
        ({1, 2}, {1, 2, 3, 4}),
    ]
    for a, b in pairs:
        assert stats.masi_distance(a, b) == pytest.approx(nltk_distance.masi_distance(set(a), set(b)), abs=1e-12)
        assert stats.jaccard_distance(a, b) == pytest.approx(nltk_distance.jaccard_distance(set(a), set(b)), abs=1e-12)
    assert stats.masi_distance(set(), set()) == 0.0


def test_alpha_bootstrap_matches_a_naive_resampling_loop() -> None:
    """Same seed, same unit indices: percentile interval of krippendorff.alpha on each resample."""
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 60)
    data = np.where(rng.random((3, 60)) < 0.8, truth, rng.integers(0, 3, (3, 60))).astype(float)
    data[rng.random((3, 60)) < 0.1] = np.nan
    n_boot, seed = 200, 42
    ours = stats.krippendorff_alpha(data, level="nominal", n_boot=n_boot, seed=seed)
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    kept = data[:, pairable]
    idx = np.random.default_rng(seed).integers(0, kept.shape[1], size=(n_boot, kept.shape[1]))
    draws = np.array([krippendorff.alpha(kept[:, i], level_of_measurement="nominal") for i in idx])
    lo, hi = np.quantile(draws, [0.025, 0.975])
    assert ours.ci is not None
    assert ours.ci.low == pytest.approx(lo, abs=1e-9)
    assert ours.ci.high == pytest.approx(hi, abs=1e-9)
    assert ours.ci.n_valid == n_boot
    again = stats.krippendorff_alpha(data, level="nominal", n_boot=n_boot, seed=seed)
    assert again.ci == ours.ci


def test_alpha_ordinal_bootstrap_matches_naive_loop() -> None:
    rng = np.random.default_rng(4)
    truth = rng.integers(1, 5, 40)
    data = np.where(rng.random((3, 40)) < 0.7, truth, rng.integers(1, 5, (3, 40))).astype(float)
    ours = stats.krippendorff_alpha(data, level="ordinal", n_boot=100, seed=1)
    idx = np.random.default_rng(1).integers(0, 40, size=(100, 40))
    draws = np.array([krippendorff.alpha(data[:, i], level_of_measurement="ordinal") for i in idx])
    assert ours.ci is not None
    assert ours.ci.low == pytest.approx(np.quantile(draws, 0.025), abs=1e-9)
    assert ours.ci.high == pytest.approx(np.quantile(draws, 0.975), abs=1e-9)


def test_alpha_undefined_cases_say_why() -> None:
    no_pairs = stats.krippendorff_alpha([[1, None, 2], [None, 3, None]])
    assert no_pairs.value is None
    assert "nothing to pair" in (no_pairs.reason or "")
    one_unit = stats.krippendorff_alpha([[1, 2, None], [2, None, None]])
    assert one_unit.value is None
    assert "only one unit" in (one_unit.reason or "")
    constant = stats.krippendorff_alpha([[1, 1, 1], [1, 1, 1]])
    assert constant.value is None
    assert "no variation" in (constant.reason or "")
    same_sets = stats.krippendorff_alpha([[["a"], ["a"]], [["a"], ["a"]]], level="masi")
    assert same_sets.value is None


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: stats.krippendorff_alpha([]), stats.EmptyInputError, "empty"),
        (lambda: stats.krippendorff_alpha([[1, 2, 3], [1, 2]]), stats.LengthMismatchError, "row 1 has 2 units"),
        (
            lambda: stats.krippendorff_alpha([[1, 2, 7], [1, 2, 3]], value_domain=[1, 2, 3]),
            stats.OutOfScaleError,
            "coder 0, unit 2 has 7",
        ),
        (
            lambda: stats.krippendorff_alpha([["a", "b"], ["a", "b"]], level="interval"),
            stats.StatsInputError,
            "numeric",
        ),
        (lambda: stats.krippendorff_alpha([[1, 2]], level="cardinal"), stats.StatsInputError, "unknown level"),
        (lambda: stats.krippendorff_alpha([["ab", "c"], ["ab", "c"]], level="masi"), stats.StatsInputError, "wrap it"),
        (
            lambda: stats.krippendorff_alpha([[["a"], ["x"]], [["a"], ["b"]]], level="masi", value_domain=["a", "b"]),
            stats.OutOfScaleError,
            "coder 0, unit 1",
        ),
    ],
)
def test_alpha_bad_input(call, error, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=fragment):
        call()


# ------------------------------------------------------------------------------------------- kappas, AC1


def test_gwet_ac1_published_example() -> None:
    """Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed.: AC1 = 0.77544 on the 4-rater data, which is
    Krippendorff's example (the irrCAC packages assert the same figure)."""
    res = stats.gwet_ac1(KRIPPENDORFF_EXAMPLE, n_boot=0)
    assert round(_value(res), 5) == 0.77544
    assert res.observed_agreement == pytest.approx(0.8181818181818182)


def _ac1_loop(units: list[list[Any]], q: int) -> float:
    """A direct transcription of Gwet (2008) eqs. (14)-(15), one unit at a time."""
    cats = sorted({v for u in units for v in u})
    rated = [u for u in units if u]
    pa_terms = []
    for u in rated:
        r = len(u)
        if r >= 2:
            pa_terms.append(sum(u.count(k) * (u.count(k) - 1) for k in cats) / (r * (r - 1)))
    pa = sum(pa_terms) / len(pa_terms)
    pi = {k: sum(u.count(k) / len(u) for u in rated) / len(rated) for k in cats}
    pe = sum(p * (1 - p) for p in pi.values()) / (q - 1)
    return (pa - pe) / (1 - pe)


def test_gwet_ac1_matches_direct_formula_on_random_data() -> None:
    rng = np.random.default_rng(12)
    for _ in range(20):
        coders, units = int(rng.integers(2, 6)), int(rng.integers(5, 60))
        data = rng.integers(0, 4, (coders, units)).astype(object)
        data[rng.random((coders, units)) < 0.2] = None
        rows = data.tolist()
        per_unit = [[rows[c][u] for c in range(coders) if rows[c][u] is not None] for u in range(units)]
        if not any(len(u) >= 2 for u in per_unit):
            continue
        q = len({v for u in per_unit for v in u})
        if q < 2:
            continue
        assert stats.gwet_ac1(rows, n_boot=0).value == pytest.approx(_ac1_loop(per_unit, q), abs=1e-12)


def test_gwet_ac1_stays_high_where_kappa_collapses() -> None:
    """Skewed prevalence, 98% raw agreement: kappa near zero, AC1 near one (Gwet 2008, section 2)."""
    a = ["yes"] * 98 + ["yes", "no"]
    b = ["yes"] * 98 + ["no", "yes"]
    kappa = stats.cohen_kappa(a, b, n_boot=0)
    ac1 = stats.gwet_ac1([a, b], n_boot=0)
    assert kappa.observed_agreement == pytest.approx(0.98)
    assert kappa.value is not None
    assert kappa.value < 0.01
    assert ac1.value is not None
    assert ac1.value > 0.97


def test_cohen_kappa_matches_statsmodels_and_sklearn() -> None:
    rng = np.random.default_rng(13)
    for _ in range(30):
        n = int(rng.integers(10, 300))
        a = rng.integers(0, 4, n)
        b = np.where(rng.random(n) < 0.6, a, rng.integers(0, 4, n))
        ours = stats.cohen_kappa(a.tolist(), b.tolist(), categories=[0, 1, 2, 3], n_boot=0)
        table = np.zeros((4, 4))
        np.add.at(table, (a, b), 1)
        assert ours.value == pytest.approx(sm_cohens_kappa(table).kappa, abs=1e-9)
        assert ours.value == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)


def test_cohen_kappa_bootstrap_matches_naive_loop() -> None:
    rng = np.random.default_rng(14)
    a = rng.integers(0, 3, 80)
    b = np.where(rng.random(80) < 0.7, a, rng.integers(0, 3, 80))
    ours = stats.cohen_kappa(a.tolist(), b.tolist(), n_boot=200, seed=8)
    idx = np.random.default_rng(8).integers(0, 80, size=(200, 80))
    draws = np.array([cohen_kappa_score(a[i], b[i]) for i in idx])
    assert ours.ci is not None
    assert ours.ci.low == pytest.approx(np.quantile(draws, 0.025), abs=1e-9)
    assert ours.ci.high == pytest.approx(np.quantile(draws, 0.975), abs=1e-9)


# Fleiss (1971) as tabulated on Wikipedia ("Fleiss' kappa", worked example): 10 subjects, 14 raters,
# 5 categories, kappa = 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def _table_to_rows(table: list[list[int]]) -> list[list[int]]:
    per_unit = [[k for k, count in enumerate(row) for _ in range(count)] for row in table]
    raters = len(per_unit[0])
    return [[unit[r] for unit in per_unit] for r in range(raters)]


def test_fleiss_kappa_published_example_and_statsmodels() -> None:
    res = stats.fleiss_kappa(_table_to_rows(FLEISS_TABLE), n_boot=0)
    assert round(_value(res), 3) == 0.210
    assert res.value == pytest.approx(sm_fleiss_kappa(np.array(FLEISS_TABLE)), abs=1e-12)
    rng = np.random.default_rng(15)
    for _ in range(20):
        raters, units = int(rng.integers(2, 8)), int(rng.integers(5, 80))
        truth = rng.integers(0, 4, units)
        data = np.where(rng.random((raters, units)) < 0.6, truth, rng.integers(0, 4, (raters, units)))
        table = np.stack([(data == k).sum(axis=0) for k in range(4)], axis=1)
        ours = stats.fleiss_kappa(data.tolist(), categories=[0, 1, 2, 3], n_boot=0)
        assert ours.value == pytest.approx(sm_fleiss_kappa(table), abs=1e-9)


def test_fleiss_kappa_unbalanced_design_is_undefined_with_reason() -> None:
    res = stats.fleiss_kappa(KRIPPENDORFF_EXAMPLE, n_boot=0)
    assert res.value is None
    assert "different numbers of ratings" in (res.reason or "")


def test_kappa_bad_input() -> None:
    with pytest.raises(stats.LengthMismatchError, match="rater A has 3"):
        stats.cohen_kappa([1, 2, 3], [1, 2])
    with pytest.raises(stats.EmptyInputError):
        stats.cohen_kappa([None, 1], [2, None])
    with pytest.raises(stats.OutOfScaleError, match="coder 1, unit 0"):
        stats.cohen_kappa(["yes"], ["maybe"], categories=["yes", "no"])


def test_percent_agreement() -> None:
    res = stats.percent_agreement([["a", "a", "b"], ["a", "b", "b"], ["a", "b", None]], n_boot=0)
    # unit 1: all agree (1); unit 2: one pair of three agrees (1/3); unit 3: the two agree (1).
    assert res.value == pytest.approx((1 + 1 / 3 + 1) / 3)


# ------------------------------------------------------------------------------------------- McNemar, Holm


def test_mcnemar_newcombe_interval_published_example() -> None:
    """Fagerland, Lydersen & Laake (2017), Statistical Analysis of Contingency Tables, ch. 8 (Cavo et al.
    2012): table 59/6/16/80, Newcombe square-and-add: -0.0621 (95% CI -0.1186 to -0.0046)."""
    a = [True] * 59 + [True] * 6 + [False] * 16 + [False] * 80
    b = [True] * 59 + [False] * 6 + [True] * 16 + [False] * 80
    res = stats.mcnemar_exact(a, b)
    assert (res.both_correct, res.only_a_correct, res.only_b_correct, res.both_incorrect) == (59, 6, 16, 80)
    assert round(res.difference, 4) == -0.0621
    assert round(res.difference_low, 4) == -0.1186
    assert round(res.difference_high, 4) == -0.0046


def test_mcnemar_exact_p_matches_statsmodels() -> None:
    rng = np.random.default_rng(16)
    for _ in range(50):
        n = int(rng.integers(1, 200))
        a = rng.random(n) < rng.uniform(0.5, 1.0)
        b = np.where(rng.random(n) < 0.8, a, rng.random(n) < 0.7)
        ours = stats.mcnemar_exact(a.tolist(), b.tolist())
        table = [[ours.both_correct, ours.only_a_correct], [ours.only_b_correct, ours.both_incorrect]]
        if ours.only_a_correct + ours.only_b_correct == 0:
            assert ours.p_value == 1.0
            continue
        assert ours.p_value == pytest.approx(sm_mcnemar(table, exact=True).pvalue, abs=1e-9)
        assert ours.difference_low <= ours.difference <= ours.difference_high


def test_mcnemar_bad_input() -> None:
    with pytest.raises(stats.LengthMismatchError, match="prompt A has 2"):
        stats.mcnemar_exact([True, False], [True])
    with pytest.raises(stats.EmptyInputError):
        stats.mcnemar_exact([], [])
    with pytest.raises(stats.OutOfScaleError, match=r"correct_b\[1\]"):
        stats.mcnemar_exact([True, True], [True, "maybe"])


def test_holm_correction() -> None:
    res = stats.holm_correction({"ai_values": 0.01, "human_values": 0.04, "response_type": 0.03})
    # sorted 0.01, 0.03, 0.04 → 3·0.01 = 0.03, 2·0.03 = 0.06, max(0.06, 1·0.04) = 0.06
    assert res.adjusted == pytest.approx((0.03, 0.06, 0.06))
    assert res.reject == (True, False, False)
    with pytest.raises(stats.OutOfScaleError, match="ai_values"):
        stats.holm_correction({"ai_values": 1.5})
    with pytest.raises(stats.EmptyInputError):
        stats.holm_correction([])


def test_set_agreement() -> None:
    res = stats.set_agreement([["a", "b"], ["c"], ["d"]], [["a", "b"], ["c", "e"], ["f"]])
    assert res.exact_match == pytest.approx(1 / 3)
    assert res.mean_jaccard == pytest.approx((1 + 0.5 + 0) / 3)
    assert res.mean_masi == pytest.approx((1 + 0.5 * 2 / 3 + 0) / 3)
    with pytest.raises(stats.LengthMismatchError):
        stats.set_agreement([["a"]], [])
    assert math.isclose(stats.masi_distance(["a"], ["a", "b"]), 1 - 0.5 * 2 / 3)


def _exact_mcnemar_power(n: int, p_only_a: float, p_only_b: float, alpha: float) -> float:
    """Exact power of the exact McNemar test: D ~ Bin(n, ψ) discordant pairs, b | D ~ Bin(D, p₁₀/ψ)."""
    from scipy.stats import binom

    psi, q, power = p_only_a + p_only_b, p_only_a / (p_only_a + p_only_b), 0.0
    for d in range(1, n + 1):
        b = np.arange(d + 1)
        p = np.minimum(1.0, 2 * binom.cdf(np.minimum(b, d - b), d, 0.5))
        power += binom.pmf(d, n, psi) * (binom.pmf(b, d, q) * (p <= alpha)).sum()
    return float(power)


def test_paired_sample_size_reaches_about_the_target_power() -> None:
    """Connor's normal approximation; the exact test is conservative, so its exact power at that n sits a few
    points under 0.8 (0.76-0.78 for these discordance patterns), and well above it at 1.25 n."""
    for p10, p01 in [(0.1, 0.02), (0.15, 0.05), (0.2, 0.1)]:
        n = stats.paired_sample_size(p10, p01)
        assert n is not None
        assert 0.74 <= _exact_mcnemar_power(n, p10, p01, 0.05) <= 0.85
        assert _exact_mcnemar_power(int(n * 1.25), p10, p01, 0.05) > 0.8
    assert stats.paired_sample_size(0.05, 0.05) is None
    with pytest.raises(stats.OutOfScaleError):
        stats.paired_sample_size(0.7, 0.6)


def test_bootstrap_does_not_depend_on_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draws are computed a memory-bounded chunk at a time; the chunk size must not change the interval."""
    data = _to_nan(KRIPPENDORFF_EXAMPLE)
    whole = stats.krippendorff_alpha(data, level="interval", n_boot=300, seed=5)
    kappa_whole = stats.gwet_ac1(KRIPPENDORFF_EXAMPLE, n_boot=300, seed=5)
    monkeypatch.setattr(stats, "_BOOT_CELLS", 7 * 11)  # 7 draws of the 11 pairable units per chunk
    assert stats.krippendorff_alpha(data, level="interval", n_boot=300, seed=5).ci == whole.ci
    assert stats.gwet_ac1(KRIPPENDORFF_EXAMPLE, n_boot=300, seed=5).ci == kappa_whole.ci


def test_ordinal_alpha_refuses_a_huge_scale() -> None:
    data = [list(range(300)), list(range(300))]
    with pytest.raises(stats.StatsInputError, match="up to 200 scale points"):
        stats.krippendorff_alpha(data, level="ordinal", n_boot=0)
