"""Reads of the extraction app: a run's conversations and items, its progress, costs and failures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, Q, QuerySet, Sum, Value

from corpus.cache import REPORT_CACHE_SECONDS, version_key
from corpus.models import Conversation
from extraction.costs import MICRO, SHARE_RULE, SHARED_FIELDS, shared_by_feature
from extraction.features import GATED_FEATURES, SUBJECTIVITY_YES, FeatureName
from extraction.models import FUSED, Extraction, ExtractionRun, ExtractionStatus, RunStatus

TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def run_conversations(*, run: ExtractionRun) -> QuerySet[Conversation]:
    """The run's conversations, in id order: the listed ones (``conversation_ids``, e.g. a gold set's), else the
    dataset's, the first ``limit`` of them if limited."""
    qs = Conversation.objects.filter(dataset_id=run.dataset_id).order_by("pk")
    ids = run.options.get("conversation_ids")
    if ids:
        return qs.filter(pk__in=ids)
    limit = run.options.get("limit")
    return qs[:limit] if limit else qs


def _units(run: ExtractionRun) -> list[tuple[int, str, tuple[str, ...]]]:
    """(prompt version id, model, features) for each prompt the run uses."""
    features = tuple(run.options.get("features", []))
    return [
        (version_id, run.model_map[key], features if key == FUSED else (key,))
        for key, version_id in run.options.get("prompt_versions", {}).items()
    ]


def _last_conversation_id(run: ExtractionRun) -> int | None:
    """The id of the run's last conversation when it is limited (conversations are taken in id order)."""
    limit = run.options.get("limit")
    if not limit:
        return None
    ids = Conversation.objects.filter(dataset_id=run.dataset_id).order_by("pk").values_list("pk", flat=True)
    return ids[limit - 1 : limit].first() or ids.last()


def run_items(*, run: ExtractionRun) -> QuerySet[Extraction]:
    """Every row that is an item of the run (whichever run wrote it), gated or not."""
    match = Q(pk__in=[])
    for version_id, model, features in _units(run):
        match |= Q(prompt_version_id=version_id, model=model, feature__in=features)
    # A join on the dataset (and an id bound for a limited run), not an IN over the run's conversation
    # ids: the planner handles it well at any size. A run on listed conversations (a gold set's: hundreds,
    # not millions) takes the IN.
    rows = Extraction.objects.filter(match, conversation__dataset_id=run.dataset_id)
    ids = run.options.get("conversation_ids")
    if ids:
        return rows.filter(conversation_id__in=ids)
    last = _last_conversation_id(run)
    return rows.filter(conversation_id__lte=last) if last is not None else rows


@dataclass(frozen=True)
class RunProgress:
    conversations: int
    subjective: int  # conversations the filter passed
    total: int
    done: int  # items with an answer (parsed or parse error)
    failed: int  # items whose request failed
    parse_errors: int

    @property
    def pending(self) -> int:
        return max(self.total - self.done - self.failed, 0)


def run_pending(*, run: ExtractionRun) -> dict[int, tuple[str, ...]]:
    """Conversation id -> features still to extract, for the conversations with anything pending.

    Two queries for the whole run (done items, and the filter's answers), not a few per conversation.
    A gated feature is pending only where the filter passed; where the filter's answer is not known
    yet it waits for it, except with a fused prompt, which answers the filter in the same call.
    """
    features = list(run.options.get("features", []))
    fused = FUSED in run.options.get("prompt_versions", {})
    gated = not run.options.get("all_conversations", False) and FeatureName.SUBJECTIVITY in features
    items = run_items(run=run)
    done: dict[int, set[str]] = {}
    for conversation_id, feature in items.filter(
        status__in=[ExtractionStatus.OK, ExtractionStatus.PARSE_ERROR]
    ).values_list("conversation_id", "feature"):
        done.setdefault(conversation_id, set()).add(feature)
    gate: dict[int, bool] = {}
    if gated:
        for conversation_id, status, labels in items.filter(feature=FeatureName.SUBJECTIVITY).values_list(
            "conversation_id", "status", "labels"
        ):
            if status != ExtractionStatus.FAILED:
                gate[conversation_id] = status == ExtractionStatus.OK and labels[:1] == [SUBJECTIVITY_YES]
    pending: dict[int, tuple[str, ...]] = {}
    for conversation_id in run_conversations(run=run).values_list("pk", flat=True):
        have = done.get(conversation_id, set())
        wanted = [f for f in features if f not in have]
        if gated and any(f in GATED_FEATURES for f in wanted):
            passes = gate.get(conversation_id)
            if passes is False or (passes is None and not fused):
                wanted = [f for f in wanted if f not in GATED_FEATURES]
        if wanted:
            pending[conversation_id] = tuple(wanted)
    return pending


