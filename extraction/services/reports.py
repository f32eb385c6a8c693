"""The run pages' reports, computed after a run ends rather than by the first person who opens its page.

A finished run's report sums every row of the run (1.85 million at the paper's scale: seconds of queries), and
every new row anywhere is a new version of every run's report (``extraction.selectors.extraction_data_version``).
The warm-up computes the newest finished runs' reports into the cache under the keys their pages read.
"""

from __future__ import annotations

from extraction import selectors
from extraction.models import ExtractionRun

#: The runs warmed: the newest finished ones (the dashboard lists the ten newest).
WARM_RUNS = 10


def run_reports_warm(*, run_id: int | None = None) -> list[str]:
    """Compute, or find in the cache, the reports of the run page and the prompt run page of run ``run_id`` and
    of the ``WARM_RUNS`` newest finished runs, and the dashboard's cost of each; the names of what was warmed."""
    newest = list(ExtractionRun.objects.select_related("dataset").order_by("-pk")[:WARM_RUNS])
    runs = [run for run in newest if run.status not in selectors.WRITING]
    if run_id is not None and all(run.pk != run_id for run in newest):
        runs += ExtractionRun.objects.select_related("dataset").filter(pk=run_id).exclude(status__in=selectors.WRITING)
    for run in runs:
        selectors.run_report_cached(run=run)
        selectors.run_progress_cached(run=run)
        selectors.run_costs_cached(run=run)
    selectors.run_costs_usd(runs=newest)
    return [f"run {run.pk}" for run in runs]
