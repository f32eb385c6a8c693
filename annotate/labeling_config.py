"""Label Studio labeling configs, tasks and predictions generated from the features of a prompt set.

The reviewer sees the conversation as a dialogue, speaker by speaker (escaped HTML, see ``instructions``), and
for each feature the protocol's section, the model's output and its reasoning. Following the paper's protocol
(Appendix A.4) they answer two questions per feature: would they have come up with these values
(``<feature>_verdict``: correct / incorrect), and does the reasoning make sense or does it over- or under-infer
(``<feature>_reasoning_check``). Then they correct the output in ``<feature>_labels`` (pre-filled from the
model's prediction): the response type as one of the seven labels, subjectivity as its level (a yes/no output
selects both levels of its side), values and the task as an editable list (one per line, or picked from the
value taxonomy when one exists), plus ``<feature>_comment``.

The fast path: one key (``accept_all``) says every output is correct with sound reasoning; :func:`annotation_parse`
expands it into a verdict per feature. Every verdict and reasoning check has a single-key hotkey
(:func:`hotkeys`); Label Studio's own Ctrl+Enter submits and opens the next task.

Names are stable: :func:`annotation_parse` reads a result back by the same names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import quoteattr

from annotate import instructions
from extraction.features import (
    ALL_FEATURES,
    FEATURE_LABELS,
    RESPONSE_TYPES,
    SUBJECTIVE_LEVELS,
    SUBJECTIVITY_NO,
    SUBJECTIVITY_YES,
    VALUE_FEATURE_NAMES,
    FeatureName,
)

DIALOGUE = "dialogue"
DIALOGUE_HTML = "dialogue_html"
FIRST_TURN = "first_turn"
#: The task data shown as columns of a project's task list (Label Studio's data manager).
TASK_LIST_DATA = (FIRST_TURN, "conversation")
ACCEPT_ALL = "accept_all"
ACCEPT_ALL_CHOICE = "All correct, reasoning sound"
ACCEPT_ALL_KEY = "a"
# One column of keys per feature (in the config's order): digits say correct, the row below incorrect, and the
# rows under it the reasoning checks. "u" is Label Studio's own key (unselect), so it is not used.
VERDICT_KEYS = {"correct": "123456", "incorrect": "qwerty"}
REASONING_KEYS = {"sound": "zxcvbn", "over_inferring": "sdfghj", "under_inferring": "iopklm"}
MAX_HOTKEY_FEATURES = 6
VERDICTS = ("correct", "incorrect")
REASONING_CHECKS = ("sound", "over_inferring", "under_inferring")
SUBJECTIVITY_LEVELS = {
    1: "Level 1 - purely objective",
    2: "Level 2 - mostly objective",
    3: "Level 3 - mostly subjective",
    4: "Level 4 - purely subjective",
}
RESPONSE_TYPE_HINTS = {
    "strong_support": "Strong support",
    "mild_support": "Mild support",
    "neutral_acknowledgment": "Neutral acknowledgment",
    "reframing": "Reframing",
    "mild_resistance": "Mild resistance",
    "strong_resistance": "Strong resistance",
    "no_values": "No values",
}

#: A value taxonomy as nested categories: {"Practical values": {"Efficiency": ["speed", ...]}} or
#: {"Practical values": ["efficiency", ...]}. Leaves are the values a reviewer can pick.
Taxonomy = Mapping[str, "Taxonomy | Sequence[str]"]


@dataclass(frozen=True)
class FeatureOutput:
    """One feature's machine output for one conversation, as shown to the reviewer."""

    feature: str
    labels: Sequence[str]
    reasoning: str = ""
    extraction_id: int | None = None


@dataclass(frozen=True)
class FeatureReview:
    """One feature of one Label Studio annotation, read back from its result."""

    feature: str
    verdict: str = ""
    reasoning_check: str = ""
    labels: list[str] | None = None
    subjectivity_level: int | None = None
    comment: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    #: The review came from the accept-all key (no verdict of its own for this feature).
    accepted_all: bool = False
    #: Label Studio's origin of the correction: False while it is the untouched prediction, True once edited.
    labels_edited: bool | None = None


