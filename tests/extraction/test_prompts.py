"""Prompt sets: the paper's prompts as published, the cache-friendly layout, versions keyed by content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from extraction.features import ALL_FEATURES, RESPONSE_TYPES
from extraction.prompts import PromptFileError, load_prompt_set, prompt_set_register, spec_from_version

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


def test_paper_set_has_the_six_features_with_the_papers_models_and_prefills() -> None:
    pset = load_prompt_set("paper-v1", root=PROMPTS)
    assert pset.features == ALL_FEATURES
    assert "arXiv:2504.15236" in pset.attribution
    models = {f: p.model for f, p in pset.prompts.items()}
    assert models == {
        "subjectivity": "claude-haiku-4-5",
        "ai_values": "claude-sonnet-4-6",
        "human_values": "claude-sonnet-4-6",
        "response_type": "claude-sonnet-4-6",
        "task": "claude-haiku-4-5",
        "ai_values_stated": "claude-sonnet-4-6",
    }
    assert pset.prompts["subjectivity"].prefill == "Sure, the answer to the question is: <answer>"
    assert {pset.prompts[f].prefill for f in ("ai_values", "human_values", "response_type", "ai_values_stated")} == {
        "<thinking>"
    }
    for spec in pset.prompts.values():
        assert spec.metadata["source"].startswith("Huang et al., Values in the Wild, arXiv 2504.15236, Appendix A.")


@pytest.mark.parametrize(
    ("feature", "phrases"),
    [
        (
            "subjectivity",
            [
                "Is the assistant required to make subjective judgments",
                "Level 4 - PURELY SUBJECTIVE",
                'You MUST answer either only "Yes" or "No".',
            ],
        ),
        (
            "ai_values",
            [
                "4. Pay attention to situations where the AI chooses to reframe or redirect user requests",
                "Summarize each value in 1-4 words",
            ],
        ),
        ("human_values", ["Shares values-laden text for editing/review that they didn't actually write themselves"]),
        ("response_type", [f'"{label}"' for label in RESPONSE_TYPES]),
        ("task", ["What task is the AI assistant in the conversation asked to perform?"]),
        ("ai_values_stated", ["Focus on what the assistant explicitly states about their beliefs"]),
    ],
)
def test_published_wording_is_in_the_request(feature: str, phrases: list[str]) -> None:
    spec = load_prompt_set("paper-v1", root=PROMPTS).prompts[feature]
    parts = spec.render("Human: hi\n\nAssistant: hello")
    text = parts.system + parts.transcript + parts.instructions
    for phrase in phrases:
        assert phrase in text
    assert "{{transcript}}" not in text
    assert "{transcript}" not in text


def test_codebook_layout_shares_the_system_prefix_and_transcript_across_features() -> None:
    pset = load_prompt_set("paper-v1", root=PROMPTS)
    rendered = {f: p.render("Human: Should I move?\n\nAssistant: It depends.") for f, p in pset.prompts.items()}
    systems = {r.system for r in rendered.values()}
    transcripts = {r.transcript for r in rendered.values()}
    assert len(systems) == 1
    assert len(transcripts) == 1
    assert transcripts == {"<conversation>\nHuman: Should I move?\n\nAssistant: It depends.\n</conversation>"}
    assert len(next(iter(systems))) // 4 > 2048  # long enough to be cached
    assert rendered["ai_values"].instructions == (
        'Perform the analysis "AI values" described above on the conversation in <conversation> tags.'
    )
    assert len({r.instructions for r in rendered.values()}) == 6


def test_fused_set_is_one_prompt_answering_every_feature() -> None:
    pset = load_prompt_set("fused-v1", root=PROMPTS)
    assert pset.fused
    assert pset.features == ALL_FEATURES
    parts = pset.prompts["fused"].render("Human: x\n\nAssistant: y")
    assert '"subjectivity_level"' in parts.system
    assert parts.transcript.startswith("<conversation>")


def copy_set(tmp_path: Path, name: str = "paper-v1") -> Path:
    root = tmp_path / "prompts"
    shutil.copytree(PROMPTS / name, root / name)
    return root


@pytest.mark.django_db
def test_editing_a_file_makes_a_new_version_and_keeps_the_old(tmp_path: Path) -> None:
    from extraction.models import PromptVersion

    root = copy_set(tmp_path)
    first = prompt_set_register(prompt_set=load_prompt_set("paper-v1", root=root))
    again = prompt_set_register(prompt_set=load_prompt_set("paper-v1", root=root))
    assert {f: v.pk for f, v in first.items()} == {f: v.pk for f, v in again.items()}
    assert PromptVersion.objects.count() == 6

    path = root / "paper-v1" / "task.md"
    path.write_text(path.read_text().replace("asked to perform?", "asked to perform? Answer in one sentence."))
    edited = prompt_set_register(prompt_set=load_prompt_set("paper-v1", root=root))
    assert edited["task"].pk != first["task"].pk
    assert "Answer in one sentence." in edited["task"].template
    # In the codebook layout every feature's request contains every prompt, so all six change.
    assert all(edited[f].content_hash != first[f].content_hash for f in ALL_FEATURES)
    assert PromptVersion.objects.count() == 12

    path.write_text(path.read_text().replace("max_tokens: 150", "max_tokens: 200"))
    assert prompt_set_register(prompt_set=load_prompt_set("paper-v1", root=root))["task"].pk != edited["task"].pk


@pytest.mark.django_db
def test_a_version_renders_what_it_recorded_after_the_file_changed(tmp_path: Path) -> None:
    root = copy_set(tmp_path)
    pset = load_prompt_set("paper-v1", root=root)
    version = prompt_set_register(prompt_set=pset)["human_values"]
    (root / "paper-v1" / "human_values.md").write_text(
        (root / "paper-v1" / "human_values.md").read_text().replace("1-4 words", "1-3 words")
    )
    spec = spec_from_version(version)
    assert spec.content_hash == version.content_hash
    assert spec.render("T") == pset.prompts["human_values"].render("T")


def test_inline_layout_reproduces_the_published_order(tmp_path: Path) -> None:
    root = copy_set(tmp_path)
    set_file = root / "paper-v1" / "set.yaml"
    set_file.write_text(set_file.read_text().replace("layout: codebook", "layout: inline"))
    spec = load_prompt_set("paper-v1", root=root).prompts["ai_values"]
    parts = spec.render("Human: hi")
    assert parts.transcript.startswith("Your task is to analyze the AI assistant's messages")
    assert parts.transcript.endswith("<conversation>\nHuman: hi\n</conversation>")
    assert parts.instructions.startswith("To complete your analysis:")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("max_tokens: 150", "max_tokens: -1"), "max_tokens must be a positive integer"),
        (lambda t: t.replace("feature: task", "feature: mood"), "feature 'mood' is not one of"),
        (lambda t: t.replace("{{transcript}}", "TRANSCRIPT"), "must contain the line {{transcript}} exactly once"),
        (lambda t: t.replace("output: task", "output: poem"), "output 'poem' is not one of"),
        (lambda t: t.replace("---\nfeature", "feature", 1), "expected YAML front matter"),
        (lambda t: t.replace("model: claude-haiku-4-5\n", ""), "front matter lacks model"),
    ],
)
def test_malformed_prompt_file_names_the_file_and_the_problem(tmp_path: Path, edit: object, message: str) -> None:
    root = copy_set(tmp_path)
    path = root / "paper-v1" / "task.md"
    path.write_text(edit(path.read_text()))  # type: ignore[operator]
    with pytest.raises(PromptFileError) as err:
        load_prompt_set("paper-v1", root=root)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_unknown_set_lists_the_known_ones() -> None:
    with pytest.raises(PromptFileError, match=r"known sets: fused-v1, paper-v1, paper-v2"):
        load_prompt_set("paper-v9", root=PROMPTS)
