"""Reads: prompt versions and runs scored against a gold set, their paired comparison on it, and how often the
scoring rule agrees with the reviewers (the statistics are in ``validation.scoring`` and
``validation.gold_compare``; this module fetches the rows and hands them over).

Every function here is a selector: keyword-only, no writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, Sum
from django.utils.module_loading import import_string

from extraction.models import Extraction, ExtractionRun
from stats.proportions import proportion_ci
from validation import reports, scoring
from validation.gold_compare import Side, compare_on_gold
from validation.selectors import (
    PromptSpecError,
    gold_set_get,
    gold_set_labels,
    output_verdicts_for_run,
    produced_features,
    prompt_versions_resolve,
)


def value_matcher(*, embeddings: bool = False, similarity: float = scoring.DEFAULT_SIMILARITY) -> scoring.ValueMatcher:
    """The soft match: the taxonomies' mapping of values to nodes, and (``embeddings``) the taxonomy's offline
    sentence embeddings with a cosine ``similarity`` threshold, from ``settings.VALUE_MATCH_SOURCES``."""
    mapping, embed = import_string(settings.VALUE_MATCH_SOURCES)(embeddings=embeddings)
    return scoring.ValueMatcher(mapping=mapping, embed=embed, threshold=similarity)


def side_outputs(
    *,
    conversation_ids: Iterable[int],
    prompt_version_ids: Iterable[int] | None = None,
    run_id: int | None = None,
    model: str | None = None,
) -> dict[str, dict[int, scoring.Output]]:
    """Outputs by feature and conversation: of a run, or of prompt versions in any run (then one model per
    conversation and feature, or ``model`` names it). A failed or unparsable output is ``Output(None)``."""
    qs = Extraction.objects.filter(conversation_id__in=list(conversation_ids))
    if run_id is not None:
        qs = qs.filter(run_id=run_id)
    if prompt_version_ids is not None:
        qs = qs.filter(prompt_version_id__in=list(prompt_version_ids))
    if model is not None:
        qs = qs.filter(model=model)
    out: dict[str, dict[int, scoring.Output]] = {}
    models: dict[tuple[str, int], str] = {}
    for conversation_id, feature, status, labels, level, m in qs.order_by("pk").values_list(
        "conversation_id", "feature", "status", "labels", "level", "model"
    ):
        seen = models.setdefault((feature, conversation_id), m)
        if seen != m:
            raise PromptSpecError(f"{feature} of conversation {conversation_id} has outputs of models {seen} and {m}")
        labels_t = tuple(str(x) for x in labels) if status == "ok" else None
        out.setdefault(feature, {})[conversation_id] = scoring.Output(labels=labels_t, level=level)
        if feature == "subjectivity":
            out.setdefault(scoring.SUBJECTIVITY_LEVEL, {})[conversation_id] = scoring.Output(labels_t, level)
    return out


def _answer(feature: str, out: scoring.Output | scoring.Gold | None) -> Any:
    if out is None or out.labels is None:
        return None
    if feature == scoring.SUBJECTIVITY_LEVEL:
        return out.level
    return list(out.labels)


def _scored(
    outputs: dict[str, dict[int, scoring.Output]],
    gold: dict[str, dict[int, scoring.Gold]],
    features: Iterable[str],
    *,
    matcher: scoring.ValueMatcher,
    rule: scoring.CorrectRule,
) -> dict[str, Side]:
    sides: dict[str, Side] = {}
    for feature in features:
        if feature not in scoring.SCORED_FEATURES or feature not in gold:
            continue
        mine = outputs.get(feature, {})
        if feature == scoring.SUBJECTIVITY_LEVEL and all(o.level is None for o in mine.values()):
            continue  # this prompt gives no level: nothing to score
        items = [(cid, mine.get(cid, scoring.Output(None)), g) for cid, g in sorted(gold[feature].items())]
        matcher.prepare(v for _, o, g in items for v in (*(o.labels or ()), *g.labels))
        scores = scoring.item_scores(feature, items, matcher=matcher, rule=rule)
        sides[feature] = Side(scores=scores, answers={cid: _answer(feature, mine.get(cid)) for cid, _, _ in items})
    return sides


def _features(base: Sequence[str]) -> list[str]:
    out = list(base)
    if "subjectivity" in out:
        out.append(scoring.SUBJECTIVITY_LEVEL)
    return out


def _side_spec(spec: str | None, run_id: int | None) -> tuple[list[int] | None, int | None, list[str], str]:
    if (spec is None) == (run_id is None):
        raise PromptSpecError("name either a prompt spec or a run")
    if run_id is not None:
        run = ExtractionRun.objects.filter(pk=run_id).first()
        if run is None:
            raise PromptSpecError(f"no extraction run with id {run_id}")
        features = sorted(set(Extraction.objects.filter(run=run).values_list("feature", flat=True).distinct()))
        return None, run_id, features, f"run {run_id} ({run.prompt_set})"
    versions = prompt_versions_resolve(str(spec))
    return [v.pk for v in versions], None, produced_features(versions=versions), str(spec)


def gold_score(
    *,
    gold_set_id: int,
    spec: str | None = None,
    run_id: int | None = None,
    model: str | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    embeddings: bool = False,
    similarity: float = scoring.DEFAULT_SIMILARITY,
    value_threshold: float = scoring.DEFAULT_VALUE_THRESHOLD,
) -> dict[str, Any]:
    """A run's outputs (``run_id``) or a prompt spec's (``spec``: id, SET, SET/FEATURE[@HASH]) scored against a
    gold set, per feature it produced (see ``validation.scoring``). Returns ``{"gold_set", "subject", "params",
    "features": {feature: {...}}}``."""
    gold_set = gold_set_get(gold_set_id=gold_set_id)
    ids, run, produced, subject = _side_spec(spec, run_id)
    gold = gold_set_labels(gold_set_id=gold_set_id)
    conversations = {cid for by in gold.values() for cid in by}
    outputs = side_outputs(conversation_ids=conversations, prompt_version_ids=ids, run_id=run, model=model)
    matcher = value_matcher(embeddings=embeddings, similarity=similarity)
    rule = scoring.CorrectRule(value_threshold=value_threshold)
    sides = _scored(outputs, gold, _features(produced), matcher=matcher, rule=rule)
    features = {
        f: scoring.score_feature(f, side.scores, confidence=confidence, n_boot=n_boot, seed=seed)
        for f, side in sides.items()
    }
    return reports.json_ready(
        {
            "gold_set": {"id": gold_set.pk, "name": gold_set.name, "version": gold_set.version},
            "subject": subject,
            "model": model,
            "params": {
                "confidence": confidence,
                "n_boot": n_boot,
                "seed": seed,
                "correct_rule": rule.describe(),
                "match": matcher.describe(),
            },
            "features": features,
        }
    )


def gold_comparison(
    *,
    gold_set_id: int,
    baseline: str,
    candidate: str,
    baseline_model: str | None = None,
    candidate_model: str | None = None,
    confidence: float = 0.95,
    alpha: float = 0.05,
    n_boot: int = 1000,
    seed: int = 0,
    embeddings: bool = False,
    similarity: float = scoring.DEFAULT_SIMILARITY,
    value_threshold: float = scoring.DEFAULT_VALUE_THRESHOLD,
) -> dict[str, Any]:
    """Baseline vs candidate on a gold set, per feature both produced (a fused prompt on each of its features):
    any two prompt versions or sets (specs as in ``prompt_versions_resolve``), or one spec under two models.
    See ``validation.gold_compare`` for the figures; flipped conversations carry both answers and the gold."""
    gold_set = gold_set_get(gold_set_id=gold_set_id)
    base_versions = prompt_versions_resolve(baseline)
    cand_versions = prompt_versions_resolve(candidate)
    if {v.pk for v in base_versions} == {v.pk for v in cand_versions} and baseline_model == candidate_model:
        raise PromptSpecError(f"{baseline!r} and {candidate!r} name the same prompt versions and model")
    shared = set(produced_features(versions=base_versions)) & set(produced_features(versions=cand_versions))
    if not shared:
        raise PromptSpecError(f"{baseline!r} and {candidate!r} produced no common feature")
    gold = gold_set_labels(gold_set_id=gold_set_id)
    conversations = {cid for by in gold.values() for cid in by}
    matcher = value_matcher(embeddings=embeddings, similarity=similarity)
    rule = scoring.CorrectRule(value_threshold=value_threshold)
    sides = []
    for spec, versions, model in (
        (baseline, base_versions, baseline_model),
        (candidate, cand_versions, candidate_model),
    ):
        outputs = side_outputs(conversation_ids=conversations, prompt_version_ids=[v.pk for v in versions], model=model)
        if not outputs:
            raise PromptSpecError(
                f"{spec!r}" + (f" with model {model!r}" if model else "") + f" has no output on the conversations of "
                f"gold set {gold_set}; run it on dataset {gold_set.dataset.name!r} first"
            )
        sides.append(_scored(outputs, gold, _features(sorted(shared)), matcher=matcher, rule=rule))
    gold_answers = {f: {cid: _answer(f, g) for cid, g in by.items()} for f, by in gold.items()}
    payload = compare_on_gold(
        sides[0], sides[1], gold_answers, confidence=confidence, alpha=alpha, n_boot=n_boot, seed=seed
    )
    external = dict(gold_set.dataset.conversations.values_list("pk", "external_id"))
    for entry in payload["features"].values():
        for flip in entry.get("flipped", []):
            flip["external_id"] = external.get(flip["conversation_id"])
    payload["params"].update(correct_rule=rule.describe(), match=matcher.describe(), method="gold set")
    payload["gold_set"] = {"id": gold_set.pk, "name": gold_set.name, "version": gold_set.version}
    payload["baseline"] = {"spec": baseline, "model": baseline_model, "versions": [str(v) for v in base_versions]}
    payload["candidate"] = {"spec": candidate, "model": candidate_model, "versions": [str(v) for v in cand_versions]}
    payload["cost"] = {
        "baseline": version_costs(prompt_version_ids=[v.pk for v in base_versions], conversation_ids=conversations),
        "candidate": version_costs(prompt_version_ids=[v.pk for v in cand_versions], conversation_ids=conversations),
    }
    return payload


def version_costs(*, prompt_version_ids: Iterable[int], conversation_ids: Iterable[int]) -> dict[str, Any]:
    """What the versions' outputs on these conversations cost: total USD, per 1,000 conversations, and the mean
    latency of a call (a fused call is one call for all its features; its cost is booked on one of its rows)."""
    qs = Extraction.objects.filter(
        prompt_version_id__in=list(prompt_version_ids), conversation_id__in=list(conversation_ids)
    )
    agg = qs.aggregate(cost=Sum("cost_usd"), conversations=Count("conversation", distinct=True))
    calls = qs.exclude(latency_ms=0).aggregate(latency=Avg("latency_ms"))
    n = int(agg["conversations"] or 0)
    cost = float(agg["cost"] or 0)
    return {
        "conversations": n,
        "cost_usd": cost,
        "cost_per_1000_conversations": cost / n * 1000 if n else None,
        "mean_latency_ms": None if calls["latency"] is None else float(calls["latency"]),
    }


def rule_agreement(
    *,
    run_id: int,
    gold_set_id: int,
    embeddings: bool = False,
    similarity: float = scoring.DEFAULT_SIMILARITY,
    value_threshold: float = scoring.DEFAULT_VALUE_THRESHOLD,
    response_type_tolerance: int = scoring.DEFAULT_RESPONSE_TYPE_TOLERANCE,
) -> dict[str, Any]:
    """How often the scoring rule's "correct" (the run's output against the gold set) matches the reviewers'
    verdict (strict majority, ties not correct) on the reviewed outputs of the run, per feature and overall."""
    verdicts = output_verdicts_for_run(run_id=run_id)
    gold = gold_set_labels(gold_set_id=gold_set_id)
    matcher = value_matcher(embeddings=embeddings, similarity=similarity)
    rule = scoring.CorrectRule(value_threshold=value_threshold, response_type_tolerance=response_type_tolerance)
    outputs = side_outputs(conversation_ids={cid for by in gold.values() for cid in by}, run_id=run_id)
    sides = _scored(outputs, gold, sorted(set(verdicts["feature"])), matcher=matcher, rule=rule)
    per_feature: dict[str, dict[str, Any]] = {}
    agree_all = total_all = 0
    for feature, side in sides.items():
        by_rule = {s.conversation_id: s.correct for s in side.scores}
        rows = verdicts[verdicts["feature"] == feature]
        pairs = [
            (bool(r.correct), by_rule[r.conversation_id]) for r in rows.itertuples() if r.conversation_id in by_rule
        ]
        agree = sum(a == b for a, b in pairs)
        per_feature[feature] = {
            "n": len(pairs),
            "agree": agree,
            "share": agree / len(pairs) if pairs else None,
            "reviewers_correct_rule_wrong": sum(a and not b for a, b in pairs),
            "reviewers_wrong_rule_correct": sum(b and not a for a, b in pairs),
        }
        agree_all += agree
        total_all += len(pairs)
    return {
        "run": run_id,
        "gold_set": gold_set_id,
        "rule": rule.describe(),
        "features": per_feature,
        "overall": {"n": total_all, "agree": agree_all, "share": agree_all / total_all if total_all else None},
    }


def _shares(sides: dict[str, Side], *, confidence: float) -> dict[str, dict[str, Any]]:
    out = {}
    for feature, side in sides.items():
        k, n = sum(s.correct for s in side.scores), len(side.scores)
        ci = proportion_ci(k, n, confidence=confidence) if n else None
        out[feature] = {"k": k, "n": n, **({"estimate": ci.estimate, "low": ci.low, "high": ci.high} if ci else {})}
    return out


def gold_grid(
    *,
    gold_set_id: int,
    specs: Sequence[str],
    model: str | None = None,
    confidence: float = 0.95,
    value_threshold: float = scoring.DEFAULT_VALUE_THRESHOLD,
) -> dict[str, Any]:
    """A comparison grid in the manner of promptfoo: the gold set's conversations x the prompt specs.

    Returns ``{"gold_set", "specs", "features", "versions": [{spec, versions, features: {feature: {"k", "n",
    "estimate", "low", "high"}}, cost}], "rows": [{conversation_id, external_id, gold: {feature: answer},
    cells: {spec: {feature: {"answer", "correct", "missing"}}}, "differs": bool, "fails": bool}]}``: ``correct``
    by the stated rule (None where the spec produced no such feature); ``differs`` when the specs' verdicts on a
    conversation are not all the same, ``fails`` when one of them is wrong (the grid's two filters). Shares are
    Wilson intervals; no bootstrap, so a grid of many versions stays fast."""
    gold_set = gold_set_get(gold_set_id=gold_set_id)
    gold = gold_set_labels(gold_set_id=gold_set_id)
    conversations = sorted({cid for by in gold.values() for cid in by})
    matcher = value_matcher()
    rule = scoring.CorrectRule(value_threshold=value_threshold)
    columns: list[dict[str, Any]] = []
    sides: dict[str, dict[str, Side]] = {}
    for spec in specs:
        versions = prompt_versions_resolve(spec)
        ids = [v.pk for v in versions]
        outputs = side_outputs(conversation_ids=conversations, prompt_version_ids=ids, model=model)
        features = _features(produced_features(versions=versions))
        sides[spec] = _scored(outputs, gold, features, matcher=matcher, rule=rule)
        columns.append(
            {
                "spec": spec,
                "versions": [str(v) for v in versions],
                "features": _shares(sides[spec], confidence=confidence),
                "cost": version_costs(prompt_version_ids=ids, conversation_ids=conversations),
            }
        )
    features = sorted({f for by in sides.values() for f in by})
    external = dict(gold_set.dataset.conversations.filter(pk__in=conversations).values_list("pk", "external_id"))
    index = {
        (spec, f): {s.conversation_id: s for s in side.scores} for spec, by in sides.items() for f, side in by.items()
    }
    rows = []
    for cid in conversations:
        cells: dict[str, dict[str, Any]] = {}
        for spec, by_feature in sides.items():
            cells[spec] = {}
            for feature, side in by_feature.items():
                score = index[(spec, feature)].get(cid)
                if score is not None:
                    cells[spec][feature] = {
                        "answer": side.answers.get(cid),
                        "correct": score.correct,
                        "missing": score.missing,
                    }
        verdicts = [c["correct"] for by in cells.values() for c in by.values()]
        per_feature = {f: {cells[s][f]["correct"] for s in cells if f in cells[s]} for f in features}
        rows.append(
            {
                "conversation_id": cid,
                "external_id": external.get(cid),
                "gold": {f: _answer(f, gold[f][cid]) for f in features if cid in gold.get(f, {})},
                "cells": cells,
                "differs": any(len(v) > 1 for v in per_feature.values()),
                "fails": not all(verdicts),
            }
        )
    return reports.json_ready(
        {
            "gold_set": {"id": gold_set.pk, "name": gold_set.name, "version": gold_set.version},
            "specs": list(specs),
            "features": features,
            "correct_rule": rule.describe(),
            "versions": columns,
            "rows": rows,
        }
    )
