"""Consistency flags on reviews: computed from :mod:`annotate.consistency`, stored one row per rule broken.

Intake refreshes the flags of every annotation it writes, so a review that is corrected in Label Studio
loses the flags it no longer earns; a deleted review keeps none. ``review_flags_refresh`` with no ids
re-checks every stored review (the backfill for reviews stored before a rule existed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from annotate.consistency import ReviewFacts, review_flags
from annotate.models import Annotation, ReviewFlag
from annotate.services.bulk import DB_CHUNK, chunks

_FACT_FIELDS = (
    "pk",
    "deleted",
    "verdict",
    "corrected_labels",
    "comment",
    "subjectivity_level",
    "extraction__labels",
    "extraction__status",
    "extraction__level",
)


def _wanted(rows: Iterable[tuple[Any, ...]]) -> dict[int, dict[str, str]]:
    wanted: dict[int, dict[str, str]] = {}
    for pk, deleted, verdict, corrected, comment, level, labels, status, machine_level in rows:
        if deleted or not verdict:
            wanted[pk] = {}
            continue
        facts = ReviewFacts(
            verdict=verdict,
            corrected_labels=corrected,
            comment=comment,
            machine_labels=labels or [],
            output_status=status,
            machine_level=machine_level,
            reviewer_level=level,
        )
        wanted[pk] = {flag.rule: flag.reason[:300] for flag in review_flags(facts)}
    return wanted


def review_flags_refresh(*, annotation_ids: Iterable[int] | None = None) -> int:
    """Bring the stored flags of these annotations (all, when None) in line with the rules.

    Returns the number of flags the annotations now carry.
    """
    if annotation_ids is None:
        ids = sorted(Annotation.objects.values_list("pk", flat=True))
    else:
        ids = sorted(set(annotation_ids))
    total = 0
    for chunk in chunks(ids):
        wanted = _wanted(Annotation.objects.filter(pk__in=chunk).values_list(*_FACT_FIELDS))
        stored: dict[int, dict[str, ReviewFlag]] = {}
        for flag in ReviewFlag.objects.filter(annotation_id__in=chunk):
            stored.setdefault(flag.annotation_id, {})[flag.rule] = flag
        stale, create, update = [], [], []
        for pk, rules in wanted.items():
            have = stored.get(pk, {})
            stale += [flag.pk for rule, flag in have.items() if rule not in rules]
            for rule, reason in rules.items():
                if rule not in have:
                    create.append(ReviewFlag(annotation_id=pk, rule=rule, reason=reason))
                elif have[rule].reason != reason:
                    have[rule].reason = reason
                    update.append(have[rule])
            total += len(rules)
        with transaction.atomic():
            ReviewFlag.objects.filter(pk__in=stale).delete()
            ReviewFlag.objects.bulk_create(create, batch_size=DB_CHUNK, ignore_conflicts=True)
            ReviewFlag.objects.bulk_update(update, ["reason"], batch_size=DB_CHUNK)
    return total