@dataclass(frozen=True)
class ItemCount:
    feature: str
    status: str
    n: int
    passing: int  # of them, items of conversations the filter passed (counted only where the run is gated)


def _gated(run: ExtractionRun) -> bool:
    return not run.options.get("all_conversations", False) and FeatureName.SUBJECTIVITY in run.options.get(
        "features", []
    )


def _subjective_rows(items: QuerySet[Extraction]) -> QuerySet[Extraction]:
    return items.filter(feature=FeatureName.SUBJECTIVITY, status=ExtractionStatus.OK, labels__0=SUBJECTIVITY_YES)


def run_item_counts(*, run: ExtractionRun) -> list[ItemCount]:
    """The run's items per feature and status, and for a gated run how many of them are of conversations the filter
    passed: one grouped scan, which both the progress and the counts per feature read (two scans before, one of them
    with the filter's conversations as an ``OR``-ed subquery: seconds each at the paper's scale)."""
    items = run_items(run=run)
    passing = (
        Count("pk", filter=Q(conversation_id__in=_subjective_rows(items).values("conversation_id")))
        if _gated(run)
        else Value(0)
    )
    rows = items.values_list("feature", "status").annotate(n=Count("pk"), passing=passing).order_by("feature", "status")
    return [ItemCount(feature, status, n, passing) for feature, status, n, passing in rows]


def run_progress(*, run: ExtractionRun, counts: list[ItemCount] | None = None) -> RunProgress:
    """Items to do, done and failed, from the rows (see extraction.services.runs for the definitions); ``counts``:
    :func:`run_item_counts` when the caller has them already."""
    features = list(run.options.get("features", []))
    n_conv = run_conversations(run=run).count()
    n_pass = _subjective_rows(run_items(run=run)).count()
    counts = run_item_counts(run=run) if counts is None else counts
    by_status: dict[str, int] = {}
    if _gated(run):
        per_conv = [f for f in features if f not in GATED_FEATURES]
        per_pass = [f for f in features if f in GATED_FEATURES]
        total = n_conv * len(per_conv) + n_pass * len(per_pass)
        for c in counts:
            n = c.n if c.feature in per_conv else c.passing if c.feature in per_pass else 0
            by_status[c.status] = by_status.get(c.status, 0) + n
    else:
        total = n_conv * len(features)
        for c in counts:
            by_status[c.status] = by_status.get(c.status, 0) + c.n
    return RunProgress(
        conversations=n_conv,
        subjective=n_pass,
        total=total,
        done=by_status.get(ExtractionStatus.OK, 0) + by_status.get(ExtractionStatus.PARSE_ERROR, 0),
        failed=by_status.get(ExtractionStatus.FAILED, 0),
        parse_errors=by_status.get(ExtractionStatus.PARSE_ERROR, 0),
    )


COST_SUMS = (*TOKEN_FIELDS, "cost_usd", "latency_ms")


def _cost_sums(rows: QuerySet[Extraction]) -> list[dict[str, Any]]:
    """Per feature and kind of call (``fused``: a multi-feature prompt's), the sums, counts and distinct
    conversations of ``rows``: one grouped scan, where summing each feature apart read a run's rows a dozen times."""
    grouped = (
        rows.annotate(fused=Q(prompt_version__feature=FUSED))
        .values("feature", "fused")
        .annotate(
            **{f: Sum(f) for f in COST_SUMS},
            requests=Sum("attempts"),
            conversations=Count("conversation_id", distinct=True),
            extractions=Count("pk"),
            calls=Count("pk", filter=Q(attempts__gt=0)),
        )
        .order_by("feature", "fused")
    )
    return [dict(group) for group in grouped]


def _cost_figures(groups: list[dict[str, Any]], *, conversations: int) -> dict[str, Any]:
    """The figures of the rows summed in ``groups`` (``conversations``: how many distinct ones they hold)."""
    figures: dict[str, Any] = {
        f: sum((g[f] or 0 for g in groups), start=Decimal(0) if f == "cost_usd" else 0) for f in COST_SUMS
    }
    figures["requests"] = sum(g["requests"] or 0 for g in groups)
    figures["conversations"] = conversations
    figures["extractions"] = sum(g["extractions"] for g in groups)
    cost = Decimal(figures["cost_usd"] or 0).quantize(Decimal("0.000001"))
    figures["cost_usd"] = cost
    figures["cost_usd_per_1000_conversations"] = (
        (cost * 1000 / conversations).quantize(Decimal("0.0001")) if conversations else Decimal(0)
    )
    calls = sum(g["calls"] for g in groups)
    figures["mean_latency_ms"] = round(figures["latency_ms"] / calls) if calls else 0
    return figures


