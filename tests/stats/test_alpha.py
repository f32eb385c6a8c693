"""stats/alpha.py against Krippendorff's worked example, the krippendorff package and NLTK."""

from __future__ import annotations

import math
from typing import Any

import krippendorff
import numpy as np
import pandas as pd
import pytest
from nltk.metrics import agreement as nltk_agreement
from nltk.metrics import distance as nltk_distance

from stats.alpha import krippendorff_alpha
from stats.errors import EmptyInputError, LengthMismatchError, OutOfScaleError, StatsInputError
from tests.stats.examples import KRIPPENDORFF_EXAMPLE, KRIPPENDORFF_PUBLISHED, to_nan, value_of


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_krippendorff_worked_example(level: str) -> None:
    res = krippendorff_alpha(KRIPPENDORFF_EXAMPLE, level=level, n_boot=0)
    assert round(value_of(res), 3) == KRIPPENDORFF_PUBLISHED[level]
    ref = krippendorff.alpha(to_nan(KRIPPENDORFF_EXAMPLE), level_of_measurement=level)  # type: ignore[arg-type]
    assert res.value == pytest.approx(ref, abs=1e-12)
    assert res.n_pairable_units == 11  # unit 12 has a single rating
    assert res.n_pairable_values == 40


def test_alpha_ordinal_labels_need_and_use_the_scale_order() -> None:
    names = {1: "very low", 2: "low", 3: "mid", 4: "high", 5: "very high"}
    labelled = [[None if v is None else names[v] for v in row] for row in KRIPPENDORFF_EXAMPLE]
    with pytest.raises(StatsInputError, match="value_domain"):
        krippendorff_alpha(labelled, level="ordinal", n_boot=0)
    res = krippendorff_alpha(labelled, level="ordinal", value_domain=list(names.values()), n_boot=0)
    assert round(value_of(res), 3) == 0.815


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_krippendorff_package_on_random_data(level: str) -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        coders, units = int(rng.integers(2, 7)), int(rng.integers(5, 120))
        truth = rng.integers(1, 6, units)
        data = np.where(rng.random((coders, units)) < 0.7, truth, rng.integers(1, 6, (coders, units))).astype(float)
        data[rng.random((coders, units)) < 0.25] = np.nan
        ours = krippendorff_alpha(data, level=level, n_boot=0)
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
        ours = krippendorff_alpha(rows, level=level, n_boot=0)
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
    assert krippendorff_alpha(rows, level="masi", n_boot=0).value == pytest.approx(ref, abs=1e-9)


def test_alpha_bootstrap_matches_a_naive_resampling_loop() -> None:
    """Same seed, same unit indices: percentile interval of krippendorff.alpha on each resample."""
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 60)
    data = np.where(rng.random((3, 60)) < 0.8, truth, rng.integers(0, 3, (3, 60))).astype(float)
    data[rng.random((3, 60)) < 0.1] = np.nan
    n_boot, seed = 200, 42
    ours = krippendorff_alpha(data, level="nominal", n_boot=n_boot, seed=seed, interval="percentile")
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    kept = data[:, pairable]
    idx = np.random.default_rng(seed).integers(0, kept.shape[1], size=(n_boot, kept.shape[1]))
    draws = np.array([krippendorff.alpha(kept[:, i], level_of_measurement="nominal") for i in idx])
    lo, hi = np.quantile(draws, [0.025, 0.975])
    assert ours.ci is not None
    assert ours.ci.low == pytest.approx(lo, abs=1e-9)
    assert ours.ci.high == pytest.approx(hi, abs=1e-9)
    assert ours.ci.n_valid == n_boot
    again = krippendorff_alpha(data, level="nominal", n_boot=n_boot, seed=seed, interval="percentile")
    assert again.ci == ours.ci


def test_alpha_ordinal_bootstrap_matches_naive_loop() -> None:
    rng = np.random.default_rng(4)
    truth = rng.integers(1, 5, 40)
    data = np.where(rng.random((3, 40)) < 0.7, truth, rng.integers(1, 5, (3, 40))).astype(float)
    ours = krippendorff_alpha(data, level="ordinal", n_boot=100, seed=1, interval="percentile")
    idx = np.random.default_rng(1).integers(0, 40, size=(100, 40))
    draws = np.array([krippendorff.alpha(data[:, i], level_of_measurement="ordinal") for i in idx])
    assert ours.ci is not None
    assert ours.ci.low == pytest.approx(np.quantile(draws, 0.025), abs=1e-9)
    assert ours.ci.high == pytest.approx(np.quantile(draws, 0.975), abs=1e-9)


