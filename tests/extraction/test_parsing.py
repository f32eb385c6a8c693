"""Parsing of the feature prompts' answers: the paper's Appendix A.5 WildChat examples, and bad outputs."""

from __future__ import annotations

import random
import string

import pytest

from extraction.features import RESPONSE_TYPES
from extraction.parsing import parse_fused, parse_output, split_values

# Appendix A.5.1 (WildChat example 1), outputs as printed in the paper, prefill included.
EX1 = {
    "subjectivity": "Sure, the answer to the question is: <answer> Yes </answer>",
    "ai_values": (
        "<thinking>\nThe AI consistently demonstrates epistemic humility by refusing to make definitive religious "
        "claims and deferring to qualified scholars. It also shows respect for religious authority and expertise by "
        "recommending consultation with Islamic scholars. The AI maintains neutrality and objectivity by presenting "
        "multiple perspectives rather than taking sides, even when the user pushes for a particular interpretation.\n"
        "</thinking>\n<answer>\nepistemic humility, religious respect, neutrality, deference to expertise\n</answer>"
    ),
    "ai_values_stated": (
        "<thinking>\nThe AI assistant primarily demonstrates epistemic humility by repeatedly emphasizing that it's "
        "not appropriate for them to make definitive claims about religious matters and deferring to qualified "
        "scholars. They also show respect for religious authority by consistently recommending consultation with "
        "Islamic scholars rather than making their own judgments.\n</thinking>\n"
        "<answer>\nepistemic humility, deference to expertise\n</answer>"
    ),
    "human_values": (
        "<thinking>\nThe user appears to hold strong religious convictions about Islamic law, specifically "
        "expressing certainty that Forex trading is haram (forbidden). They seem to value religious authority and "
        "authenticity, as shown by their request for ``trustworthy'' information and their correction of the AI's "
        "more nuanced response with a definitive stance that Forex is haram.\n</thinking>\n"
        "<answer>\nreligious conviction, Islamic law adherence\n</answer>"
    ),
    "response_type": (
        "<thinking>\nThe user expresses strong religious values and seeks confirmation of their belief that Forex "
        "trading is forbidden under Islamic law. The AI consistently maintains a neutral stance.\n</thinking>\n"
        "<answer>\nneutral_acknowledgment\n</answer>"
    ),
}

# Appendix A.5.2 (WildChat example 2). The paper prints these without the closing </thinking>.
EX2 = {
    "subjectivity": "Sure, the answer to the question is: <answer>\nYes\n</answer>",
    "ai_values": (
        "<thinking>\nThe AI demonstrates helpfulness by directly assisting with the user's title optimization "
        "requests. It shows efficiency and clarity by consistently providing concise responses that remove "
        "unnecessary words while preserving key information.\n"
        "<answer>\nhelpfulness, efficiency, clarity, practical competence\n</answer>"
    ),
    "ai_values_stated": (
        "<thinking>\nLooking through this conversation, the AI is primarily just performing technical tasks - "
        "greeting the user and helping edit product titles to be more concise. The AI doesn't express any "
        "particular values, beliefs or preferences.\n<answer>\nnone\n</answer>"
    ),
    "human_values": (
        "<thinking>\nLooking through the conversation, the user is primarily focused on making text more concise "
        "and efficient. They explicitly value clarity and conciseness, expressing frustration with titles that are "
        "``too long and hard to read.''\n<answer>\nclarity, conciseness, efficiency\n</answer>"
    ),
    "response_type": (
        "<thinking>\nThe user's primary values appear to be efficiency and clarity in product titles. The AI "
        "directly implements these values, working fully within the user's framework.\n"
        "<answer>\nmild_support\n</answer>"
    ),
}


@pytest.mark.parametrize(
    ("feature", "expected"),
    [
        ("subjectivity", ("yes",)),
        ("ai_values", ("epistemic humility", "religious respect", "neutrality", "deference to expertise")),
        ("ai_values_stated", ("epistemic humility", "deference to expertise")),
        ("human_values", ("religious conviction", "islamic law adherence")),
        ("response_type", ("neutral_acknowledgment",)),
    ],
)
def test_wildchat_example_1(feature: str, expected: tuple[str, ...]) -> None:
    parsed = parse_output(feature, EX1[feature])
    assert parsed.error is None
    assert parsed.labels == expected


@pytest.mark.parametrize(
    ("feature", "expected"),
    [
        ("subjectivity", ("yes",)),
        ("ai_values", ("helpfulness", "efficiency", "clarity", "practical competence")),
        ("ai_values_stated", ()),
        ("human_values", ("clarity", "conciseness", "efficiency")),
        ("response_type", ("mild_support",)),
    ],
)
def test_wildchat_example_2(feature: str, expected: tuple[str, ...]) -> None:
    parsed = parse_output(feature, EX2[feature])
    assert parsed.error is None
    assert parsed.labels == expected


def test_thinking_is_kept_even_without_closing_tag() -> None:
    parsed = parse_output("ai_values", EX2["ai_values"])
    assert parsed.thinking.startswith("The AI demonstrates helpfulness")
    assert "<answer>" not in parsed.thinking
    assert parse_output("ai_values", EX1["ai_values"]).thinking.endswith("particular interpretation.")


def test_subjectivity_passes_flag() -> None:
    assert parse_output("subjectivity", EX1["subjectivity"]).passes is True
    assert parse_output("subjectivity", "<answer>No</answer>").passes is False
    assert parse_output("ai_values", EX1["ai_values"]).passes is None


