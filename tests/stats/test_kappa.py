"""stats/kappa.py against published examples (Gwet, Fleiss), statsmodels, scikit-learn and direct formulas."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from stats.errors import EmptyInputError, LengthMismatchError, OutOfScaleError, StatsInputError
from stats.kappa import cohen_kappa, fleiss_kappa, gwet_ac1, percent_agreement
from tests.stats.examples import KRIPPENDORFF_EXAMPLE, value_of


def test_gwet_ac1_published_example() -> None:
    """Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed.: AC1 = 0.77544 on the 4-rater data, which is
    Krippendorff's example (the irrCAC packages assert the same figure)."""
    res = gwet_ac1(KRIPPENDORFF_EXAMPLE, n_boot=0)
    assert round(value_of(res), 5) == 0.77544
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
        assert gwet_ac1(rows, n_boot=0).value == pytest.approx(_ac1_loop(per_unit, q), abs=1e-12)


def test_gwet_ac1_stays_high_where_kappa_collapses() -> None:
    """Skewed prevalence, 98% raw agreement: kappa near zero, AC1 near one (Gwet 2008, section 2)."""
    a = ["yes"] * 98 + ["yes", "no"]
    b = ["yes"] * 98 + ["no", "yes"]
    kappa = cohen_kappa(a, b, n_boot=0)
    ac1 = gwet_ac1([a, b], n_boot=0)
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
        ours = cohen_kappa(a.tolist(), b.tolist(), categories=[0, 1, 2, 3], n_boot=0)
        table = np.zeros((4, 4))
        np.add.at(table, (a, b), 1)
        assert ours.value == pytest.approx(sm_cohens_kappa(table).kappa, abs=1e-9)
        assert ours.value == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)


def test_cohen_kappa_bootstrap_matches_naive_loop() -> None:
    rng = np.random.default_rng(14)
    a = rng.integers(0, 3, 80)
    b = np.where(rng.random(80) < 0.7, a, rng.integers(0, 3, 80))
    ours = cohen_kappa(a.tolist(), b.tolist(), n_boot=200, seed=8, interval="percentile")
    idx = np.random.default_rng(8).integers(0, 80, size=(200, 80))
    draws = np.array([cohen_kappa_score(a[i], b[i]) for i in idx])
    assert ours.ci is not None
    assert ours.ci.low == pytest.approx(np.quantile(draws, 0.025), abs=1e-9)
    assert ours.ci.high == pytest.approx(np.quantile(draws, 0.975), abs=1e-9)


def test_cohen_kappa_bca_interval_matches_efrons_formula_on_a_naive_loop() -> None:
    """BCa (the default) from scikit-learn's kappa on the same resamples and on every leave-one-out sample."""
    from scipy.stats import norm

    rng = np.random.default_rng(21)
    a = (rng.random(90) < 0.15).astype(int)  # skewed prevalence, where the percentile interval undercovers
    b = np.where(rng.random(90) < 0.8, a, 1 - a)
    ours = cohen_kappa(a.tolist(), b.tolist(), n_boot=400, seed=3)
    idx = np.random.default_rng(3).integers(0, 90, size=(400, 90))
    draws = np.array([cohen_kappa_score(a[i], b[i]) for i in idx])
    theta = cohen_kappa_score(a, b)
    jack = np.array([cohen_kappa_score(np.delete(a, i), np.delete(b, i)) for i in range(90)])
    z0 = norm.ppf((np.sum(draws < theta) + 0.5 * np.sum(draws == theta)) / 400)
    d = jack.mean() - jack
    acc = (d**3).sum() / (6 * ((d**2).sum()) ** 1.5)
    levels = [norm.cdf(z0 + (z0 + q) / (1 - acc * (z0 + q))) for q in (norm.ppf(0.025), norm.ppf(0.975))]
    assert ours.ci is not None
    assert ours.ci.method.startswith("BCa")
    assert ours.ci.low == pytest.approx(np.quantile(draws, levels[0]), abs=1e-9)
    assert ours.ci.high == pytest.approx(np.quantile(draws, levels[1]), abs=1e-9)


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
    res = fleiss_kappa(_table_to_rows(FLEISS_TABLE), n_boot=0)
    assert round(value_of(res), 3) == 0.210
    assert res.value == pytest.approx(sm_fleiss_kappa(np.array(FLEISS_TABLE)), abs=1e-12)
    rng = np.random.default_rng(15)
    for _ in range(20):
        raters, units = int(rng.integers(2, 8)), int(rng.integers(5, 80))
        truth = rng.integers(0, 4, units)
        data = np.where(rng.random((raters, units)) < 0.6, truth, rng.integers(0, 4, (raters, units)))
        table = np.stack([(data == k).sum(axis=0) for k in range(4)], axis=1)
        ours = fleiss_kappa(data.tolist(), categories=[0, 1, 2, 3], n_boot=0)
        assert ours.value == pytest.approx(sm_fleiss_kappa(table), abs=1e-9)


