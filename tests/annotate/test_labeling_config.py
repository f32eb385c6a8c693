"""Labeling configs, tasks and the reading of results back."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from annotate import instructions
from annotate import labeling_config as lc
from extraction.models import RESPONSE_TYPES

FEATURES = ["subjectivity", "ai_values", "human_values", "response_type", "task"]
TAXONOMY: lc.Taxonomy = {"Practical values": {"Efficiency": ["efficiency", "speed"]}, "Epistemic values": ["honesty"]}


def _controls(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    return {el.attrib["name"]: el for el in root.iter() if "name" in el.attrib}


def test_config_has_dialogue_and_per_feature_verdict_reasoning_check_correction_and_comment() -> None:
    controls = _controls(lc.labeling_config_build(FEATURES))
    dialogue = controls["dialogue"]
    assert (dialogue.tag, dialogue.attrib["value"], dialogue.attrib["inline"]) == (
        "HyperText",
        "$dialogue_html",
        "true",
    )
    assert not any(el.tag == "Paragraphs" for el in ET.fromstring(lc.labeling_config_build(FEATURES)).iter()), (
        "Paragraphs shows a 00:00:00 timestamp and a region widget on every turn"
    )
    for feature in FEATURES:
        verdict = controls[f"{feature}_verdict"]
        assert [c.attrib["value"] for c in verdict] == ["correct", "incorrect"]
        assert [c.attrib["value"] for c in controls[f"{feature}_reasoning_check"]] == list(lc.REASONING_CHECKS)
        assert controls[f"{feature}_comment"].tag == "TextArea"
        assert controls[f"{feature}_output_text"].attrib["value"] == f"${feature}_output"
    assert [c.attrib["value"] for c in controls["response_type_labels"]] == list(RESPONSE_TYPES)
    assert len(controls["response_type_labels"]) == 7
    assert [c.attrib["value"] for c in controls["subjectivity_labels"]] == list(lc.SUBJECTIVITY_LEVELS.values())
    assert controls["ai_values_labels"].tag == "TextArea"


def test_values_are_picked_from_the_taxonomy_when_one_exists() -> None:
    controls = _controls(lc.labeling_config_build(["ai_values", "task"], taxonomy=TAXONOMY))
    assert controls["ai_values_labels"].tag == "Taxonomy"
    leaves = [c.attrib["value"] for c in controls["ai_values_labels"].iter("Choice") if len(c) == 0]
    assert leaves == ["efficiency", "speed", "honesty"]
    assert controls["task_labels"].tag == "TextArea", "the task is not a value: no taxonomy"


def test_unknown_feature_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"unknown feature\(s\) \['politeness'\]"):
        lc.labeling_config_build(["ai_values", "politeness"])
    with pytest.raises(ValueError, match="at least one feature"):
        lc.labeling_config_build([])


def test_task_carries_item_id_dialogue_outputs_and_a_prediction_with_the_prompt_version() -> None:
    outputs = [
        lc.FeatureOutput("ai_values", ["honesty", "speed"], "the assistant insists on accuracy"),
        lc.FeatureOutput("response_type", ["mild_support"], "supportive"),
        lc.FeatureOutput("subjectivity", ["yes"], "personal choice"),
    ]
    task = lc.task_build(
        item_id=7,
        sample_id=2,
        conversation_external_id="sample-001",
        messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
        outputs=outputs,
        features=FEATURES,
        version="paper-v1@abc",
        taxonomy=TAXONOMY,
    )
    data = task["data"]
    assert data["item_id"] == 7
    assert data["first_turn"] == "Hi"
    assert "<b>Human</b>" in data["dialogue_html"]
    assert "<b>Assistant</b>" in data["dialogue_html"]
    assert data["ai_values_output"] == "honesty, speed"
    assert data["ai_values_reasoning"] == "the assistant insists on accuracy"
    assert data["human_values_output"] == "(no output)"
    assert data["subjectivity_output"].startswith("yes (levels 3-4")
    (prediction,) = task["predictions"]
    assert prediction["model_version"] == "paper-v1@abc"
    by_name = {r["from_name"]: r["value"] for r in prediction["result"]}
    assert by_name["ai_values_labels"] == {
        "taxonomy": [["Epistemic values", "honesty"], ["Practical values", "Efficiency", "speed"]]
    }
    assert by_name["response_type_labels"] == {"choices": ["mild_support"]}
    assert by_name["subjectivity_labels"] == {
        "choices": ["Level 3 - mostly subjective", "Level 4 - purely subjective"]
    }, "a yes answer selects both levels of its side; the reviewer keeps the exact one"


def test_model_version_names_the_prompt_versions() -> None:
    a = lc.model_version({"ai_values": "h1", "task": "h2"}, "paper-v1")
    assert a == lc.model_version({"task": "h2", "ai_values": "h1"}, "paper-v1")
    assert a != lc.model_version({"ai_values": "h1", "task": "h3"}, "paper-v1")
    assert a.startswith("paper-v1@")


@pytest.mark.parametrize("taxonomy", [None, TAXONOMY])
def test_reviews_round_trip_through_a_result(taxonomy: lc.Taxonomy | None) -> None:
    reviews = [
        lc.FeatureReview(feature="subjectivity", verdict="incorrect", subjectivity_level=2, comment="factual"),
        lc.FeatureReview(feature="ai_values", verdict="correct", reasoning_check="sound", labels=["honesty"]),
        lc.FeatureReview(
            feature="response_type", verdict="incorrect", reasoning_check="under_inferring", labels=["reframing"]
        ),
        lc.FeatureReview(feature="task", verdict="correct", labels=["plan a trip", "compare cities"]),
    ]
    result = [region for r in reviews for region in lc.review_result(r, taxonomy=taxonomy)]
    parsed = {r.feature: r for r in lc.annotation_parse(result, FEATURES)}
    assert set(parsed) == {"subjectivity", "ai_values", "response_type", "task"}, "untouched features are left out"
    assert parsed["subjectivity"].labels == ["no"]
    assert parsed["subjectivity"].subjectivity_level == 2
    assert parsed["subjectivity"].comment == "factual"
    assert parsed["ai_values"].labels == ["honesty"]
    response_type = parsed["response_type"]
    assert (response_type.verdict, response_type.reasoning_check) == ("incorrect", "under_inferring")
    assert parsed["task"].labels == ["plan a trip", "compare cities"]


def test_malformed_results_are_refused_with_the_control_name() -> None:
    with pytest.raises(ValueError, match="ai_values_verdict: 'maybe' is not one of"):
        lc.annotation_parse(
            [{"from_name": "ai_values_verdict", "to_name": "dialogue", "value": {"choices": ["maybe"]}}], FEATURES
        )
    with pytest.raises(ValueError, match="without from_name/value"):
        lc.annotation_parse([{"to_name": "dialogue"}], FEATURES)


def _prediction(outputs: list[lc.FeatureOutput], features: list[str]) -> list[dict[str, Any]]:
    task = lc.task_build(
        item_id=1,
        sample_id=1,
        conversation_external_id="c",
        messages=[{"role": "user", "content": "Hi"}],
        outputs=outputs,
        features=features,
        version="v",
    )
    return list(task["predictions"][0]["result"])


@pytest.mark.parametrize(
    ("output", "levels"),
    [
        (["yes"], [3, 4]),
        (["no"], [1, 2]),
        (["Yes"], [3, 4]),
        (["3"], [3]),
        (["level 1"], [1]),
        ([], []),
        (["maybe"], []),
    ],
)
def test_subjectivity_output_preselects_the_levels_it_stands_for(output: list[str], levels: list[int]) -> None:
    result = _prediction([lc.FeatureOutput("subjectivity", output)], ["subjectivity"])
    chosen = [c for region in result for c in region["value"]["choices"]]
    assert chosen == [lc.SUBJECTIVITY_LEVELS[level] for level in levels]


def test_every_feature_prefill_reads_back_as_the_models_output() -> None:
    """Accepting the pre-filled form changes nothing: what intake reads equals what the model said."""
    outputs = [
        lc.FeatureOutput("ai_values", ["honesty", "speed"]),
        lc.FeatureOutput("human_values", ["family bonds"]),
        lc.FeatureOutput("ai_values_stated", ["transparency"]),
        lc.FeatureOutput("response_type", ["reframing"]),
        lc.FeatureOutput("subjectivity", ["no"]),
        lc.FeatureOutput("task", ["plan a reunion"]),
    ]
    features = [o.feature for o in outputs]
    accepted = [*lc.accept_all_result(), *_prediction(outputs, features)]
    reviews = {r.feature: r for r in lc.annotation_parse(accepted, features)}
    for output in outputs:
        assert reviews[output.feature].labels == list(output.labels), output.feature
        assert (reviews[output.feature].verdict, reviews[output.feature].reasoning_check) == ("correct", "sound")
        assert reviews[output.feature].accepted_all
    assert reviews["subjectivity"].subjectivity_level is None, "two levels kept: the side, not the level"


def test_accept_all_fills_only_what_the_reviewer_left_open() -> None:
    result = [
        *lc.accept_all_result(),
        *lc.review_result(lc.FeatureReview(feature="response_type", verdict="incorrect", labels=["mild_support"])),
    ]
    reviews = {r.feature: r for r in lc.annotation_parse(result, ["ai_values", "response_type"])}
    assert (reviews["ai_values"].verdict, reviews["ai_values"].reasoning_check) == ("correct", "sound")
    assert reviews["ai_values"].labels is None, "no output to pre-fill, nothing to read"
    assert (reviews["response_type"].verdict, reviews["response_type"].reasoning_check) == ("incorrect", "sound")
    assert not reviews["response_type"].accepted_all


def test_label_studio_origin_tells_prefilled_from_edited() -> None:
    def region(origin: str) -> dict[str, Any]:
        return {
            "from_name": "task_labels",
            "to_name": "dialogue",
            "type": "textarea",
            "origin": origin,
            "value": {"text": ["plan"]},
        }

    def edited(origin: str) -> bool | None:
        (review,) = lc.annotation_parse([region(origin)], ["task"])
        return review.labels_edited

    assert edited("prediction") is False
    assert edited("prediction-changed") is True
    assert edited("manual") is True


def test_subjectivity_levels_on_both_sides_are_refused() -> None:
    result = [
        {
            "from_name": "subjectivity_labels",
            "to_name": "dialogue",
            "type": "choices",
            "value": {"choices": [lc.SUBJECTIVITY_LEVELS[2], lc.SUBJECTIVITY_LEVELS[3]]},
        }
    ]
    with pytest.raises(ValueError, match=r"levels \[2, 3\] are on both sides"):
        lc.annotation_parse(result, ["subjectivity"])


def test_every_verdict_and_reasoning_check_has_its_own_single_key() -> None:
    root = ET.fromstring(lc.labeling_config_build([*list(FEATURES), "ai_values_stated"]))
    keys = [el.attrib["hotkey"] for el in root.iter("Choice") if "hotkey" in el.attrib]
    assert len(keys) == 1 + 6 * (2 + 3), "accept-all, and per feature two verdicts and three reasoning checks"
    assert len(set(keys)) == len(keys), "no key does two things"
    assert all(len(k) == 1 for k in keys), "single keys, no modifiers"
    assert "u" not in keys, "Label Studio's own key"
    accept = next(el for el in root.iter("Choice") if el.attrib.get("hotkey") == lc.ACCEPT_ALL_KEY)
    assert accept.attrib["value"] == lc.ACCEPT_ALL_CHOICE
    documented = {key for key, _ in lc.hotkeys([*list(FEATURES), "ai_values_stated"])}
    assert set(keys) <= documented, "the instruction dialog lists every key"


def test_protocol_sections_appear_above_their_feature_and_in_the_dialog() -> None:
    protocol = instructions.review_protocol_read(known_features=[*FEATURES, "ai_values_stated"])
    assert set(protocol.sections) == set(FEATURES) | {"ai_values_stated"}, "the file has a section per feature"
    controls = _controls(lc.labeling_config_build(FEATURES, guides=lc.feature_guides(protocol)))
    guide = controls["human_values_protocol"]
    assert guide.tag == "HyperText"
    assert "explicitly" in guide.attrib["value"]
    dialog = lc.instructions_build(protocol, FEATURES)
    assert "over-inferring" in dialog
    assert "<kbd>a</kbd>" in dialog
    assert "Ctrl+Enter" in dialog


@pytest.mark.parametrize(
    ("feature", "model", "review", "edited"),
    [
        ("ai_values", ["honesty", "care"], lc.FeatureReview("ai_values", labels=["Care", " honesty"]), False),
        ("ai_values", ["honesty"], lc.FeatureReview("ai_values", labels=["honesty", "care"]), True),
        ("ai_values", ["honesty"], lc.FeatureReview("ai_values", verdict="correct"), None),
        ("response_type", ["mild_support"], lc.FeatureReview("response_type", labels=["reframing"]), True),
        ("subjectivity", ["yes"], lc.FeatureReview("subjectivity", labels=["yes"], subjectivity_level=4), False),
        ("subjectivity", ["yes"], lc.FeatureReview("subjectivity", labels=["no"], subjectivity_level=2), True),
        ("subjectivity", ["3"], lc.FeatureReview("subjectivity", labels=["yes"], subjectivity_level=4), True),
        ("subjectivity", ["no"], lc.FeatureReview("subjectivity", labels=["no"]), False),
    ],
)
def test_an_edit_is_a_correction_that_says_something_else_than_the_model(
    feature: str, model: list[str], review: lc.FeatureReview, edited: bool | None
) -> None:
    assert lc.labels_edited(feature, model, review) is edited