def control_names(feature: str) -> dict[str, str]:
    return {
        "verdict": f"{feature}_verdict",
        "reasoning_check": f"{feature}_reasoning_check",
        "labels": f"{feature}_labels",
        "comment": f"{feature}_comment",
    }


def _label_kind(feature: str, taxonomy: Taxonomy | None) -> str:
    if feature == FeatureName.RESPONSE_TYPE:
        return "choices"
    if feature == FeatureName.SUBJECTIVITY:
        return "choices"
    if feature in VALUE_FEATURE_NAMES and taxonomy:
        return "taxonomy"
    return "textarea"


def _taxonomy_xml(node: Taxonomy | Sequence[str], depth: int) -> str:
    pad = "  " * depth
    if isinstance(node, Mapping):
        return "\n".join(
            f"{pad}<Choice value={quoteattr(str(name))}>\n{_taxonomy_xml(child, depth + 1)}\n{pad}</Choice>"
            for name, child in node.items()
        )
    return "\n".join(f"{pad}<Choice value={quoteattr(str(leaf))}/>" for leaf in node)


def _feature_label(feature: str) -> str:
    if feature in FEATURE_LABELS:
        return FEATURE_LABELS[feature]
    return feature.replace("_", " ").capitalize()


def hotkeys(features: Sequence[str]) -> list[tuple[str, str]]:
    """Every key of the form and what it does, for the instruction dialog (submit is Label Studio's own)."""
    keys = [(ACCEPT_ALL_KEY, ACCEPT_ALL_CHOICE)]
    for column, feature in enumerate(features[:MAX_HOTKEY_FEATURES]):
        label = _feature_label(feature)
        keys += [(row[column], f"{label}: {verdict}") for verdict, row in VERDICT_KEYS.items()]
        keys += [
            (row[column], f"{label}: reasoning {check.replace('_', '-')}") for check, row in REASONING_KEYS.items()
        ]
    keys.append(("Ctrl+Enter / Cmd+Enter", "Submit and open the next task"))
    return keys


def _hotkey(keys: Mapping[str, str], value: str, column: int) -> str:
    return f' hotkey="{keys[value][column]}"' if column < MAX_HOTKEY_FEATURES else ""


def _correction_xml(feature: str, name: str, taxonomy: Taxonomy | None) -> list[str]:
    if feature == FeatureName.RESPONSE_TYPE:
        return [
            f'    <Choices name="{name}" toName="{DIALOGUE}" choice="single-radio">',
            *(f'      <Choice value="{r}" hint="{RESPONSE_TYPE_HINTS[r]}"/>' for r in RESPONSE_TYPES),
            "    </Choices>",
        ]
    if feature == FeatureName.SUBJECTIVITY:
        # Multiple: a yes/no output pre-selects both levels of its side, and the reviewer keeps the exact one.
        return [
            f'    <Choices name="{name}" toName="{DIALOGUE}" choice="multiple" showInline="true">',
            *(f'      <Choice value="{label}"/>' for label in SUBJECTIVITY_LEVELS.values()),
            "    </Choices>",
        ]
    if _label_kind(feature, taxonomy) == "taxonomy":
        assert taxonomy is not None
        return [
            f'    <Taxonomy name="{name}" toName="{DIALOGUE}" leafsOnly="true" showFullPath="false" userLabels="true">',
            _taxonomy_xml(taxonomy, 3),
            "    </Taxonomy>",
        ]
    return [f'    <TextArea name="{name}" toName="{DIALOGUE}" editable="true" placeholder="One per line" rows="2"/>']


