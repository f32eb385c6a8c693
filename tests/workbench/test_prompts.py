"""The prompt engineer's pages: candidates made in the browser, their files and hashes, replay, estimate, access."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.roles import Role
from corpus.models import Conversation
from corpus.transcript import render_transcript
from extraction.estimates import CHARS_PER_TOKEN, prompt_set_cost_estimate
from extraction.models import Extraction, ExtractionRun, PromptVersion, RunStatus
from extraction.prompts import load_prompt_set
from extraction.services import run_create, run_launch
from extraction.services.candidates import CandidateError, prompt_candidate_create, prompt_set_archive
from tests.pages import client_as
from validation.services import gold_set_import
from workbench.prompts import diff_lines

REPO = Path(__file__).resolve().parents[2]
ADDED = "Name at most five values, the most salient first. (written for tests)"


@pytest.fixture(autouse=True)
def candidates_dir(settings: Any, tmp_path: Path) -> Path:
    settings.EXTRACTION_CANDIDATES_DIR = tmp_path / "candidates"
    return tmp_path / "candidates"


def _edited_ai_values() -> str:
    text = (REPO / "prompts" / "paper-v1" / "ai_values.md").read_text().split("---\n", 2)[2]
    return text.replace("To complete your analysis:", f"{ADDED}\n\nTo complete your analysis:")


@pytest.mark.django_db
def test_a_candidate_hashes_exactly_as_its_downloaded_files_do_in_prompts(tmp_path: Path) -> None:
    candidate, versions = prompt_candidate_create(
        base="paper-v1", name="paper-v1-five", feature="ai_values", text=_edited_ai_values()
    )
    assert candidate.base == "paper-v1"
    assert ADDED in versions["ai_values"].template
    base = load_prompt_set("paper-v1")
    # Codebook layout: every feature's request holds every prompt, so all six versions are new.
    assert all(versions[k].content_hash != base.prompts[k].content_hash for k in base.prompts)

    root = tmp_path / "unpacked"
    zipfile.ZipFile(io.BytesIO(prompt_set_archive(prompt_set=candidate))).extractall(root)
    as_files = load_prompt_set("paper-v1-five", root=root)
    assert {k: s.content_hash for k, s in as_files.prompts.items()} == {k: v.content_hash for k, v in versions.items()}
    assert sorted(p.name for p in (root / "paper-v1-five").iterdir()) == sorted(
        p.name for p in (REPO / "prompts" / "paper-v1").iterdir()
    )


@pytest.mark.django_db
def test_a_model_change_alone_is_a_new_version_of_that_prompt_only() -> None:
    _, versions = prompt_candidate_create(
        base="fused-v1", name="fused-haiku", feature="fused", model="claude-haiku-4-5"
    )
    assert versions["fused"].metadata["model"] == "claude-haiku-4-5"
    assert versions["fused"].template == load_prompt_set("fused-v1").prompts["fused"].template


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "paper-v1", "text": "x"}, "exists already"),
        ({"name": "Bad Name!", "text": "x"}, "lowercase"),
        ({"name": "same"}, "identical to its base"),
        ({"name": "no-transcript", "text": "Analyse the values."}, "{{transcript}} exactly once"),
    ],
)
def test_a_candidate_that_cannot_be_made_says_why(kwargs: dict[str, str], message: str, candidates_dir: Path) -> None:
    with pytest.raises(CandidateError, match=message.replace("{", r"\{").replace("}", r"\}")):
        prompt_candidate_create(base="paper-v1", feature="ai_values", **kwargs)
    assert not any(p.name == kwargs["name"] for p in candidates_dir.glob("*"))  # nothing half-written


@pytest.mark.django_db
def test_a_replayed_candidate_uses_the_base_recordings_where_it_has_none() -> None:
    call_command("import_conversations", str(REPO / "sample" / "conversations.jsonl"), dataset="sample")
    prompt_candidate_create(base="paper-v1", name="paper-v1-five", feature="ai_values", text=_edited_ai_values())
    runs = {}
    for name in ("paper-v1", "paper-v1-five"):
        run = run_create(dataset="sample", prompt_set=name, features=["ai_values"], limit=5)
        run_launch(run=run, where="inline")
        run.refresh_from_db()
        assert run.status == RunStatus.SUCCEEDED, run.error
        runs[name] = run
    assert runs["paper-v1-five"].options["replay_base"]["set"] == "paper-v1"
    assert "replay_base" not in runs["paper-v1"].options

    def labels(run: ExtractionRun) -> dict[tuple[int, str], list[str]]:
        return {(e.conversation_id, e.feature): e.labels for e in Extraction.objects.filter(run=run)}

    assert labels(runs["paper-v1-five"]) == labels(runs["paper-v1"])
    assert len(labels(runs["paper-v1"])) > 5  # subjectivity on 5, ai_values on the subjective ones
    versions = set(Extraction.objects.filter(run=runs["paper-v1-five"]).values_list("prompt_version", flat=True))
    assert {PromptVersion.objects.get(pk=v).prompt_set for v in versions} == {"paper-v1-five"}


@pytest.mark.django_db
def test_the_estimate_prices_characters_over_four_at_the_price_table() -> None:
    call_command("import_conversations", str(REPO / "sample" / "conversations.jsonl"), dataset="sample")
    pset = load_prompt_set("paper-v1")
    conversations = list(Conversation.objects.order_by("pk")[:3])
    estimate = prompt_set_cost_estimate(prompt_set=pset, conversations=conversations)
    values = next(p for p in estimate.prompts if p.key == "ai_values")
    spec = pset.prompts["ai_values"]
    chars = 0
    for c in conversations:
        parts = spec.render(render_transcript(c.messages))
        chars += len(parts.system + parts.transcript + parts.instructions + parts.prefill)
    assert values.input_tokens == chars // CHARS_PER_TOKEN
    # Nothing recorded in the database yet: output at max_tokens (400 for ai_values) per conversation.
    assert (values.output_source, values.output_tokens) == ("max_tokens", 3 * 400)
    # claude-sonnet-4-6 costs $3 / $15 per million input / output tokens (LLM_PRICES).
    expected = (Decimal(values.input_tokens) * 3 + Decimal(1200) * 15) / 1_000_000
    assert values.cost_usd == expected.quantize(Decimal("0.000001"))
    assert estimate.conversations == 3


def test_the_diff_marks_added_and_removed_lines() -> None:
    lines = diff_lines("a\nb\nc\n", "a\nB\nc\nd\n", a_name="v1", b_name="v2")
    assert ("del", "-b") in lines
    assert ("add", "+B") in lines
    assert ("add", "+d") in lines
    assert lines[0] == ("head", "--- v1")


@pytest.mark.django_db
def test_a_prompt_engineer_makes_a_candidate_and_runs_it_from_the_browser_forms(
    django_capture_on_commit_callbacks: Any,
) -> None:
    call_command("import_conversations", str(REPO / "sample" / "conversations.jsonl"), dataset="sample")
    client = client_as(Role.PROMPT_ENGINEER)
    url = reverse("prompt-candidate-page", args=["paper-v1"]) + "?feature=ai_values"
    assert "To complete your analysis:" in client.get(url).content.decode()
    response = client.post(url, {"feature": "ai_values", "name": "pv-five", "text": _edited_ai_values(), "model": ""})
    assert response.status_code == 302
    assert response["Location"] == reverse("prompt-run-new", args=["pv-five"])
    page = client.get(response["Location"] + "?dataset=sample&limit=4").content.decode()
    assert "Estimated cost before it runs" in page
    assert "characters / 4" in page
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(response["Location"], {"dataset": "sample", "limit": "4", "how": "replay"})
    run = ExtractionRun.objects.get(prompt_set="pv-five")
    assert started["Location"] == reverse("prompt-run-page", args=[run.pk])
    assert "Replayed from base recordings" in client.get(started["Location"]).content.decode()
    progress = client.get(reverse("prompt-run-progress", args=[run.pk])).json()
    assert progress["status"] == "succeeded"
    assert progress["finished"]
    assert progress["done"] == progress["total"] > 0
    download = client.get(reverse("prompt-set-download", args=["pv-five"]))
    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert "pv-five/set.yaml" in names
    assert "pv-five/ai_values.md" in names


@pytest.mark.django_db
def test_a_run_on_a_gold_set_extracts_exactly_its_conversations(django_capture_on_commit_callbacks: Any) -> None:
    call_command("import_conversations", str(REPO / "sample" / "conversations.jsonl"), dataset="sample")
    conversations = list(Conversation.objects.order_by("pk"))
    chosen = [conversations[i] for i in (3, 17, 40)]  # not the first N: the old "up to the last one" took 41
    rows = [
        (f"row {n}", {"conversation": c.external_id, "feature": "subjectivity", "labels": ["yes"]})
        for n, c in enumerate(chosen)
    ]
    gold = gold_set_import(name="three", dataset_id=chosen[0].dataset_id, rows=rows)
    client = client_as(Role.PROMPT_ENGINEER)
    url = reverse("prompt-run-new", args=["paper-v1"])
    page = client.get(url + f"?gold={gold.pk}").content.decode()
    assert "the run covers exactly its 3 conversations of dataset sample" in page
    assert "Total on 3 conversations" in page
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(url, {"gold": str(gold.pk), "how": "replay", "all_conversations": "on"})
    run = ExtractionRun.objects.get(prompt_set="paper-v1")
    assert started["Location"] == reverse("prompt-run-page", args=[run.pk])
    assert run.options["conversation_ids"] == sorted(c.pk for c in chosen)
    assert run.options["limit"] is None
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    extracted = set(Extraction.objects.filter(run=run).values_list("conversation_id", "feature"))
    features = load_prompt_set("paper-v1").features
    assert extracted == {(c.pk, f) for c in chosen for f in features}


@pytest.mark.django_db
def test_a_bad_candidate_form_answers_400_with_the_reason() -> None:
    client = client_as(Role.LEAD)
    url = reverse("prompt-candidate-page", args=["paper-v1"])
    response = client.post(url, {"feature": "ai_values", "name": "x1", "text": "no placeholder", "model": ""})
    assert response.status_code == 400
    assert "exactly once" in response.content.decode()


PAGES = [
    ("prompt-set-list", []),
    ("prompt-diff-page", []),
    ("prompt-set-page", ["paper-v1"]),
    ("prompt-candidate-page", ["paper-v1"]),
    ("prompt-run-new", ["paper-v1"]),
    ("prompt-set-download", ["paper-v1"]),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "args"), PAGES)
def test_annotators_and_strangers_are_refused_the_prompt_pages(name: str, args: list[str]) -> None:
    url = reverse(name, args=args)
    assert client_as(Role.ANNOTATOR).get(url).status_code == 403
    assert client_as(None).get(url).status_code == 403
    assert Client().get(url).status_code == 302  # to the login page
    assert client_as(Role.PROMPT_ENGINEER).get(url).status_code == 200
