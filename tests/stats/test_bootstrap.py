"""stats/bootstrap.py: the memory-bounded chunking of draws does not change an interval."""

from __future__ import annotations

import numpy as np
import pytest

from stats import bootstrap
from stats.alpha import krippendorff_alpha
from stats.kappa import cohen_kappa, gwet_ac1
from tests.stats.examples import KRIPPENDORFF_EXAMPLE, to_nan


def test_bootstrap_does_not_depend_on_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draws are computed a memory-bounded chunk at a time; the chunk size must not change the interval."""
    data = to_nan(KRIPPENDORFF_EXAMPLE)
    whole = krippendorff_alpha(data, level="interval", n_boot=300, seed=5)
    kappa_whole = gwet_ac1(KRIPPENDORFF_EXAMPLE, n_boot=300, seed=5)
    monkeypatch.setattr(bootstrap, "_BOOT_CELLS", 7 * 11)  # 7 draws of the 11 pairable units per chunk
    assert krippendorff_alpha(data, level="interval", n_boot=300, seed=5).ci == whole.ci
    assert gwet_ac1(KRIPPENDORFF_EXAMPLE, n_boot=300, seed=5).ci == kappa_whole.ci


def test_few_units_or_a_rare_category_mark_the_interval_approximate() -> None:
    """Below 50 units or with a category under 10% of the ratings the interval can undercover
    (bench/bench_reliability.py), so it says so."""
    rng = np.random.default_rng(2)
    truth = (rng.random(200) < 0.4).astype(int)
    a = np.where(rng.random(200) < 0.9, truth, 1 - truth)
    b = np.where(rng.random(200) < 0.9, truth, 1 - truth)
    fine = cohen_kappa(a.tolist(), b.tolist(), n_boot=200)
    assert fine.ci is not None
    assert not fine.ci.approximate
    assert fine.ci.note is None
    few = cohen_kappa(a[:30].tolist(), b[:30].tolist(), n_boot=200)
    assert few.ci is not None
    assert few.ci.approximate
    assert "30 units, fewer than 50" in str(few.ci.note)
    rare_truth = (np.arange(200) < 8).astype(int)  # 4% prevalence
    rare = gwet_ac1([rare_truth.tolist(), np.where(np.arange(200) < 10, 1, 0).tolist()], n_boot=200)
    assert rare.ci is not None
    assert rare.ci.approximate
    assert "rarest category holds 4.5%" in str(rare.ci.note)
    alpha = krippendorff_alpha([rare_truth.tolist(), rare_truth[::-1].tolist()], n_boot=200)
    assert alpha.ci is not None
    assert alpha.ci.approximate
