"""Consistency checks of one review against the output it judges (pure: no Django).

A review contradicts itself when its verdict and its labels disagree: "correct" while the labels it
submits differ from the model's, or "incorrect" with neither a correction nor a comment to say what is
wrong. A review of an output the parser could not read judges nothing the analysis uses, so it is flagged
too. The rules are applied at intake, and by the migration that flags reviews stored before them; a flag
does not drop the review from any figure: it sends the output to the lead's adjudication list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Rule names, stored with each flag (``annotate.models.FlagRule`` has the same values).
CORRECT_BUT_CHANGED = "correct_but_changed"
INCORRECT_UNEXPLAINED = "incorrect_unexplained"
UNPARSABLE_OUTPUT = "unparsable_output"

#: The extraction status of a parsed output (``extraction.models.ExtractionStatus.OK``).
PARSED = "ok"


@dataclass(frozen=True)
class ReviewFacts:
    """What the checks read of one review and of the output it judges."""

    verdict: str
    corrected_labels: Sequence[str] | None
    comment: str
    machine_labels: Sequence[str]
    output_status: str = PARSED
    machine_level: int | None = None
    reviewer_level: int | None = None


@dataclass(frozen=True)
class Flag:
    rule: str
    reason: str


def label_key(labels: Sequence[str] | None) -> tuple[str, ...] | None:
    """Labels compared as a set, ignoring case, surrounding blanks and empty entries; None stays None."""
    if labels is None:
        return None
    return tuple(sorted({str(label).strip().lower() for label in labels if str(label).strip()}))


def _shown(labels: Sequence[str] | None) -> str:
    return ", ".join(str(label) for label in labels) if labels else "none"


def labels_changed(facts: ReviewFacts) -> bool:
    """True when the review's labels (or subjectivity level) differ from the model's output."""
    corrected = label_key(facts.corrected_labels)
    if corrected is not None and corrected != label_key(facts.machine_labels):
        return True
    both_levels = facts.machine_level is not None and facts.reviewer_level is not None
    return both_levels and facts.machine_level != facts.reviewer_level


def review_flags(facts: ReviewFacts) -> list[Flag]:
    """The flags one review earns (empty when it is consistent); each says why in one line."""
    flags = []
    if facts.output_status != PARSED:
        flags.append(
            Flag(UNPARSABLE_OUTPUT, f"the model's output could not be parsed ({facts.output_status}); judged anyway")
        )
    changed = labels_changed(facts)
    if facts.verdict == "correct" and changed:
        if label_key(facts.corrected_labels) != label_key(facts.machine_labels) and facts.corrected_labels is not None:
            what = f"labels {_shown(facts.machine_labels)} -> {_shown(facts.corrected_labels)}"
        else:
            what = f"level {facts.machine_level} -> {facts.reviewer_level}"
        flags.append(Flag(CORRECT_BUT_CHANGED, f"says correct but changes the output ({what})"))
    if facts.verdict == "incorrect" and not changed and not facts.comment.strip():
        flags.append(Flag(INCORRECT_UNEXPLAINED, "says incorrect with neither a correction nor a comment"))
    return flags
