"""Pages: the dashboard (every part of the loop at a glance), a dataset's conversations, one conversation.

Annotators see the dashboard's datasets and taxonomies only: they review in Label Studio, and the
conversation pages show other people's reviews, which a reviewer must not see before judging.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.functional import cached_property

from accounts.roles import ANALYSTS, ANY_ROLE, Role, analyst_required, user_has_role
from annotate.selectors import review_data_version, reviewer_progress
from charts import bar_chart
from corpus.cache import cached_report
from corpus.models import Conversation, Dataset
from corpus.selectors import conversation_list, corpus_data_version, dataset_list_counted, dataset_models
from corpus.transcript import SPEAKERS
from extraction import selectors as extraction_selectors
from extraction.models import ExtractionRun
from results.selectors import residual_analysis_list
from taxonomy.selectors import taxonomy_list
from validation.selectors import agreement_snapshot_latest, conversation_reviews
from workbench.filters import ConversationFilters, conversations_filtered

PAGE_SIZE = 50
NO_MODEL = "(none)"  # the model filter's value for conversations with no model recorded
RECENT = 10


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if not user_has_role(request.user, *ANY_ROLE):
        # Signed in, but no one has given this account a role yet: it sees nothing of the data.
        return render(request, "workbench/no_role.html")
    analyst = user_has_role(request.user, *ANALYSTS)
    context = {
        "analyst": analyst,
        "lead": user_has_role(request.user, Role.LEAD),
        "datasets": dataset_list_counted(),
        "taxonomies": taxonomy_list()[:RECENT],
        # An annotator sees their own queues only; leads and prompt engineers see every reviewer's.
        "progress": reviewer_progress() if analyst else reviewer_progress(user_id=request.user.pk),
    }
    if analyst:
        runs = list(extraction_selectors.run_list()[:RECENT])
        costs = extraction_selectors.run_costs_usd(runs=runs)
        for run in runs:
            run.cost_usd = costs[run.pk]  # type: ignore[attr-defined]
        context |= {
            "runs": [(run, extraction_selectors.run_percent(run)) for run in runs],
            "cost_chart": bar_chart(
                [(f"run {run.pk} · {run.prompt_set} · {run.dataset.name}", float(costs[run.pk])) for run in runs],
                slug="cost-per-run",
                title=f"Cost per run (USD, the {len(runs)} newest)",
                label_title="run",
                value_title="cost (USD)",
            ),
            "snapshots": agreement_snapshot_latest(limit=RECENT),
            "residuals": residual_analysis_list()[:RECENT],
        }
    return render(request, "workbench/home.html", context)


class CountedPaginator(Paginator):
    """A paginator whose total comes from ``count`` (e.g. a count cached by the version of the data)."""

    def __init__(self, object_list: Any, per_page: int, *, count: Callable[[], int]) -> None:
        super().__init__(object_list, per_page)
        self._count = count

    @cached_property
    def count(self) -> int:
        return self._count()


def _count_version(*, dataset: Dataset, run: ExtractionRun | None, filters: ConversationFilters) -> object | None:
    """The version of what the dataset page's count reads: conversations, and extractions or reviews when the
    filters read them (None while a run of the dataset may be writing: counted every time)."""
    version: list[object] = [corpus_data_version()]
    if run is not None or filters.labels or filters.subjective:
        extractions = extraction_selectors.extraction_data_version(dataset_id=dataset.pk)
        if extractions is None:
            return None
        version.append(extractions)
    if filters.reviewed:
        version.append(review_data_version())
    return tuple(version)


@analyst_required
def dataset_page(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = get_object_or_404(Dataset, pk=pk)
    model_param = request.GET.get("model", "")
    model = None if not model_param else "" if model_param == NO_MODEL else model_param
    run = None
    within = None
    if request.GET.get("run", "").isdigit():
        run = get_object_or_404(ExtractionRun, pk=int(request.GET["run"]), dataset=dataset)
        within = extraction_selectors.run_conversations_unsliced(run=run)
    filters = ConversationFilters.from_query(request.GET)
    conversations = conversations_filtered(
        conversations=conversation_list(dataset=dataset, model=model, within=within), filters=filters, run=run
    )
    paginator = CountedPaginator(
        conversations.values_list("pk", flat=True),
        PAGE_SIZE,
        count=lambda: cached_report(
            name=f"dataset-count-{dataset.pk}-{model_param}-{run.pk if run else ''}-{filters.query()}",
            version=_count_version(dataset=dataset, run=run, filters=filters),
            compute=conversations.count,
        ),
    )
    page = paginator.get_page(request.GET.get("page"))
    # Ids first, rows after: a deep page skips ids in an index, not whole conversations.
    page.object_list = list(Conversation.objects.filter(pk__in=list(page.object_list)).order_by("pk"))
    # Counted for the page's conversations only, so that paging a large dataset stays cheap.
    counts = extraction_selectors.extraction_counts(conversation_ids=[c.pk for c in page])
    context = {
        "dataset": dataset,
        "models": [(name or NO_MODEL, name, n) for name, n in dataset_models(dataset=dataset)],
        "model": model,
        "model_param": model_param,
        "run": run,
        "filters": filters,
        "yes_no": [("", "any"), ("yes", "yes"), ("no", "no")],
        "page": page,
        "rows": [(c, counts.get(c.pk, 0)) for c in page],
        "total": page.paginator.count,
    }
    return render(request, "workbench/dataset.html", context)


@analyst_required
def conversation_page(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects.select_related("dataset"), pk=pk)
    reviews = conversation_reviews(conversation_id=conversation.pk)
    extractions = [
        (e, reviews.get(e.pk, []))
        for e in extraction_selectors.conversation_extractions(conversation_id=conversation.pk)
    ]
    turns = [{"speaker": SPEAKERS.get(m["role"], m["role"]), **m} for m in conversation.messages]
    # The run the reader came from (?run=), for the breadcrumbs back to it and its agreement; only one of this dataset.
    run = None
    if request.GET.get("run", "").isdigit():
        run = ExtractionRun.objects.filter(pk=int(request.GET["run"]), dataset_id=conversation.dataset_id).first()
    context = {"conversation": conversation, "turns": turns, "extractions": extractions, "run": run}
    return render(request, "workbench/conversation.html", context)