def _conversations_by_feature(rows: QuerySet[Extraction], groups: list[dict[str, Any]]) -> dict[str, int]:
    """Distinct conversations per feature: read from ``groups`` unless a feature has rows of both kinds of call
    (a conversation may be in both groups), then counted again for that feature."""
    by_feature: dict[str, list[dict[str, Any]]] = {}
    for g in groups:
        by_feature.setdefault(g["feature"], []).append(g)
    out = {feature: parts[0]["conversations"] for feature, parts in by_feature.items() if len(parts) == 1}
    mixed = [feature for feature, parts in by_feature.items() if len(parts) > 1]
    if mixed:
        out.update(
            rows.filter(feature__in=mixed)
            .values("feature")
            .annotate(n=Count("conversation_id", distinct=True))
            .values_list("feature", "n")
        )
    return out


def run_costs(*, run: ExtractionRun) -> dict[str, Any]:
    """Tokens, latency and USD the run spent (rows it wrote), in total, per feature, per 1,000 conversations.

    ``by_feature`` is per call, as booked: a fused request's usage is on one of its rows (counted once), so it
    puts the whole request under that feature. ``by_feature_shared`` shares each call out among the features it
    produced (``extraction.costs.SHARE_RULE``), with ``cost_usd_per_1000_conversations`` of each feature.
    """
    rows = Extraction.objects.filter(run=run)
    groups = _cost_sums(rows)
    conversations = rows.aggregate(n=Count("conversation_id", distinct=True))["n"] or 0
    figures = _cost_figures(groups, conversations=conversations)
    per_feature = _conversations_by_feature(rows, groups)
    figures["by_feature"] = {
        feature: _cost_figures([g for g in groups if g["feature"] == feature], conversations=n)
        for feature, n in sorted(per_feature.items())
    }
    figures["by_feature_shared"] = _costs_shared(rows=rows, groups=groups, conversations=per_feature)
    figures["share_rule"] = SHARE_RULE
    return figures


