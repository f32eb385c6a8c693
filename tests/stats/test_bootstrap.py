"""stats/bootstrap.py: the memory-bounded chunking of draws does not change an interval."""

from __future__ import annotations

import pytest

from stats import bootstrap
from stats.alpha import krippendorff_alpha
from stats.kappa import gwet_ac1
from tests.stats.examples import KRIPPENDORFF_EXAMPLE, to_nan


def test_bootstrap_does_not_depend_on_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draws are computed a memory-bounded chunk at a time; the chunk size must not change the interval."""
    data = to_nan(KRIPPENDORFF_EXAMPLE)
    whole = krippendorff_alpha(data, level="interval", n_boot=300, seed=5)
    kappa_whole = gwet_ac1(KRIPPENDORFF_EXAMPLE, n_boot=300, seed=5)
    monkeypatch.setattr(bootstrap, "_BOOT_CELLS", 7 * 11)  # 7 draws of the 11 pairable units per chunk
    assert krippendorff_alpha(data, level="interval", n_boot=300, seed=5).ci == whole.ci
    assert gwet_ac1(KRIPPENDORFF_EXAMPLE, n_boot=300, seed=5).ci == kappa_whole.ci