def test_fleiss_kappa_unbalanced_design_is_undefined_with_reason() -> None:
    res = fleiss_kappa(KRIPPENDORFF_EXAMPLE, n_boot=0)
    assert res.value is None
    assert "different numbers of ratings" in (res.reason or "")


def test_kappa_bad_input() -> None:
    with pytest.raises(LengthMismatchError, match="rater A has 3"):
        cohen_kappa([1, 2, 3], [1, 2])
    with pytest.raises(EmptyInputError):
        cohen_kappa([None, 1], [2, None])
    with pytest.raises(OutOfScaleError, match="coder 1, unit 0"):
        cohen_kappa(["yes"], ["maybe"], categories=["yes", "no"])


def test_percent_agreement() -> None:
    res = percent_agreement([["a", "a", "b"], ["a", "b", "b"], ["a", "b", None]], n_boot=0)
    # unit 1: all agree (1); unit 2: one pair of three agrees (1/3); unit 3: the two agree (1).
    assert res.value == pytest.approx((1 + 1 / 3 + 1) / 3)


@pytest.mark.parametrize("marker", [np.float32("nan"), pd.NA, pd.NaT], ids=["float32-nan", "pd.NA", "pd.NaT"])
def test_kappa_and_ac1_treat_every_missing_marker_as_missing(marker: Any) -> None:
    """Audit finding: pd.NA and np.float32 NaN were counted as a rating category by the kappas."""
    a = ["yes", "no", "yes", None, "yes", "no", "no", "yes", "yes", "no"]
    b = ["yes", "no", "no", "yes", None, "no", "yes", "yes", "yes", "no"]
    with_marker = [[marker if v is None else v for v in r] for r in (a, b)]
    ref = cohen_kappa(a, b, n_boot=0)
    got = cohen_kappa(with_marker[0], with_marker[1], n_boot=0)
    assert got.value == pytest.approx(value_of(ref), abs=1e-12)
    assert got.n_units == 8
    assert got.n_categories == 2
    assert gwet_ac1(with_marker, n_boot=0).value == pytest.approx(value_of(gwet_ac1([a, b], n_boot=0)), abs=1e-12)


def test_design_weighted_cohen_kappa_matches_scikit_learns_sample_weight() -> None:
    """Weights 1/π (an unequal-probability sample) enter every proportion of the confusion table."""
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 3, 120), rng.integers(0, 3, 120)
    b[:70] = a[:70]
    w = 1.0 / rng.uniform(0.05, 0.9, 120)
    ours = cohen_kappa(a.tolist(), b.tolist(), n_boot=0, unit_weights=w.tolist())
    assert ours.value == pytest.approx(cohen_kappa_score(a, b, sample_weight=w), abs=1e-12)
    assert ours.value != pytest.approx(cohen_kappa(a.tolist(), b.tolist(), n_boot=0).value, abs=1e-3)


def test_design_weighted_ac1_and_fleiss_equal_the_statistic_on_units_repeated_by_their_weight() -> None:
    rng = np.random.default_rng(8)
    data = rng.integers(0, 2, (3, 60))
    data[1, :40] = data[0, :40]
    w = rng.integers(1, 5, 60)
    repeated = np.repeat(data, w, axis=1).tolist()
    for stat in (gwet_ac1, fleiss_kappa, percent_agreement):
        weighted = stat(data.tolist(), n_boot=0, unit_weights=w.tolist())
        assert weighted.value == pytest.approx(stat(repeated, n_boot=0).value, abs=1e-12)


def test_design_weighted_interval_resamples_units_with_their_weights() -> None:
    rng = np.random.default_rng(9)
    a = (rng.random(150) < 0.3).astype(int)
    b = np.where(rng.random(150) < 0.85, a, 1 - a)
    w = np.where(a == 1, 1.0, 6.0)  # the 1s oversampled
    res = cohen_kappa(a.tolist(), b.tolist(), n_boot=300, seed=3, unit_weights=w.tolist())
    assert res.ci is not None
    assert res.value is not None
    assert res.ci.low < res.value < res.ci.high
    plain = cohen_kappa(a.tolist(), b.tolist(), n_boot=300, seed=3)
    assert plain.ci is not None
    assert (res.ci.low, res.ci.high) != pytest.approx((plain.ci.low, plain.ci.high), abs=1e-3)


@pytest.mark.parametrize("bad", [[1.0, 0.0, 2.0], [1.0, float("nan"), 2.0], [1.0, 2.0]])
def test_unit_weights_must_be_positive_finite_and_one_per_unit(bad: list[float]) -> None:
    with pytest.raises(StatsInputError, match="unit weight"):
        cohen_kappa([0, 1, 1], [0, 1, 0], n_boot=0, unit_weights=bad)