def _feature_xml(feature: str, column: int, taxonomy: Taxonomy | None, guide: str) -> list[str]:
    names = control_names(feature)
    parts = [
        '  <View style="border-top: 1px solid #ddd; margin-top: 1em; padding-top: 0.5em">',
        f"    <Header value={quoteattr(_feature_label(feature))}/>",
    ]
    if guide:
        parts.append(
            f'    <View style="color: #555; font-size: 13px"><HyperText name="{feature}_protocol" inline="true" '
            f"value={quoteattr(guide)}/></View>"
        )
    parts += [
        '    <Header size="6" value="The model\'s output"/>',
        f'    <Text name="{feature}_output_text" value="${feature}_output"/>',
        f'    <Collapse><Panel value="Model reasoning"><Text name="{feature}_reasoning_text" '
        f'value="${feature}_reasoning"/></Panel></Collapse>',
        '    <Header size="6" value="Would you have come up with this? (correct / incorrect)"/>',
        f'    <Choices name="{names["verdict"]}" toName="{DIALOGUE}" choice="single-radio" showInline="true">',
        *(f'      <Choice value="{v}"{_hotkey(VERDICT_KEYS, v, column)}/>' for v in VERDICTS),
        "    </Choices>",
        '    <Header size="6" value="Is the reasoning sound, or over- / under-inferring?"/>',
        f'    <Choices name="{names["reasoning_check"]}" toName="{DIALOGUE}" choice="single-radio" showInline="true">',
        *(f'      <Choice value="{v}"{_hotkey(REASONING_KEYS, v, column)}/>' for v in REASONING_CHECKS),
        "    </Choices>",
        '    <Header size="6" value="Correction (pre-filled with the model\'s output)"/>',
        *_correction_xml(feature, names["labels"], taxonomy),
        f'    <TextArea name="{names["comment"]}" toName="{DIALOGUE}" editable="true" '
        'placeholder="Comment (optional)" maxSubmissions="1" rows="2"/>',
        "  </View>",
    ]
    return parts


def labeling_config_build(
    features: Iterable[str], *, taxonomy: Taxonomy | None = None, guides: Mapping[str, str] | None = None
) -> str:
    """The ``<View>`` XML for reviewing ``features`` (in the given order).

    ``guides`` maps a feature to the HTML shown above its questions (its section of the review protocol).
    Raises ``ValueError`` for an unknown feature or when no feature is given.
    """
    features = list(features)
    if not features:
        raise ValueError("a labeling config needs at least one feature")
    known = set(ALL_FEATURES)
    unknown = [f for f in features if f not in known]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; known: {sorted(known)}")
    parts = [
        "<View>",
        '  <Header value="Conversation"/>',
        f'  <HyperText name="{DIALOGUE}" value="${DIALOGUE_HTML}" inline="true"/>',
        '  <View style="margin-top: 1em; padding: 0.5em; background: #eef7ee; border-radius: 4px">',
        f'    <Choices name="{ACCEPT_ALL}" toName="{DIALOGUE}" choice="single">',
        f'      <Choice value="{ACCEPT_ALL_CHOICE}" hotkey="{ACCEPT_ALL_KEY}" '
        'hint="Every output correct, every reasoning sound; then Ctrl+Enter"/>',
        "    </Choices>",
        "  </View>",
    ]
    for column, feature in enumerate(features):
        parts += _feature_xml(feature, column, taxonomy, (guides or {}).get(feature, ""))
    parts.append("</View>")
    return "\n".join(parts)


def feature_guides(protocol: instructions.ReviewProtocol) -> dict[str, str]:
    """Each feature's protocol section as the HTML shown above its questions."""
    return {feature: instructions.markdown_html(text) for feature, text in protocol.sections.items()}


def instructions_build(protocol: instructions.ReviewProtocol, features: Sequence[str]) -> str:
    """The project's instruction dialog: the protocol for ``features`` and the keys of the form."""
    labels = {f: _feature_label(f) for f in features}
    return instructions.instructions_html(protocol, features=features, labels=labels, keys=hotkeys(features))


def _level_of(labels: Sequence[str]) -> int | None:
    for label in labels:
        match = re.fullmatch(r"\s*(?:level\s*)?([1-4])\s*", str(label), re.I)
        if match:
            return int(match.group(1))
    return None