def _costs_shared(
    *, rows: QuerySet[Extraction], groups: list[dict[str, Any]], conversations: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """Per feature, the cost and tokens of the calls behind it, a multi-feature call shared out equally."""
    # Only a fused call has several rows to share out, in Python; a single-feature call's row is its feature's
    # alone, summed by the database (millions of rows at the paper's scale).
    shared: dict[str, dict[str, Decimal]] = {}
    if any(g["fused"] for g in groups):
        data = rows.filter(prompt_version__feature=FUSED).values_list(
            "conversation_id", "prompt_version_id", "model", "feature", *SHARED_FIELDS
        )
        shared = shared_by_feature(
            ((conv, version, model), feature, dict(zip(SHARED_FIELDS, figs, strict=True)))
            for conv, version, model, feature, *figs in data.iterator()
        )
    for g in groups:
        if g["fused"]:
            continue
        sums_of = shared.setdefault(g["feature"], {f: Decimal(0) for f in SHARED_FIELDS})
        for f in SHARED_FIELDS:
            sums_of[f] = (sums_of[f] + Decimal(g[f] or 0)).quantize(MICRO if f == "cost_usd" else Decimal("0.1"))
    out: dict[str, dict[str, Any]] = {}
    for feature in sorted(shared):
        entry: dict[str, Any] = dict(shared[feature])
        n = conversations.get(feature, 0)
        entry["conversations"] = n
        entry["cost_usd_per_1000_conversations"] = (
            (entry["cost_usd"] * 1000 / n).quantize(Decimal("0.0001")) if n else Decimal(0)
        )
        out[feature] = entry
    return out


def run_failures(*, run: ExtractionRun, limit: int | None = None) -> list[dict[str, Any]]:
    """The run's items that failed or could not be parsed, with why, and the raw text kept."""
    rows = (
        run_items(run=run)
        .filter(status__in=[ExtractionStatus.FAILED, ExtractionStatus.PARSE_ERROR])
        .select_related("conversation", "prompt_version")
        .order_by("conversation_id", "feature")
    )
    if limit:
        rows = rows[:limit]
    return [
        {
            "conversation": row.conversation.external_id,
            "conversation_id": row.conversation_id,
            "feature": row.feature,
            "status": row.status,
            "error": row.error,
            "raw_text": row.raw_text,
            "model": row.model,
            "prompt_version": row.prompt_version.content_hash[:12],
            "attempts": row.attempts,
        }
        for row in rows
    ]


def run_report(
    *, run: ExtractionRun, failure_limit: int | None = 200, counts: list[ItemCount] | None = None
) -> dict[str, Any]:
    """Everything a person needs to judge a run: status, progress, cost, and what failed and why (``counts``:
    :func:`run_item_counts`, when the caller has them already)."""
    progress = run_progress(run=run, counts=counts)
    failures = run_failures(run=run, limit=failure_limit)
    return {
        "id": run.pk,
        "dataset": run.dataset.name,
        "prompt_set": run.prompt_set,
        "provider": run.provider,
        "models": run.model_map,
        "options": {k: v for k, v in run.options.items() if k != "prompt_versions"},
        "status": run.status,
        "error": run.error,
        "progress": {
            "conversations": progress.conversations,
            "subjective": progress.subjective,
            "total": progress.total,
            "done": progress.done,
            "failed": progress.failed,
            "parse_errors": progress.parse_errors,
            "pending": progress.pending,
            "percent": round(100 * (progress.done + progress.failed) / progress.total, 1) if progress.total else 0.0,
        },
        "costs": run_costs(run=run),
        "batches": list(run.batches.values("batch_id", "status", "request_count", "submitted_at", "collected_at")),
        "failures": failures,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def run_list() -> QuerySet[ExtractionRun]:
    return ExtractionRun.objects.select_related("dataset").order_by("-pk")


def run_list_with_costs() -> QuerySet[ExtractionRun]:
    """Runs, newest first, with ``cost_usd`` (what the rows the run wrote cost) annotated.

    Progress is read from the counters the run keeps (``total_items``, ``done_items``, ``failed_items``,
    refreshed as it goes), so listing runs does not recount their items.
    """
    return run_list().annotate(cost_usd=Sum("extractions__cost_usd"))


def run_percent(run: ExtractionRun) -> float:
    """Share of the run's items answered or failed, from its counters, in percent."""
    if not run.total_items:
        return 0.0
    return round(100 * (run.done_items + run.failed_items) / run.total_items, 1)


def run_conversations_unsliced(*, run: ExtractionRun) -> QuerySet[Conversation]:
    """The run's conversations as a queryset that can still be filtered and paginated (no slice)."""
    qs = Conversation.objects.filter(dataset_id=run.dataset_id)
    ids = run.options.get("conversation_ids")
    if ids:
        return qs.filter(pk__in=ids)
    last = _last_conversation_id(run)
    return qs.filter(pk__lte=last) if last is not None else qs


def run_feature_counts(*, run: ExtractionRun, counts: list[ItemCount] | None = None) -> list[dict[str, Any]]:
    """Per feature, the run's items by status: ``{"feature", "ok", "parse_error", "failed", "total"}``
    (``counts``: :func:`run_item_counts`, when the caller has them already)."""
    by_feature: dict[str, dict[str, Any]] = {}
    for c in run_item_counts(run=run) if counts is None else counts:
        row = by_feature.setdefault(
            c.feature, {"feature": c.feature, **{s.value: 0 for s in ExtractionStatus}, "total": 0}
        )
        row[c.status] = c.n
        row["total"] += c.n
    return [by_feature[f] for f in sorted(by_feature)]


def extraction_counts(*, conversation_ids: list[int]) -> dict[int, int]:
    """Conversation id -> number of extractions, for the given conversations (those with none are left out)."""
    rows = (
        Extraction.objects.filter(conversation_id__in=conversation_ids)
        .values_list("conversation_id")
        .annotate(n=Count("pk"))
        .values_list("conversation_id", "n")
    )
    return dict(rows)


def conversation_extractions(*, conversation_id: int) -> QuerySet[Extraction]:
    """Every extraction of one conversation, whichever run or prompt wrote it, by feature then newest first."""
    return (
        Extraction.objects.filter(conversation_id=conversation_id)
        .select_related("prompt_version", "run")
        .order_by("feature", "-created_at", "-pk")
    )


@dataclass(frozen=True)
class CoverageReport:
    checked: int
    missing: list[str]  # one sentence per missing recording, naming conversation and feature
    unused: int  # recordings for this dataset and set that no item needs (e.g. another prompt version)


def recordings_coverage(*, dataset: str, prompt_set: str, path: str, all_conversations: bool = False) -> CoverageReport:
    """Whether a recording file answers every item of ``prompt_set`` on ``dataset`` (gating as in a run).

    A value feature needs a recording only where the recorded subjectivity answer passes the filter.
    """
    from extraction.parsing import parse_fused, parse_output
    from extraction.prompts import load_prompt_set
    from extraction.replay import RecordingKey, ReplayProvider

    pset = load_prompt_set(prompt_set)
    replay = ReplayProvider.from_file(path)
    conversations = Conversation.objects.filter(dataset__name=dataset).order_by("pk")
    needed: list[RecordingKey] = []
    for conversation in conversations.values_list("external_id", flat=True):
        for prompt_key, spec in pset.prompts.items():
            needed.append(RecordingKey(dataset, conversation, prompt_key, spec.content_hash))
    missing = [replay.describe_missing(k) for k in needed if k not in replay.recordings]
    checked = len(needed)
    if not pset.fused and FeatureName.SUBJECTIVITY in pset.prompts:
        # Gated features are only needed where the recorded filter answer lets them through.
        gated_missing = []
        for item in needed:
            if item.feature not in GATED_FEATURES or all_conversations:
                continue
            subj_hash = pset.prompts[FeatureName.SUBJECTIVITY].content_hash
            subj = replay.recordings.get(RecordingKey(dataset, item.external_id, FeatureName.SUBJECTIVITY, subj_hash))
            if subj is None or not parse_output(FeatureName.SUBJECTIVITY, subj.text).passes:
                gated_missing.append(replay.describe_missing(item))
                checked -= 1
        missing = [m for m in missing if m not in gated_missing]
    elif pset.fused:
        for item in needed:
            rec = replay.recordings.get(item)
            if rec is not None and all(p.error for p in parse_fused(rec.text, pset.features).values()):
                missing.append(f"recording for {item.external_id!r} ({item.feature}) has no parsable answer")
    needed_set = set(needed)
    hashes = {spec.content_hash for spec in pset.prompts.values()}
    unused = sum(
        1
        for k, rec in replay.recordings.items()
        if k.dataset == dataset
        and rec.prompt_set == pset.name
        and k.sample == 0
        and k not in needed_set
        and k.prompt_hash not in hashes
    )
    return CoverageReport(checked=checked, missing=missing, unused=unused)


WRITING = (RunStatus.PENDING, RunStatus.RUNNING)
_STATE_FIELDS = ("pk", "status", "total_items", "done_items", "failed_items", "finished_at")


def _newest_ids() -> tuple[int | None, int | None]:
    return Extraction.objects.aggregate(n=Max("pk"))["n"], Conversation.objects.aggregate(n=Max("pk"))["n"]


def extraction_data_version(*, dataset_id: int | None = None, run_id: int | None = None) -> str | None:
    """A fingerprint of the extractions of one run, one dataset or every dataset, that changes with every write
    the product makes to them; None while a run in scope may be writing (then a report must not be cached).

    Three small queries, whatever the number of rows. Conversations and extractions are only ever inserted
    (their newest ids grow) or deleted with their dataset (its runs go too); the one write in place is a failed
    item retried, and only a running run retries, then recounts its counters (``run_refresh_progress``) and
    changes its status when it ends. So the newest ids and each run's status and counters in scope move
    whenever what a report of the scope reads moves."""
    runs = ExtractionRun.objects.order_by("pk")
    if run_id is not None:
        runs = runs.filter(pk=run_id)
    elif dataset_id is not None:
        runs = runs.filter(dataset_id=dataset_id)
    state = list(runs.values_list(*_STATE_FIELDS))
    if any(status in WRITING for _, status, *_ in state):
        return None
    return version_key(dataset_id, run_id, state, _newest_ids())


def run_costs_usd(*, runs: list[ExtractionRun]) -> dict[int, Decimal]:
    """What the rows each run wrote cost, by run id; read from the cache for the runs whose rows did not change
    since (see :func:`extraction_data_version`), summed in one query for the others."""
    newest = _newest_ids()
    keys = {
        run.pk: f"report:run-cost:{version_key(*(getattr(run, f) for f in _STATE_FIELDS), newest)}"
        for run in runs
        if run.status not in WRITING
    }
    found = cache.get_many(list(keys.values()))
    out = {pk: found[key] for pk, key in keys.items() if key in found}
    missing = [run.pk for run in runs if run.pk not in out]
    if missing:
        sums = dict(
            Extraction.objects.filter(run_id__in=missing)
            .values("run_id")
            .annotate(cost=Sum("cost_usd"))
            .values_list("run_id", "cost")
        )
        for pk in missing:
            out[pk] = sums.get(pk) or Decimal(0)
            if pk in keys:
                cache.set(keys[pk], out[pk], REPORT_CACHE_SECONDS)
    return out
