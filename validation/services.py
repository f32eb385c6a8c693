"""Writes for validation: saving report snapshots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from validation.models import ReportSnapshot, SnapshotKind
from validation.selectors import agreement_report_for_run, prompt_comparison


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


@transaction.atomic
def comparison_snapshot_create(
    *,
    baseline: str,
    candidate: str,
    model: str | None = None,
    user: Any = None,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> ReportSnapshot:
    """Compare two prompt versions and save the comparison as a snapshot."""
    payload = prompt_comparison(baseline=baseline, candidate=candidate, model=model, confidence=confidence, alpha=alpha)
    return ReportSnapshot.objects.create(
        kind=SnapshotKind.COMPARISON,
        baseline=baseline,
        candidate=candidate,
        params=payload["params"],
        payload=payload,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