def _levels_of(labels: Sequence[str]) -> tuple[int, ...]:
    """The subjectivity levels an output stands for: its exact level, or both levels of its yes/no side."""
    level = _level_of(labels)
    if level is not None:
        return (level,)
    side = str(labels[0]).strip().lower() if labels else ""
    if side == SUBJECTIVITY_YES:
        return SUBJECTIVE_LEVELS
    if side == SUBJECTIVITY_NO:
        return tuple(k for k in SUBJECTIVITY_LEVELS if k not in SUBJECTIVE_LEVELS)
    return ()


def _shown(output: FeatureOutput) -> str:
    if output.feature == FeatureName.SUBJECTIVITY:
        level = _level_of(output.labels)
        if level is not None:
            return SUBJECTIVITY_LEVELS[level]
        if output.labels:
            answer = output.labels[0]
            return f"{answer} ({'levels 3-4, subjective' if answer == 'yes' else 'levels 1-2, objective'})"
    return ", ".join(output.labels) if output.labels else "none"


def _taxonomy_paths(taxonomy: Taxonomy | Sequence[str], prefix: tuple[str, ...] = ()) -> dict[str, list[str]]:
    paths: dict[str, list[str]] = {}
    if isinstance(taxonomy, Mapping):
        for name, child in taxonomy.items():
            paths.update(_taxonomy_paths(child, (*prefix, str(name))))
    else:
        for leaf in taxonomy:
            paths.setdefault(str(leaf).lower(), [*prefix, str(leaf)])
    return paths


def prediction_result(outputs: Iterable[FeatureOutput], *, taxonomy: Taxonomy | None = None) -> list[dict[str, Any]]:
    """The model's outputs as a pre-filled correction (a Label Studio prediction ``result``)."""
    paths = _taxonomy_paths(taxonomy) if taxonomy else {}
    result: list[dict[str, Any]] = []
    for output in outputs:
        name = control_names(output.feature)["labels"]
        kind = _label_kind(output.feature, taxonomy)
        value: dict[str, Any] | None
        if output.feature == FeatureName.SUBJECTIVITY:
            levels = _levels_of(output.labels)
            value = {"choices": [SUBJECTIVITY_LEVELS[level] for level in levels]} if levels else None
            kind = "choices"
        elif output.feature == FeatureName.RESPONSE_TYPE:
            value = {"choices": list(output.labels[:1])} if output.labels else None
        elif kind == "taxonomy":
            value = {"taxonomy": [paths.get(label.lower(), [label]) for label in output.labels]}
        else:
            value = {"text": list(output.labels)} if output.labels else None
        if value is not None:
            result.append({"from_name": name, "to_name": DIALOGUE, "type": kind, "value": value})
    return result


def model_version(prompt_versions: Mapping[str, str], prompt_set: str) -> str:
    """``<prompt set>@<digest>``: names the exact prompt versions (feature -> content hash) behind a prediction."""
    digest = hashlib.sha256("\n".join(f"{f}={h}" for f, h in sorted(prompt_versions.items())).encode()).hexdigest()[:12]
    return f"{prompt_set}@{digest}"


def task_build(
    *,
    item_id: int,
    sample_id: int,
    conversation_external_id: str,
    messages: Iterable[Mapping[str, str]],
    outputs: Sequence[FeatureOutput],
    features: Sequence[str],
    version: str,
    taxonomy: Taxonomy | None = None,
) -> dict[str, Any]:
    """One Label Studio task: the data every control refers to, the ids to map it back, and the prediction."""
    by_feature = {o.feature: o for o in outputs}
    messages = list(messages)
    data: dict[str, Any] = {
        "item_id": item_id,
        "sample_id": sample_id,
        "conversation": conversation_external_id,
        FIRST_TURN: instructions.first_turn(messages),
        DIALOGUE_HTML: instructions.dialogue_html(messages),
    }
    for feature in features:
        output = by_feature.get(feature)
        data[f"{feature}_output"] = _shown(output) if output else "(no output)"
        data[f"{feature}_reasoning"] = (output.reasoning if output else "") or "(none)"
    return {
        "data": data,
        "predictions": [
            {
                "model_version": version,
                "result": prediction_result([by_feature[f] for f in features if f in by_feature], taxonomy=taxonomy),
            }
        ],
    }


