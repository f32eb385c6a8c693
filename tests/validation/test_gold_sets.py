"""Gold sets: made from the reviews (strict majority, the rest left out and counted), frozen for good, exported
and imported back; runs and prompt versions scored against them; the paired comparison on a gold set."""

from __future__ import annotations

from typing import Any

import pytest

from annotate.services import adjudication_record
from extraction.models import Extraction
from tests.concurrency import writers_at_once
from validation import scores, selectors, services
from validation.models import GoldLabel, GoldSet, GoldSetFrozenError
from validation.services.gold import GoldSetError

from .conftest import Study


@pytest.fixture
def gold(study: Study) -> GoldSet:
    return services.gold_set_create_from_reviews(name="study", run_id=study.run.pk)


def test_majority_labels_are_taken_and_the_rest_left_out_and_counted(study: Study, gold: GoldSet) -> None:
    labels = {(g.conversation.external_id, g.feature): g for g in gold.labels.select_related("conversation")}
    # AI values: reviewers of v1 and v2 both count (a reviewer's labels describe the conversation). On 0-15 A and
    # B accept v1 ["care", "honesty"] but also accept v2 ["honesty"]: their latest review (v2) is what counts.
    assert labels[("study-3", "ai_values")].labels == ["honesty"]
    assert labels[("study-3", "ai_values")].source == "majority"
    # Response type: A alone reviews; every fifth output corrected to mild support.
    assert labels[("study-5", "response_type")].labels == ["mild_support"]
    assert labels[("study-6", "response_type")].labels == ["strong_support"]
    assert gold.params["taken"]["response_type"] == 20
    assert gold.status == "frozen"
    assert gold.version == 1
    again = services.gold_set_create_from_reviews(name="study", run_id=study.run.pk)
    assert again.version == 2


def test_adjudicated_labels_come_first_and_pairs_without_majority_or_adjudication_are_counted(
    study: Study, gold: GoldSet
) -> None:
    # Before any adjudication: A and B reject both AI-values outputs of 16 and 17 without labels (no majority).
    assert gold.params["left_out"]["ai_values"] == 2
    assert gold.params["adjudicated"] == dict.fromkeys(gold.params["features"], 0)
    disputed = Extraction.objects.get(conversation__external_id="study-16", prompt_version=study.v1)
    adjudication_record(extraction_id=disputed.pk, verdict="incorrect", labels=["Fairness", " honesty "])
    overruled = Extraction.objects.get(conversation__external_id="study-3", prompt_version=study.rt)
    adjudication_record(extraction_id=overruled.pk, verdict="incorrect", labels=["mild_resistance"])

    again = services.gold_set_create_from_reviews(name="study", run_id=study.run.pk)
    labels = {(g.conversation.external_id, g.feature): g for g in again.labels.select_related("conversation")}
    assert (labels[("study-16", "ai_values")].labels, labels[("study-16", "ai_values")].source) == (
        ["fairness", "honesty"],
        "adjudicated",
    )
    assert labels[("study-16", "ai_values")].n_reviews == 2
    # The lead's word replaces the reviewer's majority (A accepted strong support on 3).
    assert (labels[("study-3", "response_type")].labels, labels[("study-3", "response_type")].source) == (
        ["mild_resistance"],
        "adjudicated",
    )
    assert labels[("study-4", "response_type")].source == "majority"
    assert ("study-17", "ai_values") not in labels
    assert again.params["left_out"]["ai_values"] == 1
    assert again.params["taken"]["ai_values"] == gold.params["taken"]["ai_values"] + 1
    assert again.params["adjudicated"]["ai_values"] == 1
    assert again.params["adjudicated"]["response_type"] == 1
    # The frozen first version is untouched by the later adjudication.
    assert not gold.labels.filter(source="adjudicated").exists()
    assert not gold.labels.filter(conversation__external_id="study-16", feature="ai_values").exists()


