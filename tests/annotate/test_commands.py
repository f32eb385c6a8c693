"""The review-loop commands: a sample drawn from the CLI, and clear errors when Label Studio is down."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from annotate.models import Annotator, LabelStudioTask, ReviewSample
from tests.annotate.factories import run_with_extractions


def test_review_sample_draws_records_and_assigns(db: None) -> None:
    run = run_with_extractions(12)
    out = StringIO()
    call_command(
        "review_sample",
        run=run.pk,
        strategy="stratified",
        stratify_by="response_type",
        size=8,
        seed=4,
        annotators="a@example.org,b@example.org,c@example.org",
        per_item=2,
        stdout=out,
    )
    sample = ReviewSample.objects.get()
    assert "8 conversations (stratified, seed 4), 16 assignments over 3 annotators" in out.getvalue()
    assert sample.params["stratify_by"] == "response_type"
    assert sum(sample.params["allocation"].values()) == 8
    assert Annotator.objects.count() == 3
    assert LabelStudioTask.objects.count() == 16
    with pytest.raises(CommandError, match="exceeds the population of 12"):
        call_command("review_sample", run=run.pk, size=13, annotators="a@example.org")


def test_push_and_pull_name_the_unreachable_url_and_say_nothing_is_lost(db: None, settings: Any) -> None:
    settings.LABEL_STUDIO_URL = "http://127.0.0.1:9"
    settings.LABEL_STUDIO_API_KEY = "k" * 40
    settings.LABEL_STUDIO_RETRIES = 0
    run = run_with_extractions(3)
    call_command("review_sample", run=run.pk, size=3, seed=1, annotators="a@example.org", stdout=StringIO())
    sample = ReviewSample.objects.get()
    with pytest.raises(CommandError, match=r"(?s)not reachable at http://127\.0\.0\.1:9.*rerun the command"):
        call_command("push_reviews", sample.pk, no_progress=True)
    assert not LabelStudioTask.objects.exclude(label_studio_task_id=None).exists()
    sample.projects.update(label_studio_project_id=1)
    with pytest.raises(CommandError, match=r"(?s)not reachable at http://127\.0\.0\.1:9.*Nothing is lost"):
        call_command("pull_annotations", no_progress=True)


def test_periodic_reconciliation_is_quiet_when_nothing_was_pushed(db: None, settings: Any) -> None:
    from annotate.tasks import annotations_reconcile_all

    settings.LABEL_STUDIO_API_KEY = ""
    assert annotations_reconcile_all.delay().get()["projects"] == 0
    assert settings.CELERY_BEAT_SCHEDULE["annotate-reconcile"]["task"] == annotations_reconcile_all.name


def test_target_width_sample_is_sized_by_the_planner_and_recorded(db: None) -> None:
    from stats.proportions import proportion_ci, required_sample_size

    run = run_with_extractions(60)
    out = StringIO()
    # ±10% at an expected 90%: the planner's n, and one fewer item would not reach it.
    n = required_sample_size(0.90, 0.10)
    assert proportion_ci(0.90 * n, n).half_width <= 0.10 < proportion_ci(0.90 * (n - 1), n - 1).half_width
    call_command(
        "review_sample",
        run=run.pk,
        strategy="target_width",
        target_half_width=0.10,
        expected=0.90,
        seed=1,
        annotators="a@example.org",
        stdout=out,
    )
    sample = ReviewSample.objects.get()
    assert sample.items.count() == n
    assert sample.params["size"] == n
    assert sample.params["planner"] == {
        "target_half_width": 0.10,
        "expected_agreement": 0.90,
        "confidence": 0.95,
        "method": "wilson",
    }
    # Too tight a target for this run is a clear error, and nothing is stored.
    with pytest.raises(CommandError, match="exceeds the population of 60"):
        call_command("review_sample", run=run.pk, strategy="target_width", target_half_width=0.02, annotators="a@x.org")
    assert ReviewSample.objects.count() == 1
    with pytest.raises(CommandError, match="not --size"):
        call_command("review_sample", run=run.pk, strategy="target_width", size=5, annotators="a@x.org")