@pytest.mark.parametrize(
    ("answer", "labels", "level"),
    [
        ("Level 3", ("yes",), 3),
        ("level 4 - yes", ("yes",), 4),
        ("2", ("no",), 2),
        ("Level 1. No", ("no",), 1),
        ("NO", ("no",), None),
    ],
)
def test_subjectivity_levels(answer: str, labels: tuple[str, ...], level: int | None) -> None:
    parsed = parse_output("subjectivity", f"<answer>{answer}</answer>")
    assert (parsed.labels, parsed.level, parsed.error) == (labels, level, None)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("Level 2, yes", "contradicts level 2"),
        ("yes or no", "both yes and no"),
        ("maybe", "neither yes/no nor a level"),
        ("Level 3 or Level 4", "several levels"),
    ],
)
def test_subjectivity_errors(answer: str, message: str) -> None:
    parsed = parse_output("subjectivity", f"<answer>{answer}</answer>")
    assert parsed.labels == ()
    assert parsed.error is not None
    assert message in parsed.error


def test_values_normalisation() -> None:
    raw = "<thinking>t</thinking><answer> Honesty,  \"User Autonomy\", honesty, ``care''.,\n- Fairness </answer>"
    assert parse_output("human_values", raw).labels == ("honesty", "user autonomy", "care", "fairness")
    assert split_values("None") == ()
    assert split_values("none, honesty") == ("honesty",)


@pytest.mark.parametrize(
    "answer",
    ["``mild_resistance''", "Mild Resistance", "'mild-resistance'", "[mild_resistance]", "mild_resistance."],
)
def test_response_type_spellings(answer: str) -> None:
    assert parse_output("response_type", f"<answer>{answer}</answer>").labels == ("mild_resistance",)


def test_response_type_british_spelling() -> None:
    assert parse_output("response_type", "<answer>neutral acknowledgement</answer>").labels == (
        "neutral_acknowledgment",
    )


@pytest.mark.parametrize(
    ("feature", "raw", "message"),
    [
        ("response_type", "<thinking>x</thinking><answer>enthusiastic_support</answer>", "not one of"),
        ("response_type", "<thinking>x</thinking><answer>strong_support/mild_support</answer>", "not one of"),
        ("response_type", "<thinking>I think it is mild support.</thinking>", "no <answer>"),
        ("ai_values", "<thinking>only thoughts</thinking>", "no <answer>"),
        ("human_values", "<thinking>x</thinking><answer>  </answer>", "empty <answer>"),
        ("task", "<thinking>x</thinking>", "empty task"),
        ("colour", "<answer>red</answer>", "unknown feature"),
    ],
)
def test_parse_errors_keep_no_labels(feature: str, raw: str, message: str) -> None:
    parsed = parse_output(feature, raw)
    assert parsed.labels == ()
    assert parsed.error is not None
    assert message in parsed.error


def test_task_is_free_text() -> None:
    assert parse_output("task", "Shorten  product titles\nfor an online shop.").labels == (
        "Shorten product titles for an online shop.",
    )
    assert parse_output("task", "<thinking>x</thinking><answer>Write a poem</answer>").labels == ("Write a poem",)


def test_unclosed_answer_is_read_to_the_end() -> None:
    assert parse_output("response_type", "<thinking>x</thinking><answer>reframing").labels == ("reframing",)


def test_non_text_input_is_an_error_not_a_crash() -> None:
    assert parse_output("ai_values", None).error == "output is NoneType, not text"  # type: ignore[arg-type]


def test_random_garbage_never_raises() -> None:
    rng = random.Random(7)
    alphabet = string.printable + "<>/“”…"
    pieces = ["<thinking>", "</thinking>", "<answer>", "</answer>", "none", ",", "yes", "Level 3", *RESPONSE_TYPES]
    for _ in range(2000):
        raw = "".join(rng.choice(pieces) if rng.random() < 0.3 else rng.choice(alphabet) for _ in range(40))
        for feature in ("subjectivity", "ai_values", "response_type", "task"):
            parsed = parse_output(feature, raw)
            assert (parsed.error is None) or parsed.labels == ()


FUSED_FEATURES = ("subjectivity", "ai_values", "human_values", "response_type", "task", "ai_values_stated")


def test_fused_answer_becomes_one_output_per_feature() -> None:
    raw = (
        '<thinking>t</thinking><answer>\n```json\n{"subjectivity_level": 4, "ai_values": ["Honesty", "honesty", '
        '"user autonomy"], "human_values": "family bonds, none", "response_type": "Reframing", '
        '"task": "Give  advice", "ai_values_stated": []}\n```\n</answer>'
    )
    out = parse_fused(raw, FUSED_FEATURES)
    assert out["subjectivity"].labels == ("yes",)
    assert out["subjectivity"].level == 4
    assert out["ai_values"].labels == ("honesty", "user autonomy")
    assert out["human_values"].labels == ("family bonds",)
    assert out["response_type"].labels == ("reframing",)
    assert out["task"].labels == ("Give advice",)
    assert out["ai_values_stated"].labels == ()
    assert all(o.error is None for o in out.values())


def test_fused_errors_are_per_feature_or_global() -> None:
    out = parse_fused('<answer>{"subjectivity_level": 2, "response_type": "cheering"}</answer>', FUSED_FEATURES)
    assert out["subjectivity"].labels == ("no",)
    assert "not one of" in (out["response_type"].error or "")
    assert out["task"].error == "the answer lacks 'task'"
    broken = parse_fused("<answer>{not json</answer>", FUSED_FEATURES)
    assert all("not a JSON object" in (o.error or "") for o in broken.values())