def annotation_parse(result: Iterable[Mapping[str, Any]], features: Iterable[str]) -> list[FeatureReview]:
    """Read a Label Studio annotation ``result`` back into one :class:`FeatureReview` per reviewed feature.

    The accept-all choice makes every feature a review: a feature without a verdict of its own is correct
    with sound reasoning, its correction whatever the form held (the pre-filled prediction). Without it, a
    feature the reviewer did not touch at all is left out. Raises ``ValueError`` on a malformed region.
    """
    by_name: dict[str, Mapping[str, Any]] = {}
    origins: dict[str, str] = {}
    for region in result:
        name = region.get("from_name")
        value = region.get("value")
        if not isinstance(name, str) or not isinstance(value, Mapping):
            raise ValueError(f"result region without from_name/value: {dict(region)!r}")
        by_name[name] = value
        origins[name] = str(region.get("origin") or "")
    accepted = _single_choice(by_name.get(ACCEPT_ALL), (ACCEPT_ALL_CHOICE,), ACCEPT_ALL) == ACCEPT_ALL_CHOICE
    reviews = []
    for feature in features:
        names = control_names(feature)
        if not accepted and not any(n in by_name for n in names.values()):
            continue
        reviews.append(_feature_review(feature, by_name, origins.get(names["labels"], ""), accepted=accepted))
    return reviews


def _feature_review(
    feature: str, by_name: Mapping[str, Mapping[str, Any]], origin: str, *, accepted: bool
) -> FeatureReview:
    names = control_names(feature)
    verdict = _single_choice(by_name.get(names["verdict"]), VERDICTS, names["verdict"])
    check = _single_choice(by_name.get(names["reasoning_check"]), REASONING_CHECKS, names["reasoning_check"])
    comment = "\n".join(_texts(by_name.get(names["comment"]))).strip()
    labels: list[str] | None = None
    level: int | None = None
    raw = by_name.get(names["labels"])
    if raw is not None:
        if feature == FeatureName.SUBJECTIVITY:
            labels, level = _subjectivity(raw, names["labels"])
        elif feature == FeatureName.RESPONSE_TYPE:
            choice = _single_choice(raw, RESPONSE_TYPES, names["labels"])
            labels = [choice] if choice else None
        elif "taxonomy" in raw:
            labels = [str(path[-1]) for path in raw["taxonomy"] if path]
        else:
            labels = [line.strip() for text in _texts(raw) for line in text.splitlines() if line.strip()]
    return FeatureReview(
        feature=feature,
        verdict=verdict or ("correct" if accepted else ""),
        reasoning_check=check or ("sound" if accepted else ""),
        labels=labels,
        subjectivity_level=level,
        comment=comment,
        accepted_all=accepted and not verdict,
        labels_edited=(origin != "prediction") if raw is not None and origin else None,
    )


def _subjectivity(raw: Mapping[str, Any], name: str) -> tuple[list[str] | None, int | None]:
    """The side (yes/no) and, when exactly one level is selected, the level."""
    choices = raw.get("choices") or []
    if not isinstance(choices, list):
        raise ValueError(f"{name}: expected a list of choices, got {choices!r}")
    levels = set()
    for choice in choices:
        level = next((k for k, v in SUBJECTIVITY_LEVELS.items() if v == choice), None)
        if level is None:
            raise ValueError(f"{name}: {choice!r} is not one of {list(SUBJECTIVITY_LEVELS.values())}")
        levels.add(level)
    sides = {SUBJECTIVITY_YES if level in SUBJECTIVE_LEVELS else SUBJECTIVITY_NO for level in levels}
    if len(sides) > 1:
        raise ValueError(f"{name}: levels {sorted(levels)} are on both sides of the yes/no divide; keep one")
    return (sorted(sides) or None), (levels.pop() if len(levels) == 1 else None)


