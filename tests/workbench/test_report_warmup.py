"""The big reports are computed when the data changes, not by the first person who opens a page: a run ending or a
taxonomy edit queues the warm-up (corpus.cache.reports_warm), and the pages then read every report from the cache."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from annotate.services.adjudication import adjudication_record
from corpus.cache import WARM_DELAY_S, reports_warm, reports_warm_soon
from extraction import selectors as extraction_selectors
from extraction.models import Extraction, ExtractionRun, RunStatus
from extraction.services import run_transition
from results import selectors as results_selectors
from taxonomy.models import TaxonomyNode
from taxonomy.services import taxonomy_import_tree, taxonomy_node_rename
from tests.pages import Loop, build_loop
from tests.taxonomy.test_taxonomy_services import TREE
from validation.corrections import corrections_data_version

pytestmark = pytest.mark.django_db


def _ended(loop: Loop, capture: Callable[..., Any]) -> list[Callable[[], Any]]:
    """The run goes from running to succeeded, as its last recount makes it; the callbacks it queued, run."""
    ExtractionRun.objects.filter(pk=loop.run.pk).update(status=RunStatus.RUNNING)
    with capture(execute=True) as callbacks:
        run_transition(run=loop.run, to=RunStatus.SUCCEEDED)
    return list(callbacks)


def _no_computing(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, computing any of the big reports fails the test: the pages must find them in the cache."""

    # Every module that imports these functions by name (the API's views) is loaded first, with the real ones: a
    # module first imported while they are replaced would keep the replacement after this test.
    get_resolver().url_patterns  # noqa: B018 - loads the URL configuration and every view module

    def boom(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError("a page computed a report the warm-up should have left in the cache")

    for name in ("run_report", "run_feature_counts", "run_progress", "run_costs"):
        monkeypatch.setattr(extraction_selectors, name, boom)
    monkeypatch.setattr(results_selectors, "descriptive_results", boom)
    monkeypatch.setattr(results_selectors, "descriptive_corrections", boom)


def _pages(loop: Loop) -> list[str]:
    descriptive = reverse("descriptive-page")
    return [
        reverse("extraction-run-page", args=[loop.run.pk]),
        reverse("prompt-run-page", args=[loop.run.pk]),
        descriptive,
        descriptive + f"?run={loop.run.pk}",
        descriptive + f"?dataset={loop.alpha.name}",
    ]


def test_a_run_ending_leaves_every_report_of_its_pages_in_the_cache(
    admin_client: Client, django_capture_on_commit_callbacks: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = build_loop()
    assert len(_ended(loop, django_capture_on_commit_callbacks)) == 1  # one warm-up, after the commit
    _no_computing(monkeypatch)
    for url in _pages(loop):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    assert "empathy" in admin_client.get(_pages(loop)[2]).content.decode()


def test_without_the_warm_up_the_first_request_computes(
    admin_client: Client, django_capture_on_commit_callbacks: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same as above with the warm-up off: the check above can fail."""
    from django.conf import settings

    monkeypatch.setattr(settings, "REPORTS_WARM", False)
    loop = build_loop()
    assert _ended(loop, django_capture_on_commit_callbacks) == []
    _no_computing(monkeypatch)
    with pytest.raises(AssertionError, match="a page computed a report"):
        admin_client.get(_pages(loop)[0])


def test_a_taxonomy_import_and_edit_warm_the_descriptive_tables_again(
    admin_client: Client,
    django_capture_on_commit_callbacks: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Table 3 groups values by the newest taxonomy: an edit is a new version of the tables, computed at once."""
    loop = build_loop()
    _ended(loop, django_capture_on_commit_callbacks)
    tree = tmp_path / "values_tree.csv"
    tree.write_text(TREE, encoding="utf-8")
    with django_capture_on_commit_callbacks(execute=True) as imported:
        taxonomy = taxonomy_import_tree(path=tree, name="small")
    with django_capture_on_commit_callbacks(execute=True) as renamed:
        taxonomy_node_rename(node=TaxonomyNode.objects.get(taxonomy=taxonomy, key="l1:art"), name="Creative work")
    assert (len(imported), len(renamed)) == (1, 1)
    _no_computing(monkeypatch)
    assert admin_client.get(reverse("descriptive-page")).status_code == 200


def test_a_failing_warmer_is_logged_and_the_others_still_run(
    settings: Any, caplog: pytest.LogCaptureFixture, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    loop = build_loop()
    ExtractionRun.objects.filter(pk=loop.run.pk).update(status=RunStatus.SUCCEEDED)
    settings.REPORT_WARMERS = ["tests.workbench.test_report_warmup.broken_warmer", *settings.REPORT_WARMERS]
    with caplog.at_level(logging.ERROR, logger="corpus.cache"):
        warmed = reports_warm(run_id=loop.run.pk)
    assert "warming the reports of tests.workbench.test_report_warmup.broken_warmer failed" in caplog.text
    assert f"run {loop.run.pk}" in warmed
    assert f"descriptive run {loop.run.pk}" in warmed
    assert "descriptive all datasets" in warmed


def broken_warmer(*, run_id: int | None = None) -> list[str]:
    raise RuntimeError("the database went away")


def test_a_decision_of_the_lead_is_a_new_version_of_the_corrections_and_warms_them(
    admin_client: Client, django_capture_on_commit_callbacks: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = build_loop()
    _ended(loop, django_capture_on_commit_callbacks)
    before = corrections_data_version(run_id=loop.run.pk)
    output = Extraction.objects.filter(run=loop.run, feature="ai_values").order_by("pk")[0]
    with django_capture_on_commit_callbacks(execute=True) as decided:
        adjudication_record(extraction_id=output.pk, verdict="incorrect", labels=["care"])
    assert len(decided) == 1
    assert corrections_data_version(run_id=loop.run.pk) not in (None, before)
    _no_computing(monkeypatch)
    assert admin_client.get(reverse("descriptive-page") + f"?run={loop.run.pk}").status_code == 200


def test_a_burst_of_writes_queues_one_delayed_warm_up_with_a_broker(
    settings: Any, django_capture_on_commit_callbacks: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from corpus import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        tasks.reports_warm_task, "apply_async", lambda args, countdown: queued.append((args, countdown))
    )
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            reports_warm_soon()
        reports_warm_soon(run_id=7)
    assert queued == [((None,), WARM_DELAY_S), ((7,), WARM_DELAY_S)]


def test_a_warm_up_that_cannot_be_queued_does_not_fail_the_write(
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from kombu.exceptions import OperationalError

    from corpus import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False

    def refused(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr(tasks.reports_warm_task, "apply_async", refused)
    with django_capture_on_commit_callbacks(execute=True):
        reports_warm_soon(run_id=3)  # the broker is down: logged, not raised
    assert "reports not warmed: the task queue is unreachable" in caplog.text
