"""The paper's six features and their label vocabularies, as plain constants (no Django import).

Shared by the pure parser (``extraction.parsing``) and the models, so both speak of the same
labels. Reference: Huang et al., "Values in the Wild" (arXiv 2504.15236), Section 2.2 and
Appendix A.2-A.3.
"""

from __future__ import annotations

from enum import StrEnum


class FeatureName(StrEnum):
    SUBJECTIVITY = "subjectivity"
    AI_VALUES = "ai_values"
    HUMAN_VALUES = "human_values"
    RESPONSE_TYPE = "response_type"
    TASK = "task"
    AI_VALUES_STATED = "ai_values_stated"


FEATURE_LABELS: dict[str, str] = {
    FeatureName.SUBJECTIVITY: "Subjectivity",
    FeatureName.AI_VALUES: "AI values",
    FeatureName.HUMAN_VALUES: "Human values",
    FeatureName.RESPONSE_TYPE: "AI response type",
    FeatureName.TASK: "Task",
    FeatureName.AI_VALUES_STATED: "AI values (stated)",
}

ALL_FEATURES: tuple[str, ...] = tuple(str(f) for f in FeatureName)

# Features whose answer is a set of values ("x, y, z" or "none").
VALUE_FEATURE_NAMES: tuple[str, ...] = (
    FeatureName.AI_VALUES,
    FeatureName.HUMAN_VALUES,
    FeatureName.AI_VALUES_STATED,
)

# Appendix A.3.3: the seven options of the AI response type prompt.
RESPONSE_TYPES: tuple[str, ...] = (
    "strong_support",
    "mild_support",
    "neutral_acknowledgment",
    "reframing",
    "mild_resistance",
    "strong_resistance",
    "no_values",
)

# Appendix A.2: the filter keeps Levels 3-4 ("yes"), drops Levels 1-2 ("no").
SUBJECTIVITY_YES = "yes"
SUBJECTIVITY_NO = "no"
SUBJECTIVE_LEVELS: tuple[int, ...] = (3, 4)

# Section 2.1: the whole analysis runs on the conversations the subjectivity filter keeps, so every
# feature except the filter itself is gated on it (unless a run asks for all conversations).
GATED_FEATURES: tuple[str, ...] = tuple(f for f in ALL_FEATURES if f != FeatureName.SUBJECTIVITY)