def test_a_frozen_gold_set_never_changes_by_any_path(gold: GoldSet) -> None:
    label = gold.labels.first()
    assert label is not None
    label.labels = ["changed"]
    with pytest.raises(GoldSetFrozenError):
        label.save()
    with pytest.raises(GoldSetFrozenError):
        GoldLabel.objects.filter(gold_set=gold).update(labels=["changed"])
    with pytest.raises(GoldSetFrozenError):
        GoldLabel.objects.filter(gold_set=gold).delete()
    with pytest.raises(GoldSetFrozenError):
        GoldLabel.objects.bulk_create([GoldLabel(gold_set=gold, conversation=label.conversation, feature="task")])
    gold.description = "changed"
    with pytest.raises(GoldSetFrozenError):
        gold.save()
    with pytest.raises(GoldSetFrozenError):
        gold.delete()
    with pytest.raises(GoldSetFrozenError):
        services.gold_set_freeze(gold_set_id=gold.pk)
    assert GoldLabel.objects.get(pk=label.pk).labels != ["changed"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_imports_back_to_the_same_labels(gold: GoldSet, tmp_path: Any, fmt: str) -> None:
    path = tmp_path / f"gold.{fmt}"
    path.write_text(selectors.gold_set_export(gold_set_id=gold.pk, fmt=fmt))
    imported = services.gold_set_import(name="team", dataset_id=gold.dataset_id, rows=services.gold_rows_read(path))

    def key(gs: GoldSet) -> set[tuple[Any, ...]]:
        return {(g.conversation_id, g.feature, tuple(g.labels), g.level) for g in gs.labels.all()}

    assert key(imported) == key(gold)
    assert set(imported.labels.values_list("source", flat=True)) == {"imported"}
    assert imported.status == "frozen"


def test_import_names_the_bad_line_and_writes_nothing(study: Study, tmp_path: Any) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text(
        '{"conversation": "study-1", "feature": "ai_values", "labels": ["honesty"]}\n'
        '{"conversation": "nope", "feature": "ai_values", "labels": []}\n'
    )
    with pytest.raises(GoldSetError, match=r"gold.jsonl:2: conversation 'nope' is not in dataset"):
        services.gold_set_import(name="team", dataset_id=study.run.dataset_id, rows=services.gold_rows_read(path))
    assert not GoldSet.objects.exists()


def test_v2_scores_better_on_ai_values_than_v1(study: Study, gold: GoldSet) -> None:
    # Gold AI values are ["honesty"] wherever the majority's latest review accepted v2; v1 says ["care", "honesty"]
    # (soft Jaccard 1/2: correct at the default threshold of 0.5, exact F1 2/3).
    v1 = scores.gold_score(gold_set_id=gold.pk, spec=str(study.v1.pk), n_boot=0)["features"]["ai_values"]
    v2 = scores.gold_score(gold_set_id=gold.pk, spec=str(study.v2.pk), n_boot=0)["features"]["ai_values"]
    assert v2["exact"]["f1"]["estimate"] > v1["exact"]["f1"]["estimate"]
    assert v1["exact"]["precision"]["estimate"] == pytest.approx(0.5, abs=0.05)


def test_grid_shows_each_version_per_conversation_with_the_filters(study: Study, gold: GoldSet) -> None:
    grid = scores.gold_grid(gold_set_id=gold.pk, specs=[str(study.v1.pk), str(study.v2.pk)])
    assert grid["features"] == ["ai_values"]
    assert [c["spec"] for c in grid["versions"]] == [str(study.v1.pk), str(study.v2.pk)]
    rows = {r["external_id"]: r for r in grid["rows"]}
    assert len(rows) == study.n  # every conversation has a gold response type
    valued = [r for r in rows.values() if "ai_values" in r["gold"]]
    assert len(valued) == gold.params["taken"]["ai_values"]
    for row in valued:
        a, b = (row["cells"][str(v.pk)]["ai_values"] for v in (study.v1, study.v2))
        assert row["differs"] == (a["correct"] != b["correct"])
        assert row["fails"] == (not a["correct"] or not b["correct"])
    assert rows["study-3"]["cells"][str(study.v2.pk)]["ai_values"]["answer"] == ["honesty"]
    v2 = grid["versions"][1]["features"]["ai_values"]
    assert v2["n"] == len(valued)
    assert 0 <= v2["low"] <= v2["estimate"] <= v2["high"] <= 1


@pytest.mark.django_db(transaction=True)
def test_two_gold_sets_of_one_name_at_once_are_both_stored(study: Study) -> None:
    def create() -> GoldSet:
        return services.gold_set_create_from_reviews(name="together", run_id=study.run.pk)

    stored, errors = writers_at_once([create, create], table="validation_goldset")
    assert errors == []
    assert sorted(g.version for g in stored) == [1, 2]
    assert sorted(GoldSet.objects.filter(name="together").values_list("version", flat=True)) == [1, 2]
