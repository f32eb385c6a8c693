"""The run pages' reports: computed once per version of the run's rows and kept in the cache, and computed again
after a run ends rather than by the first person who opens its page.

A finished run's report sums every row of the run (1.85 million at the paper's scale: seconds of queries), and every
new row anywhere is a new version of every run's report (``extraction.selectors.extraction_data_version``). The
pages (the run page, the prompt run page and its progress) read the reports through the ``*_cached`` functions here;
the warm-up (:func:`run_reports_warm`, called by ``corpus.cache.reports_warm``) computes the newest finished runs'
reports under the same keys.
"""

from __future__ import annotations

from typing import Any

from corpus.cache import cached_report
from extraction import selectors
from extraction.models import ExtractionRun

#: Failures listed on a run's page.
RUN_PAGE_FAILURES = 200
#: The runs warmed: the newest finished ones (the dashboard lists the ten newest).
WARM_RUNS = 10


def run_report_cached(*, run: ExtractionRun) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run page's report (with its first ``RUN_PAGE_FAILURES`` failures) and its counts per feature."""
    return cached_report(
        name=f"extraction-run-{run.pk}",
        version=selectors.extraction_data_version(run_id=run.pk),
        compute=lambda: _run_page_report(run),
    )


def _run_page_report(run: ExtractionRun) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    counts = selectors.run_item_counts(run=run)  # one scan for the progress and the counts per feature
    return (
        selectors.run_report(run=run, failure_limit=RUN_PAGE_FAILURES, counts=counts),
        selectors.run_feature_counts(run=run, counts=counts),
    )


def run_progress_cached(*, run: ExtractionRun) -> selectors.RunProgress:
    """The run's progress, recounted live while the run may be writing, once per version of its rows after."""
    return cached_report(
        name=f"run-progress-{run.pk}",
        version=selectors.extraction_data_version(run_id=run.pk),
        compute=lambda: selectors.run_progress(run=run),
    )


def run_costs_cached(*, run: ExtractionRun) -> dict[str, Any]:
    return cached_report(
        name=f"run-costs-{run.pk}",
        version=selectors.extraction_data_version(run_id=run.pk),
        compute=lambda: selectors.run_costs(run=run),
    )


def run_reports_warm(*, run_id: int | None = None) -> list[str]:
    """Compute, or find in the cache, the reports of the run page and the prompt run page of run ``run_id`` and
    of the ``WARM_RUNS`` newest finished runs, and the dashboard's cost of each; the names of what was warmed."""
    newest = list(ExtractionRun.objects.select_related("dataset").order_by("-pk")[:WARM_RUNS])
    runs = [run for run in newest if run.status not in selectors.WRITING]
    if run_id is not None and all(run.pk != run_id for run in newest):
        runs += ExtractionRun.objects.select_related("dataset").filter(pk=run_id).exclude(status__in=selectors.WRITING)
    for run in runs:
        run_report_cached(run=run)
        run_progress_cached(run=run)
        run_costs_cached(run=run)
    selectors.run_costs_usd(runs=newest)
    return [f"run {run.pk}" for run in runs]
