"""Writes for validation: saving report snapshots, setting trust targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from validation.models import ReportSnapshot, SnapshotKind, TrustTarget
from validation.selectors import agreement_report_for_run, gold_set_resolve, prompt_comparison


class TrustTargetError(ValueError):
    """A target outside its range."""


@transaction.atomic
def agreement_snapshot_create(
    *,
    run_id: int,
    user: Any = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    target_half_width: float | None = 0.05,
    on_step: Callable[[str], None] | None = None,
) -> ReportSnapshot:
    """Compute the run's agreement report and save it as a snapshot."""
    payload = agreement_report_for_run(
        run_id=run_id,
        confidence=confidence,
        n_boot=n_boot,
        seed=seed,
        target_half_width=target_half_width,
        on_step=on_step,
    )
    return ReportSnapshot.objects.create(
        kind=SnapshotKind.AGREEMENT,
        run_id=run_id,
        params=payload["params"],
        payload=payload,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


def comparison_payload(
    *,
    baseline: str,
    candidate: str,
    model: str | None = None,
    gold: str | None = None,
    options: dict[str, Any] | None = None,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """The comparison of two prompt specs: on a gold set when ``gold`` is given ("" names the newest frozen one;
    ``options`` go to ``validation.scores.gold_comparison``), else on the conversations reviewed under both."""
    if gold is None:
        return prompt_comparison(
            baseline=baseline, candidate=candidate, model=model, confidence=confidence, alpha=alpha
        )
    from validation.scores import gold_comparison

    gold_set = gold_set_resolve(spec=gold or None)
    return gold_comparison(
        gold_set_id=gold_set.pk,
        baseline=baseline,
        candidate=candidate,
        confidence=confidence,
        alpha=alpha,
        **(options or {}),
    )


@transaction.atomic
def comparison_snapshot_create(
    *,
    baseline: str,
    candidate: str,
    model: str | None = None,
    gold: str | None = None,
    options: dict[str, Any] | None = None,
    user: Any = None,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> ReportSnapshot:
    """Compare two prompt specs (see :func:`comparison_payload`) and save the comparison as a snapshot."""
    payload = comparison_payload(
        baseline=baseline,
        candidate=candidate,
        model=model,
        gold=gold,
        options=options,
        confidence=confidence,
        alpha=alpha,
    )
    return ReportSnapshot.objects.create(
        kind=SnapshotKind.COMPARISON,
        baseline=baseline,
        candidate=candidate,
        params=payload["params"],
        payload=payload,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


@transaction.atomic
def trust_target_set(
    *, feature: str, run_id: int | None, share: float, half_width: float, user: Any = None
) -> TrustTarget:
    """Set the target of one feature, for one run or (``run_id=None``) as the project default."""
    if not 0 < share <= 1:
        raise TrustTargetError(f"target share must be within (0, 1], got {share!r}")
    if not 0 < half_width <= 0.5:
        raise TrustTargetError(f"half-width must be within (0, 0.5], got {half_width!r}")
    target, _ = TrustTarget.objects.update_or_create(
        feature=feature,
        run_id=run_id,
        defaults={
            "share": share,
            "half_width": half_width,
            "set_by": user if getattr(user, "is_authenticated", False) else None,
        },
    )
    return target


def trust_target_clear(*, feature: str, run_id: int | None) -> int:
    """Remove a feature's target for a run (it falls back to the project default) or its project default."""
    deleted, _ = TrustTarget.objects.filter(feature=feature, run_id=run_id).delete()
    return deleted