def test_alpha_undefined_cases_say_why() -> None:
    no_pairs = krippendorff_alpha([[1, None, 2], [None, 3, None]])
    assert no_pairs.value is None
    assert "nothing to pair" in (no_pairs.reason or "")
    one_unit = krippendorff_alpha([[1, 2, None], [2, None, None]])
    assert one_unit.value is None
    assert "only one unit" in (one_unit.reason or "")
    constant = krippendorff_alpha([[1, 1, 1], [1, 1, 1]])
    assert constant.value is None
    assert "no variation" in (constant.reason or "")
    same_sets = krippendorff_alpha([[["a"], ["a"]], [["a"], ["a"]]], level="masi")
    assert same_sets.value is None


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: krippendorff_alpha([]), EmptyInputError, "empty"),
        (lambda: krippendorff_alpha([[1, 2, 3], [1, 2]]), LengthMismatchError, "row 1 has 2 units"),
        (
            lambda: krippendorff_alpha([[1, 2, 7], [1, 2, 3]], value_domain=[1, 2, 3]),
            OutOfScaleError,
            "coder 0, unit 2 has 7",
        ),
        (
            lambda: krippendorff_alpha([["a", "b"], ["a", "b"]], level="interval"),
            StatsInputError,
            "numeric",
        ),
        (lambda: krippendorff_alpha([[1, 2]], level="cardinal"), StatsInputError, "unknown level"),
        (lambda: krippendorff_alpha([["ab", "c"], ["ab", "c"]], level="masi"), StatsInputError, "wrap it"),
        (
            lambda: krippendorff_alpha([[["a"], ["x"]], [["a"], ["b"]]], level="masi", value_domain=["a", "b"]),
            OutOfScaleError,
            "coder 0, unit 1",
        ),
    ],
)
def test_alpha_bad_input(call, error, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=fragment):
        call()


def test_ordinal_alpha_refuses_a_huge_scale() -> None:
    data = [list(range(300)), list(range(300))]
    with pytest.raises(StatsInputError, match="up to 200 scale points"):
        krippendorff_alpha(data, level="ordinal", n_boot=0)


@pytest.mark.parametrize(
    "marker",
    [None, math.nan, np.nan, np.float32("nan"), np.float64("nan"), pd.NA, pd.NaT, np.datetime64("NaT")],
    ids=["None", "float-nan", "np.nan", "float32-nan", "float64-nan", "pd.NA", "pd.NaT", "np.NaT"],
)
def test_every_missing_marker_is_missing(marker: Any) -> None:
    """Audit finding: only None and Python-float NaN counted as missing; pd.NA or np.float32 NaN became a
    category and gave a silently wrong alpha."""
    data = [[marker if v is None else v for v in row] for row in KRIPPENDORFF_EXAMPLE]
    res = krippendorff_alpha(data, level="nominal", n_boot=0)
    assert round(value_of(res), 3) == KRIPPENDORFF_PUBLISHED["nominal"]
    assert res.n_pairable_values == 40
    as_object = np.array(data, dtype=object)  # as a DataFrame's .to_numpy() hands it over
    assert krippendorff_alpha(as_object, level="interval", n_boot=0).value == pytest.approx(
        krippendorff.alpha(to_nan(KRIPPENDORFF_EXAMPLE), level_of_measurement="interval"), abs=1e-12
    )


def test_design_weighted_alpha_is_the_alpha_of_units_repeated_by_their_weight_at_the_samples_scale() -> None:
    """Weights are scaled to mean 1, so only alpha's small-sample factor n - 1 differs from the data with each
    unit repeated w times (n counts pairable values): (1 - α_w) / (1 - α_repeated) = (n - mean w) / (n - 1)."""
    rng = np.random.default_rng(11)
    data = rng.integers(0, 3, (2, 50)).astype(float)
    data[1, :30] = data[0, :30]
    w = rng.integers(1, 6, 50)
    repeated = np.repeat(data, w, axis=1)
    reference = krippendorff.alpha(repeated, level_of_measurement="nominal")
    n = 2 * int(w.sum())
    weighted = value_of(krippendorff_alpha(data.tolist(), n_boot=0, unit_weights=w.tolist()))
    assert (1 - weighted) / (1 - reference) == pytest.approx((n - w.mean()) / (n - 1), abs=1e-12)
    assert krippendorff_alpha(data.tolist(), n_boot=0, unit_weights=[3.0] * 50).value == pytest.approx(
        krippendorff_alpha(data.tolist(), n_boot=0).value, abs=1e-12
    )
