"""Labeling configs, tasks and the reading of results back."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

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
    assert (dialogue.tag, dialogue.attrib["layout"], dialogue.attrib["nameKey"]) == ("Paragraphs", "dialogue", "author")
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
    assert data["dialogue"] == [{"author": "Human", "text": "Hi"}, {"author": "Assistant", "text": "Hello"}]
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
    assert "subjectivity_labels" not in by_name, "a yes/no answer does not say which of the four levels"


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
