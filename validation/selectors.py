"""Reads for validation: the review table behind every report, prompt-version lookup, saved snapshots, trust
verdicts and gold sets (the gold labels the reviews give: ``annotate.selectors.gold_labels``; scores against gold
sets: ``validation.scores``)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from annotate import selectors as annotate_selectors
from annotate.models import Annotation
from annotate.selectors import run_independence
from extraction.models import (
    FUSED,
    RESPONSE_TYPES,
    VALUE_FEATURES,
    Extraction,
    ExtractionRun,
    Feature,
    PromptVersion,
)
from stats.errors import EmptyInputError
from validation import reports, scoring, trust
from validation.corrections import run_corrected_prevalences
from validation.models import GoldLabel, GoldSet, GoldSetStatus, ReportSnapshot, TrustTarget
from validation.reports import DESIGN_COLUMNS, REVIEW_COLUMNS


class PromptSpecError(ValueError):
    """A prompt version spec that names nothing, or more than one thing."""


_FIELDS = {
    "annotation_id": "id",
    "item_id": "item_id",
    "stratum": "item__stratum",
    "conversation_id": "extraction__conversation_id",
    "external_id": "extraction__conversation__external_id",
    "extraction_id": "extraction_id",
    "feature": "extraction__feature",
    "prompt_version_id": "extraction__prompt_version_id",
    "prompt_set": "extraction__prompt_version__prompt_set",
    "content_hash": "extraction__prompt_version__content_hash",
    "model": "extraction__model",
    "annotator": "annotator__email",
    "verdict": "verdict",
    "machine_labels": "extraction__labels",
    "corrected_labels": "corrected_labels",
    "sample_id": "item__sample_id",
    "design": "item__sample__strategy",
    "inclusion_probability": "item__inclusion_probability",
    "sample_params": "item__sample__params",
}


def review_frame(*, run_id: int | None = None, prompt_version_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """One row per live review with a verdict (deleted and verdict-less annotations are left out), joined to
    the machine output it judges. ``run_id`` selects reviews from that run's review samples;
    ``prompt_version_ids`` selects reviews of outputs of those prompt versions (any run)."""
    qs = Annotation.objects.filter(deleted=False).exclude(verdict="")
    if run_id is not None:
        qs = qs.filter(item__sample__run_id=run_id)
    if prompt_version_ids is not None:
        qs = qs.filter(extraction__prompt_version_id__in=list(prompt_version_ids))
    rows = list(qs.order_by("id").values_list(*_FIELDS.values()))
    df = pd.DataFrame(rows, columns=list(_FIELDS.keys()))
    df["prompt_version"] = [
        f"{s}/{f}@{h[:10]}" for s, f, h in zip(df["prompt_set"], df["feature"], df["content_hash"], strict=True)
    ]
    df["stratum"] = [s or None for s in df["stratum"]]
    df["stratum_size"] = [
        (p or {}).get("stratum_sizes", {}).get(s or "") for p, s in zip(df["sample_params"], df["stratum"], strict=True)
    ]
    return df.loc[:, [*REVIEW_COLUMNS, *DESIGN_COLUMNS]]


_SPEC = re.compile(r"^(?P<set>[^/@]+)(?:/(?P<feature>[^/@]+)(?:@(?P<hash>[0-9a-fA-F]+))?)?$")


def prompt_versions_resolve(spec: str) -> list[PromptVersion]:
    """Prompt versions named by ``spec``, one per feature:

    * ``42``: the prompt version with id 42;
    * ``paper-v1/ai_values@3f2a9c``: the version of that set and feature whose content hash starts so;
    * ``paper-v1/ai_values``: that feature's only version in the set;
    * ``paper-v1``: every feature's version in the set.
    A spec matching nothing, or several versions of one feature, raises :class:`PromptSpecError`."""
    spec = spec.strip()
    if spec.isdigit():
        found = list(PromptVersion.objects.filter(pk=int(spec)))
        if not found:
            raise PromptSpecError(f"no prompt version with id {spec}")
        return found
    m = _SPEC.match(spec)
    if not m:
        raise PromptSpecError(f"cannot read prompt spec {spec!r}; use an id, SET, SET/FEATURE or SET/FEATURE@HASH")
    qs = PromptVersion.objects.filter(prompt_set=m["set"])
    if m["feature"]:
        qs = qs.filter(feature=m["feature"])
    if m["hash"]:
        qs = qs.filter(content_hash__startswith=m["hash"].lower())
    versions = list(qs.order_by("feature", "created_at"))
    if not versions:
        raise PromptSpecError(f"no prompt version matches {spec!r}")
    by_feature: dict[str, list[PromptVersion]] = {}
    for v in versions:
        by_feature.setdefault(v.feature, []).append(v)
    for feature, vs in by_feature.items():
        if len(vs) > 1:
            raise PromptSpecError(
                f"{spec!r} matches {len(vs)} versions of {feature}: "
                + ", ".join(str(v) for v in vs)
                + "; name one as SET/FEATURE@HASH"
            )
    return versions


def produced_features(*, versions: Iterable[PromptVersion]) -> list[str]:
    """The features a list of prompt versions produced: a version's own feature, or for a fused version every
    feature its outputs carry."""
    out: set[str] = set()
    for v in versions:
        if v.feature == FUSED:
            out.update(Extraction.objects.filter(prompt_version=v).values_list("feature", flat=True).distinct())
        else:
            out.add(v.feature)
    return sorted(out)


class RunNotFoundError(LookupError):
    pass


def agreement_report_for_run(
    *,
    run_id: int,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    target_half_width: float | None = 0.05,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The agreement report of one extraction run's reviews (see validation.reports)."""
    if not ExtractionRun.objects.filter(pk=run_id).exists():
        raise RunNotFoundError(f"no extraction run with id {run_id}")
    df = review_frame(run_id=run_id)
    adjudicated = annotate_selectors.adjudicated_verdicts(extraction_ids=df["extraction_id"].unique().tolist())
    payload = reports.agreement_report(
        df,
        value_features=[str(f) for f in VALUE_FEATURES],
        response_type_feature=str(Feature.RESPONSE_TYPE),
        response_type_labels=RESPONSE_TYPES,
        confidence=confidence,
        n_boot=n_boot,
        seed=seed,
        target_half_width=target_half_width,
        adjudicated=adjudicated,
        on_step=on_step,
    )
    payload["prevalences"] = reports.json_ready(
        run_corrected_prevalences(
            run_id=run_id,
            features=PREVALENCE_FEATURES,
            labels={str(Feature.SUBJECTIVITY): ["yes"], str(Feature.RESPONSE_TYPE): list(RESPONSE_TYPES)},
            confidence=confidence,
        )
    )
    flags = annotate_selectors.flag_counts(run_id=run_id)
    # Agreement among reviewers who could see each other's work is not a reliability figure: the report says so.
    return {
        "run": run_id,
        **payload,
        "flags": {"total": sum(flags.values()), "by_rule": flags},
        "independence": run_independence(run_id=run_id).as_dict(),
    }