def _label_set(labels: Iterable[str]) -> set[str]:
    return {" ".join(str(label).split()).casefold() for label in labels if str(label).strip()}


def labels_edited(feature: str, model_labels: Sequence[str], review: FeatureReview) -> bool | None:
    """Whether the reviewer's correction says something other than the model's output (None: no correction).

    Values and tasks compare as sets (case and spacing aside). For subjectivity, picking the exact level inside
    the side the model gave is not an edit; another side, or another level than the model's own, is.
    """
    if review.labels is None:
        return None
    if feature == FeatureName.SUBJECTIVITY:
        model_levels = set(_levels_of(model_labels))
        if review.subjectivity_level is not None:
            return review.subjectivity_level not in model_levels
        return _label_set(review.labels) != _label_set(
            [SUBJECTIVITY_YES if model_levels <= set(SUBJECTIVE_LEVELS) else SUBJECTIVITY_NO] if model_levels else []
        )
    return _label_set(review.labels) != _label_set(model_labels)


def _texts(value: Mapping[str, Any] | None) -> list[str]:
    if not value:
        return []
    text = value.get("text", [])
    return [text] if isinstance(text, str) else [str(t) for t in text]


def _single_choice(value: Mapping[str, Any] | None, allowed: Sequence[str], name: str) -> str:
    if not value:
        return ""
    choices = value.get("choices") or []
    if not isinstance(choices, list) or len(choices) > 1:
        raise ValueError(f"{name}: expected one choice, got {choices!r}")
    if choices and choices[0] not in allowed:
        raise ValueError(f"{name}: {choices[0]!r} is not one of {list(allowed)}")
    return str(choices[0]) if choices else ""


def accept_all_result() -> list[dict[str, Any]]:
    """The region the accept-all key adds (for creating a fast-path review through the API)."""
    return [
        {"from_name": ACCEPT_ALL, "to_name": DIALOGUE, "type": "choices", "value": {"choices": [ACCEPT_ALL_CHOICE]}}
    ]


def review_result(review: FeatureReview, *, taxonomy: Taxonomy | None = None) -> list[dict[str, Any]]:
    """The inverse of :func:`annotation_parse` for one feature: a result to create an annotation with."""
    names = control_names(review.feature)
    regions: list[dict[str, Any]] = []

    def add(name: str, kind: str, value: dict[str, Any]) -> None:
        regions.append({"from_name": name, "to_name": DIALOGUE, "type": kind, "value": value})

    if review.verdict:
        add(names["verdict"], "choices", {"choices": [review.verdict]})
    if review.reasoning_check:
        add(names["reasoning_check"], "choices", {"choices": [review.reasoning_check]})
    if review.feature == FeatureName.SUBJECTIVITY and review.subjectivity_level is not None:
        add(names["labels"], "choices", {"choices": [SUBJECTIVITY_LEVELS[review.subjectivity_level]]})
    elif review.feature == FeatureName.SUBJECTIVITY and review.labels:
        add(names["labels"], "choices", {"choices": [SUBJECTIVITY_LEVELS[k] for k in _levels_of(review.labels)]})
    elif review.labels is not None:
        if review.feature == FeatureName.RESPONSE_TYPE:
            add(names["labels"], "choices", {"choices": list(review.labels[:1])})
        elif review.feature in VALUE_FEATURE_NAMES and taxonomy:
            paths = _taxonomy_paths(taxonomy)
            add(names["labels"], "taxonomy", {"taxonomy": [paths.get(v.lower(), [v]) for v in review.labels]})
        elif review.feature != FeatureName.SUBJECTIVITY:
            add(names["labels"], "textarea", {"text": list(review.labels)})
    if review.comment:
        add(names["comment"], "textarea", {"text": [review.comment]})
    return regions
