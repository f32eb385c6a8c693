"""Review samples store each item's inclusion probability, and the agreement report estimates with them."""

from __future__ import annotations

import pytest

from annotate import services
from annotate.models import ReviewItem
from tests.annotate.factories import run_with_extractions


def _probabilities(sample_id: int) -> list[float | None]:
    return list(ReviewItem.objects.filter(sample_id=sample_id).values_list("inclusion_probability", flat=True))


def test_each_design_stores_its_inclusion_probabilities(db: None) -> None:
    run = run_with_extractions(50)
    srs = services.review_sample_create(run_id=run.pk, strategy="random", size=10, seed=1)
    assert _probabilities(srs.pk) == [pytest.approx(10 / 50)] * 10
    bottom_k = services.review_sample_create(run_id=run.pk, strategy="find_errors", size=5, seed=1)
    assert _probabilities(bottom_k.pk) == [None] * 5
    poisson = services.review_sample_create(
        run_id=run.pk, strategy="uncertainty", size=10, seed=1, design={"floor": 0.2}
    )
    assert poisson.params["design"] == {"floor": 0.2}
    probs = _probabilities(poisson.pk)
    assert all(p is not None and 0 < p <= 1 for p in probs)
    assert len(set(probs)) > 1  # unequal: they rise with uncertainty
    strat = services.review_sample_create(
        run_id=run.pk,
        strategy="stratified",
        size=10,
        seed=1,
        stratify_by="response_type",
        design={"min_per_stratum": 2},
    )
    sizes = strat.params["stratum_sizes"]
    assert sum(sizes.values()) == 50
    for item in ReviewItem.objects.filter(sample=strat):
        assert item.inclusion_probability == pytest.approx(
            strat.params["allocation"][item.stratum] / sizes[item.stratum]
        )
    with pytest.raises(ValueError, match="do not apply to a random sample"):
        services.review_sample_create(run_id=run.pk, strategy="random", size=10, seed=1, design={"floor": 0.2})
