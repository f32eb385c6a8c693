"""The lead's adjudication of a machine output: the verdict (and labels) that replace the reviewers' majority.

``adjudication_check`` validates what the lead entered (one clear message per mistake) and returns it
normalised; ``adjudication_record`` writes it, once per output (a second decision replaces the first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from annotate.consistency import label_key
from annotate.models import Adjudication, Verdict
from corpus.cache import reports_warm_soon
from extraction.features import (
    RESPONSE_TYPES,
    SUBJECTIVE_LEVELS,
    SUBJECTIVITY_NO,
    SUBJECTIVITY_YES,
    FeatureName,
)
from extraction.models import Extraction


class AdjudicationError(ValueError):
    """What the lead entered cannot be recorded (the message says why)."""


@dataclass(frozen=True)
class AdjudicationInput:
    verdict: str
    labels: list[str] | None
    level: int | None
    comment: str


def _subjectivity_labels(labels: list[str] | None, level: int | None) -> list[str] | None:
    if level is not None:
        if level not in (1, 2, 3, 4):
            raise AdjudicationError(f"the subjectivity level must be 1 to 4, not {level}")
        side = SUBJECTIVITY_YES if level in SUBJECTIVE_LEVELS else SUBJECTIVITY_NO
        if labels and [label.lower() for label in labels] != [side]:
            raise AdjudicationError(f"level {level} means {side!r}, not {', '.join(labels)!r}")
        return [side]
    if labels and (len(labels) != 1 or labels[0].lower() not in (SUBJECTIVITY_YES, SUBJECTIVITY_NO)):
        raise AdjudicationError(f"subjectivity is 'yes' or 'no' (or a level 1-4), not {', '.join(labels)!r}")
    return [labels[0].lower()] if labels else None


def adjudication_check(
    *,
    extraction: Extraction,
    verdict: str,
    labels: Sequence[str] | None = None,
    level: int | None = None,
    comment: str = "",
) -> AdjudicationInput:
    """Validate a lead's decision on ``extraction``; raises :class:`AdjudicationError` with one clear message.

    "correct" keeps the model's labels (labels, when given, must equal them); "incorrect" needs the right
    labels (an empty list for "none"), or for subjectivity a level.
    """
    if verdict not in Verdict.values:
        raise AdjudicationError(f"the verdict must be one of {Verdict.values}, not {verdict!r}")
    cleaned = None if labels is None else [str(label).strip() for label in labels if str(label).strip()]
    if extraction.feature == FeatureName.SUBJECTIVITY:
        cleaned = _subjectivity_labels(cleaned, level)
    elif level is not None:
        raise AdjudicationError(f"a level belongs to subjectivity only, not to {extraction.feature}")
    is_response_type = extraction.feature == FeatureName.RESPONSE_TYPE
    if is_response_type and cleaned is not None and (len(cleaned) != 1 or cleaned[0] not in RESPONSE_TYPES):
        raise AdjudicationError(f"the response type is one of {list(RESPONSE_TYPES)}, not {cleaned}")
    machine = label_key(extraction.labels or [])
    if verdict == Verdict.CORRECT:
        if cleaned is not None and label_key(cleaned) != machine:
            raise AdjudicationError("'correct' keeps the model's labels; choose 'incorrect' to change them")
        if level is not None and extraction.level is not None and level != extraction.level:
            raise AdjudicationError(f"'correct' keeps the model's level {extraction.level}; choose 'incorrect'")
        cleaned = None
    elif cleaned is None:
        raise AdjudicationError("'incorrect' needs the right labels (leave the box empty only for 'none')")
    elif label_key(cleaned) == machine and (level is None or level == extraction.level):
        raise AdjudicationError("these are the model's own labels: choose 'correct', or give the right labels")
    return AdjudicationInput(verdict=verdict, labels=cleaned, level=level, comment=comment.strip())


@transaction.atomic
def adjudication_record(
    *,
    extraction_id: int,
    verdict: str,
    labels: Sequence[str] | None = None,
    level: int | None = None,
    comment: str = "",
    user: Any = None,
) -> Adjudication:
    """Record the lead's verdict (and labels) for one machine output; a later decision replaces the earlier one."""
    extraction = Extraction.objects.filter(pk=extraction_id).first()
    if extraction is None:
        raise AdjudicationError(f"no machine output with id {extraction_id}")
    decided = adjudication_check(extraction=extraction, verdict=verdict, labels=labels, level=level, comment=comment)
    adjudication, _ = Adjudication.objects.update_or_create(
        extraction=extraction,
        defaults={
            "verdict": decided.verdict,
            "labels": decided.labels,
            "level": decided.level,
            "comment": decided.comment,
            "decided_by": user if getattr(user, "is_authenticated", False) else None,
        },
    )
    reports_warm_soon()  # a run's shares corrected by the reviews read the lead's decisions
    return adjudication
