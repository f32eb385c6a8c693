"""validation/services.py: snapshots are saved with their parameters and survive a round trip."""

from __future__ import annotations

import pytest

from tests.validation.conftest import Study
from validation import services
from validation.models import ReportSnapshot, SnapshotKind
from validation.selectors import RunNotFoundError, snapshot_list


def test_agreement_snapshots_accumulate_over_time(study: Study) -> None:
    first = services.agreement_snapshot_create(run_id=study.run.pk, n_boot=30, seed=4)
    second = services.agreement_snapshot_create(run_id=study.run.pk, n_boot=30, seed=4)
    assert first.kind == SnapshotKind.AGREEMENT
    assert first.params["seed"] == 4
    stored = ReportSnapshot.objects.get(pk=first.pk)
    assert stored.payload == second.payload  # same data, same seed: same report
    assert list(snapshot_list(run_id=study.run.pk)) == [second, first]


def test_snapshot_not_written_when_the_report_fails(db: None) -> None:
    with pytest.raises(RunNotFoundError):
        services.agreement_snapshot_create(run_id=31337)
    assert not ReportSnapshot.objects.exists()


def test_comparison_snapshot(study: Study) -> None:
    snap = services.comparison_snapshot_create(baseline="paper-v1", candidate="paper-v2")
    assert snap.kind == SnapshotKind.COMPARISON
    assert snap.run_id is None
    assert snap.payload["features"]["ai_values"]["n"] == study.n
    assert "vs paper-v2" in str(snap)


def test_snapshot_constraint_requires_a_subject(db: None) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ReportSnapshot.objects.create(kind=SnapshotKind.AGREEMENT, payload={})