def output_verdicts_for_run(*, run_id: int) -> pd.DataFrame:
    """One row per reviewed output of the run with its majority verdict (``reports.output_verdicts``); empty
    (with the columns) when the run has no review."""
    df = review_frame(run_id=run_id)
    if df.empty:
        return pd.DataFrame(columns=["extraction_id", "feature", "conversation_id", "correct"])
    adjudicated = annotate_selectors.adjudicated_verdicts(extraction_ids=df["extraction_id"].unique().tolist())
    return reports.output_verdicts(df, adjudicated=adjudicated)


PREVALENCE_FEATURES = [
    str(f) for f in (Feature.SUBJECTIVITY, Feature.RESPONSE_TYPE, Feature.AI_VALUES, Feature.HUMAN_VALUES)
]


def prompt_comparison(
    *,
    baseline: str,
    candidate: str,
    model: str | None = None,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Baseline vs candidate prompt versions (specs as in :func:`prompt_versions_resolve`), per feature."""
    base_versions = prompt_versions_resolve(baseline)
    cand_versions = prompt_versions_resolve(candidate)
    base_ids = {v.pk for v in base_versions}
    cand_ids = {v.pk for v in cand_versions}
    if base_ids & cand_ids:
        raise PromptSpecError(f"{baseline!r} and {candidate!r} name the same prompt version")
    # A fused version is compared on each feature it produced.
    base_features = produced_features(versions=base_versions)
    cand_features = produced_features(versions=cand_versions)
    shared = set(base_features) & set(cand_features)
    if not shared:
        raise PromptSpecError(
            f"{baseline!r} and {candidate!r} produced no common feature ({base_features} vs {cand_features})"
        )
    frames = []
    for ids in (base_ids, cand_ids):
        df = review_frame(prompt_version_ids=ids)
        df = df[df["feature"].isin(shared)]
        if model is not None:
            df = df[df["model"] == model]
        frames.append(df)
    for name, df in zip((baseline, candidate), frames, strict=True):
        if df.empty:
            raise EmptyInputError(
                f"no reviews of {name!r}"
                + (f" with model {model!r}" if model else "")
                + "; review a sample of its outputs first, or compare on a gold set"
            )
    reviewed = [int(pk) for df in frames for pk in df["extraction_id"].unique()]
    adjudicated = annotate_selectors.adjudicated_verdicts(extraction_ids=reviewed)
    payload = reports.compare_outputs(frames[0], frames[1], confidence=confidence, alpha=alpha, adjudicated=adjudicated)
    for entry in payload["features"].values():
        for flip in entry.get("flipped", []):
            flip["url"] = reverse("conversation-page", args=[flip["conversation_id"]])
    payload["baseline"] = {"spec": baseline, "versions": [str(v) for v in base_versions]}
    payload["candidate"] = {"spec": candidate, "versions": [str(v) for v in cand_versions]}
    payload["model"] = model
    return payload


def snapshot_list(*, kind: str | None = None, run_id: int | None = None) -> QuerySet[ReportSnapshot]:
    qs = ReportSnapshot.objects.all()
    if kind is not None:
        qs = qs.filter(kind=kind)
    if run_id is not None:
        qs = qs.filter(run_id=run_id)
    return qs


def snapshot_get(*, snapshot_id: int) -> ReportSnapshot:
    return ReportSnapshot.objects.get(pk=snapshot_id)


def agreement_snapshot_latest(*, limit: int = 10) -> list[dict[str, Any]]:
    """The newest agreement snapshots, each with its per-feature rows (estimate, half-width, n) and the trust verdict
    of each reviewed feature, for a summary."""
    snapshots = snapshot_list(kind="agreement").select_related("run__dataset")[:limit]
    return [
        {
            "snapshot": s,
            "features": list(s.payload.get("agreement", {}).get("feature", [])),
            "verdicts": [v for v in run_verdicts(run=s.run, payload=s.payload) if v.n] if s.run else [],
        }
        for s in snapshots
    ]


def conversation_reviews(*, conversation_id: int) -> dict[int, list[Annotation]]:
    """Live reviews of one conversation's machine outputs, by extraction id, oldest first."""
    reviews: dict[int, list[Annotation]] = {}
    rows = (
        Annotation.objects.filter(extraction__conversation_id=conversation_id, deleted=False)
        .select_related("annotator")
        .order_by("created_at", "pk")
    )
    for annotation in rows:
        reviews.setdefault(annotation.extraction_id, []).append(annotation)
    return reviews


def trust_targets(*, run_id: int, features: Iterable[str]) -> dict[str, trust.Target]:
    """Each feature's target for a run: the run's own, else the project default, else ``trust.DEFAULT_TARGET``."""
    wanted = sorted(set(features))
    out = dict.fromkeys(wanted, trust.DEFAULT_TARGET)
    rows = TrustTarget.objects.filter(Q(run_id=run_id) | Q(run__isnull=True), feature__in=wanted)
    for t in sorted(rows, key=lambda t: t.run_id is not None):  # project defaults first, a run's own override them
        out[t.feature] = trust.Target(share=t.share, half_width=t.half_width, source="run" if t.run_id else "project")
    return out


def run_verdicts(*, run: ExtractionRun, payload: dict[str, Any] | None) -> list[trust.Verdict]:
    """The trust verdict of every feature of a run (its configured features and every reviewed one), from a saved
    agreement report; features without reviews are "not yet". When a feature's reviews were not all drawn as
    simple random samples, the verdict reads the design-weighted share (``trust.design_estimate_for``)."""
    rows = {r["feature"]: r for r in (payload or {}).get("agreement", {}).get("feature", [])}
    features = sorted(set(rows) | set((run.options or {}).get("features") or []))
    targets = trust_targets(run_id=run.pk, features=features)
    confidence = float((payload or {}).get("params", {}).get("confidence") or 0.95)
    samples = (payload or {}).get("design") or []
    out = []
    for f in features:
        entry = trust.design_estimate_for([s["features"][f] for s in samples if f in s.get("features", {})])
        if entry is not None:
            out.append(trust.design_verdict(feature=f, entry=entry, target=targets[f], confidence=confidence))
            continue
        correct, n = (int(rows[f]["correct"]), int(rows[f]["n"])) if f in rows else (0, 0)
        out.append(trust.verdict(feature=f, correct=correct, n=n, target=targets[f], confidence=confidence))
    return out


def agreement_by_prompt_version(*, dataset_id: int) -> list[dict[str, Any]]:
    """Agreement per feature and prompt version over the runs of a dataset: from each run's newest agreement
    snapshot, the ``prompt_version`` rows; where two runs measured the same version, the newer snapshot's."""
    latest: dict[int, tuple[Any, int]] = {}
    for run_id, pk, created in (
        ReportSnapshot.objects.filter(kind="agreement", run__dataset_id=dataset_id)
        .order_by("created_at", "id")
        .values_list("run_id", "id", "created_at")
    ):
        latest[run_id] = (created, pk)
    chosen = sorted(latest.values())
    payloads = dict(ReportSnapshot.objects.filter(pk__in=[pk for _, pk in chosen]).values_list("id", "payload"))
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for _, pk in chosen:  # oldest first, so a newer measurement of the same version replaces an older one
        for row in payloads[pk].get("agreement", {}).get("prompt_version", []):
            by_key[(row["feature"], str(row["prompt_version"]))] = row
    # Grouped by feature; within a feature, versions in the order they were first measured.
    return [row for _, row in sorted(by_key.items(), key=lambda kv: kv[0][0])]


# ------------------------------------------------------------------------------------------------ gold sets


def gold_set_list(*, dataset_id: int | None = None) -> QuerySet[GoldSet]:
    """Gold sets, newest version first within a name, with ``label_count`` and ``conversation_count``."""
    qs = GoldSet.objects.select_related("dataset", "run")
    if dataset_id is not None:
        qs = qs.filter(dataset_id=dataset_id)
    return qs.annotate(
        label_count=Count("labels", distinct=True), conversation_count=Count("labels__conversation", distinct=True)
    ).order_by("name", "-version")


def gold_set_get(*, gold_set_id: int) -> GoldSet:
    """One gold set; raises ``GoldSet.DoesNotExist``."""
    return GoldSet.objects.select_related("dataset", "run").get(pk=gold_set_id)


class GoldSetSpecError(LookupError):
    """A gold-set spec that names no gold set."""


def gold_set_resolve(*, spec: str | None = None) -> GoldSet:
    """The gold set named by ``spec``: an id (``7``), ``NAME@VERSION`` (``demo@2``), ``NAME`` (its newest frozen
    version), or None (the newest frozen gold set of all)."""
    frozen = GoldSet.objects.filter(status=GoldSetStatus.FROZEN)
    if spec is None or not spec.strip():
        found = frozen.order_by("-frozen_at", "-pk").first()
        if found is None:
            raise GoldSetSpecError("there is no frozen gold set yet; make one with `gold_set create`")
        return found
    spec = spec.strip()
    if spec.isdigit():
        found = GoldSet.objects.filter(pk=int(spec)).first()
    elif "@" in spec:
        name, _, version = spec.rpartition("@")
        found = GoldSet.objects.filter(name=name, version=int(version)).first() if version.isdigit() else None
    else:
        found = frozen.filter(name=spec).order_by("-version").first()
    if found is None:
        raise GoldSetSpecError(f"no gold set matches {spec!r}; use an id, NAME or NAME@VERSION")
    return found


def gold_set_labels(*, gold_set_id: int) -> dict[str, dict[int, scoring.Gold]]:
    """The gold answers by feature and conversation id; subjectivity levels also under ``subjectivity_level``."""
    out: dict[str, dict[int, scoring.Gold]] = {}
    rows = GoldLabel.objects.filter(gold_set_id=gold_set_id).values_list(
        "conversation_id", "feature", "labels", "level"
    )
    for conversation_id, feature, labels, level in rows:
        out.setdefault(feature, {})[conversation_id] = scoring.Gold(labels=tuple(labels), level=level)
        if feature == "subjectivity" and level is not None:
            out.setdefault(scoring.SUBJECTIVITY_LEVEL, {})[conversation_id] = scoring.Gold(labels=(), level=level)
    return out


def gold_set_export(*, gold_set_id: int, fmt: str = "jsonl") -> str:
    """The gold set as JSONL (one object per label) or CSV (value sets joined by ``|``); either imports back."""
    from validation.services.gold import CSV_COLUMNS, CSV_SEPARATOR

    gold_set = gold_set_get(gold_set_id=gold_set_id)
    rows = [
        {
            "conversation": external_id,
            "feature": feature,
            "labels": labels,
            "level": level,
            "source": source,
            "n_reviews": n_reviews,
        }
        for external_id, feature, labels, level, source, n_reviews in gold_set.labels.order_by(
            "conversation__external_id", "feature"
        ).values_list("conversation__external_id", "feature", "labels", "level", "source", "n_reviews")
    ]
    if fmt == "jsonl":
        head = {"gold_set": gold_set.name, "version": gold_set.version}
        return "".join(json.dumps({**head, **row}) + "\n" for row in rows)
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}; use jsonl or csv")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "labels": CSV_SEPARATOR.join(row["labels"]), "level": row["level"] or ""})
    return buffer.getvalue()
