"""Reports over every row of a run or dataset are cached by the version of their data: a finished run's pages are
computed once, and any write the product makes (new rows, a run recounting, a taxonomy edit) shows on the next read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from extraction.models import Extraction, RunStatus
from extraction.selectors import extraction_data_version
from extraction.services import run_refresh_progress
from taxonomy.models import TaxonomyNode
from taxonomy.selectors import taxonomy_data_version
from taxonomy.services import taxonomy_node_rename
from tests.pages import Loop, build_loop
from tests.validation import factories as f


def _status(loop: Loop, status: str) -> None:
    type(loop.run).objects.filter(pk=loop.run.pk).update(status=status)
    loop.run.refresh_from_db()


def _finished(loop: Loop) -> None:
    _status(loop, RunStatus.SUCCEEDED)


def _kindness(loop: Loop, n: int, cost: str = "0.001") -> None:
    """n new conversations of the run whose AI value is "kindness", and the run's recount (as a run does)."""
    version = Extraction.objects.filter(run=loop.run, feature="ai_values")[0].prompt_version
    for i in range(n):
        conversation = f.ConversationFactory.create(dataset=loop.alpha, external_id=f"kind-{i}", model="model-a")
        f.ExtractionFactory.create(
            conversation=conversation, run=loop.run, prompt_version=version, labels=["kindness"], cost_usd=Decimal(cost)
        )
    run_refresh_progress(run=loop.run)


@pytest.mark.django_db
def test_a_run_that_may_be_writing_has_no_version_and_a_finished_one_keeps_its_own() -> None:
    loop = build_loop()
    _status(loop, RunStatus.RUNNING)
    assert extraction_data_version(run_id=loop.run.pk) is None
    assert extraction_data_version(dataset_id=loop.alpha.pk) is None
    _finished(loop)
    version = extraction_data_version(run_id=loop.run.pk)
    assert version is not None
    assert extraction_data_version(run_id=loop.run.pk) == version
    assert extraction_data_version(dataset_id=loop.alpha.pk) != version  # another scope, another key
    _kindness(loop, 1)
    assert extraction_data_version(run_id=loop.run.pk) not in (None, version)


@pytest.mark.django_db
def test_descriptive_page_is_computed_once_per_version_of_the_rows(admin_client: Client) -> None:
    loop = build_loop()
    _finished(loop)
    url = reverse("descriptive-page") + f"?run={loop.run.pk}"
    first = admin_client.get(url).content.decode()
    assert "empathy" in first
    assert "kindness" not in first
    # A write the product never makes (labels changed in place, no recount): the cached tables stand, which shows
    # the page was not computed again.
    Extraction.objects.filter(run=loop.run, labels=["empathy"]).update(labels=["patience"])
    cached = admin_client.get(url).content.decode()
    assert "empathy" in cached
    assert "patience" not in cached
    # New rows and the run's recount: a new version, computed afresh (and the rows changed in place show too).
    _kindness(loop, 6)
    fresh = admin_client.get(url).content.decode()
    assert "kindness" in fresh
    assert "patience" in fresh
    assert "empathy" not in fresh


@pytest.mark.django_db
def test_run_costs_on_the_dashboard_and_the_run_page_follow_new_rows(admin_client: Client) -> None:
    loop = build_loop()
    _finished(loop)
    run_url = reverse("extraction-run-page", args=[loop.run.pk])
    assert "$0.0440" in admin_client.get(reverse("home")).content.decode()  # 44 outputs at $0.001
    assert "0.044" in admin_client.get(run_url).content.decode()
    _kindness(loop, 1, cost="0.5")
    assert "$0.5440" in admin_client.get(reverse("home")).content.decode()
    assert "0.544" in admin_client.get(run_url).content.decode()


@pytest.mark.django_db
def test_a_taxonomy_edit_or_a_new_taxonomy_changes_the_taxonomy_version() -> None:
    loop = build_loop()
    before = taxonomy_data_version()
    node = TaxonomyNode.objects.create(taxonomy=loop.taxonomy, key="l1:care", level=1, name="care")
    taxonomy_node_rename(node=node, name="caring")
    after_edit = taxonomy_data_version()
    assert after_edit != before
    f.DatasetFactory.create(name="unrelated")  # not a taxonomy write
    assert taxonomy_data_version() == after_edit
