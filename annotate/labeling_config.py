"""Label Studio labeling configs, tasks and predictions generated from the features of a prompt set.

The reviewer sees the conversation as a dialogue, speaker by speaker, and for each feature the model's
output and its reasoning. Following the paper's protocol (Appendix A.4) they answer two questions per
feature: would they have come up with these values (``<feature>_verdict``: correct / incorrect), and
does the reasoning make sense or does it over- or under-infer (``<feature>_reasoning_check``). Then they
correct the output in ``<feature>_labels`` (pre-filled from the model's prediction): the response type
as one of the seven labels, subjectivity as one of the four levels, values and the task as an editable
list (one per line, or picked from the value taxonomy when one exists), plus ``<feature>_comment``.

Names are stable: :func:`annotation_parse` reads a result back by the same names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import quoteattr

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
VERDICTS = ("correct", "incorrect")
REASONING_CHECKS = ("sound", "over_inferring", "under_inferring")
SUBJECTIVITY_LEVELS = {
    1: "Level 1 - purely objective",
    2: "Level 2 - mostly objective",
    3: "Level 3 - mostly subjective",
    4: "Level 4 - purely subjective",
}
SPEAKERS = {"user": "Human", "assistant": "Assistant", "system": "System"}
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


def labeling_config_build(features: Iterable[str], *, taxonomy: Taxonomy | None = None) -> str:
    """The ``<View>`` XML for reviewing ``features`` (in the given order).

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
        f'  <Paragraphs name="{DIALOGUE}" value="${DIALOGUE}" layout="dialogue" nameKey="author" textKey="text"/>',
    ]
    for feature in features:
        names = control_names(feature)
        kind = _label_kind(feature, taxonomy)
        parts += [
            '  <View style="border-top: 1px solid #ddd; margin-top: 1em; padding-top: 0.5em">',
            f"    <Header value={quoteattr(_feature_label(feature))}/>",
            f'    <Text name="{feature}_output_text" value="${feature}_output"/>',
            f'    <Collapse><Panel value="Model reasoning"><Text name="{feature}_reasoning_text" '
            f'value="${feature}_reasoning"/></Panel></Collapse>',
            '    <Header size="6" value="Would you have come up with this? (correct / incorrect)"/>',
            f'    <Choices name="{names["verdict"]}" toName="{DIALOGUE}" choice="single-radio" showInline="true">',
            *(f'      <Choice value="{v}"/>' for v in VERDICTS),
            "    </Choices>",
            '    <Header size="6" value="Is the reasoning sound, or over- / under-inferring?"/>',
            f'    <Choices name="{names["reasoning_check"]}" toName="{DIALOGUE}" choice="single-radio" '
            'showInline="true">',
            *(f'      <Choice value="{v}"/>' for v in REASONING_CHECKS),
            "    </Choices>",
            '    <Header size="6" value="Correction"/>',
        ]
        if feature == FeatureName.RESPONSE_TYPE:
            parts += [
                f'    <Choices name="{names["labels"]}" toName="{DIALOGUE}" choice="single-radio">',
                *(f'      <Choice value="{r}" hint="{RESPONSE_TYPE_HINTS[r]}"/>' for r in RESPONSE_TYPES),
                "    </Choices>",
            ]
        elif feature == FeatureName.SUBJECTIVITY:
            parts += [
                f'    <Choices name="{names["labels"]}" toName="{DIALOGUE}" choice="single-radio">',
                *(f'      <Choice value="{label}"/>' for label in SUBJECTIVITY_LEVELS.values()),
                "    </Choices>",
            ]
        elif kind == "taxonomy":
            assert taxonomy is not None
            parts += [
                f'    <Taxonomy name="{names["labels"]}" toName="{DIALOGUE}" leafsOnly="true" '
                'showFullPath="false" userLabels="true">',
                _taxonomy_xml(taxonomy, 3),
                "    </Taxonomy>",
            ]
        else:
            parts.append(
                f'    <TextArea name="{names["labels"]}" toName="{DIALOGUE}" editable="true" '
                'placeholder="One per line" rows="2"/>'
            )
        parts += [
            f'    <TextArea name="{names["comment"]}" toName="{DIALOGUE}" editable="true" '
            'placeholder="Comment (optional)" maxSubmissions="1" rows="2"/>',
            "  </View>",
        ]
    parts.append("</View>")
    return "\n".join(parts)


def dialogue(messages: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    """The conversation as Label Studio ``Paragraphs`` data: one ``{author, text}`` per message."""
    return [{"author": SPEAKERS.get(m["role"], m["role"]), "text": m["content"]} for m in messages]


def _level_of(labels: Sequence[str]) -> int | None:
    for label in labels:
        match = re.fullmatch(r"\s*(?:level\s*)?([1-4])\s*", str(label), re.I)
        if match:
            return int(match.group(1))
    return None


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
            level = _level_of(output.labels)
            value = {"choices": [SUBJECTIVITY_LEVELS[level]]} if level is not None else None
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
    data: dict[str, Any] = {
        "item_id": item_id,
        "sample_id": sample_id,
        "conversation": conversation_external_id,
        DIALOGUE: dialogue(messages),
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
    """Read a Label Studio annotation ``result`` back into one :class:`FeatureReview` per touched feature.

    A feature the reviewer did not touch at all is left out. Raises ``ValueError`` on a malformed region.
    """
    by_name: dict[str, Mapping[str, Any]] = {}
    for region in result:
        name = region.get("from_name")
        value = region.get("value")
        if not isinstance(name, str) or not isinstance(value, Mapping):
            raise ValueError(f"result region without from_name/value: {dict(region)!r}")
        by_name[name] = value
    reviews = []
    for feature in features:
        names = control_names(feature)
        if not any(n in by_name for n in names.values()):
            continue
        verdict = _single_choice(by_name.get(names["verdict"]), VERDICTS, names["verdict"])
        check = _single_choice(by_name.get(names["reasoning_check"]), REASONING_CHECKS, names["reasoning_check"])
        comment = "\n".join(_texts(by_name.get(names["comment"]))).strip()
        labels: list[str] | None = None
        level: int | None = None
        raw = by_name.get(names["labels"])
        if raw is not None:
            if feature == FeatureName.SUBJECTIVITY:
                choice = _single_choice(raw, tuple(SUBJECTIVITY_LEVELS.values()), names["labels"])
                level = next((k for k, v in SUBJECTIVITY_LEVELS.items() if v == choice), None)
                labels = (
                    [SUBJECTIVITY_YES if level in SUBJECTIVE_LEVELS else SUBJECTIVITY_NO] if level is not None else None
                )
            elif feature == FeatureName.RESPONSE_TYPE:
                choice = _single_choice(raw, RESPONSE_TYPES, names["labels"])
                labels = [choice] if choice else None
            elif "taxonomy" in raw:
                labels = [str(path[-1]) for path in raw["taxonomy"] if path]
            else:
                labels = [line.strip() for text in _texts(raw) for line in text.splitlines() if line.strip()]
        reviews.append(
            FeatureReview(
                feature=feature,
                verdict=verdict,
                reasoning_check=check,
                labels=labels,
                subjectivity_level=level,
                comment=comment,
            )
        )
    return reviews


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
