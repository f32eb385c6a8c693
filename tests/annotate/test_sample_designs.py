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


@pytest.mark.django_db(transaction=True)
def test_samples_made_before_the_designs_keep_their_rows_and_bottom_k_becomes_find_errors() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from annotate.models import ReviewSample

    executor = MigrationExecutor(connection)
    latest = list(executor.loader.graph.leaf_nodes())
    try:
        executor.migrate([("annotate", "0002_review_loop")])
        executor.loader.build_graph()
        apps = executor.loader.project_state([("annotate", "0002_review_loop")]).apps
        dataset = apps.get_model("corpus", "Dataset").objects.create(name="before-designs")
        conversation = apps.get_model("corpus", "Conversation").objects.create(
            dataset=dataset, external_id="c1", source="jsonl", messages=[], content_hash="h", turn_count=0
        )
        run = apps.get_model("extraction", "ExtractionRun").objects.create(dataset=dataset, prompt_set="default")
        old = apps.get_model("annotate", "ReviewSample")
        bottom_k = old.objects.create(run_id=run.pk, strategy="uncertainty", seed=1, params={"size": 1})
        srs = old.objects.create(run_id=run.pk, strategy="random", seed=2, params={"size": 1})
        apps.get_model("annotate", "ReviewItem").objects.create(
            sample_id=srs.pk, conversation_id=conversation.pk, position=0, stratum=""
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    assert ReviewSample.objects.get(pk=bottom_k.pk).strategy == "find_errors"
    assert ReviewSample.objects.get(pk=srs.pk).strategy == "random"
    item = ReviewItem.objects.get(sample_id=srs.pk)
    assert item.conversation_id == conversation.pk
    assert item.inclusion_probability is None
