"""The residuals and descriptive commands and services, from database rows to stored results (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from bench.synthetic import Plant, SyntheticData, generate, task_name, write_database
from extraction.models import Extraction, ExtractionRun, PromptVersion
from results.models import ResidualAnalysis, ResidualCell
from results.residuals import residual_table
from results.selectors import Scope, _labels_generic, _scope_sql, feature_labels
from taxonomy.models import Taxonomy, TaxonomyNode

PLANTED = Plant("empathy", task_name(1), 8.0)


@pytest.fixture
def synthetic(db: None) -> tuple[SyntheticData, int]:
    data = generate(n_conversations=1500, seed=31, n_tasks=40, plants=(PLANTED,))
    summary = write_database(data, dataset="synthetic-test")
    return data, summary.run_id


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, no_progress=True) if args[0] == "residuals" else call_command(*args, stdout=out)
    return out.getvalue()


def test_labels_read_back_from_the_database_equal_the_generated_ones(synthetic: tuple[SyntheticData, int]) -> None:
    data, run_id = synthetic
    ids = dict(ExtractionRun.objects.get(pk=run_id).dataset.conversations.values_list("external_id", "id"))
    to_db = np.array([ids[f"synthetic-{i:08d}"] for i in range(data.n_conversations)])
    for feature in ("ai_values", "human_values", "task"):
        got = feature_labels(feature=feature, scope=Scope(run_id=run_id))
        want = data.features()[feature]
        assert sorted(zip(got.conversation.tolist(), got.label.tolist(), strict=True)) == sorted(
            zip(to_db[want.conversation].tolist(), want.label.tolist(), strict=True)
        )
        # Conversations extracted with an empty list still count as extracted.
        assert len(got.conversations()) == data.n_conversations


def test_residuals_command_stores_what_the_pure_module_computes(synthetic: tuple[SyntheticData, int]) -> None:
    data, run_id = synthetic
    out = json.loads(
        run(
            "residuals",
            "--rows",
            "ai_values",
            "--cols",
            "task",
            "--run",
            str(run_id),
            "--min-conversations",
            "3",
            "--json",
        )
    )
    analysis = ResidualAnalysis.objects.get(pk=out["id"])
    expected = residual_table(data.ai_values, data.task, min_conversations=3).report(top_k=10)
    assert analysis.summary["significant_cells"] == int(expected.cells["significant"].sum())
    assert analysis.summary["suppressed_cells"] == expected.table.suppressed_cells
    assert analysis.n_conversations == 1500
    assert ResidualCell.objects.filter(analysis=analysis).count() == len(expected.cells) == len(out["cells"])
    stored = {(c["row_label"], c["col_label"]): c["residual"] for c in out["cells"]}
    for row, col, r in zip(expected.cells["row"], expected.cells["col"], expected.cells["residual"], strict=True):
        assert stored[(row, col)] == pytest.approx(r, abs=1e-9)
    planted = ResidualCell.objects.get(analysis=analysis, row_label=PLANTED.value, col_label=PLANTED.task)
    assert planted.significant
    assert planted.residual > analysis.critical_value
    # Privacy: no stored cell was seen in 1 or 2 conversations.
    assert not ResidualCell.objects.filter(analysis=analysis, observed__gt=0, observed__lt=3).exists()


def test_residuals_command_text_and_csv(synthetic: tuple[SyntheticData, int]) -> None:
    text = run(
        "residuals", "--rows", "ai_values", "--cols", "task", "--dataset", "synthetic-test", "--min-conversations", "3"
    )
    assert "critical value" in text
    assert "suppressed" in text
    assert PLANTED.value in text
    rows = list(csv.DictReader(io.StringIO(run("residuals", "--rows", "ai_values", "--cols", "task", "--csv"))))
    assert rows
    assert set(rows[0]) >= {"row_label", "col_label", "residual", "p_exact", "odds_ratio", "or_low", "or_high"}


def test_bad_request_is_one_clear_error_and_stores_nothing(synthetic: tuple[SyntheticData, int]) -> None:
    with pytest.raises(CommandError, match="dataset 'nope' does not exist"):
        run("residuals", "--rows", "ai_values", "--cols", "task", "--dataset", "nope")
    with pytest.raises(CommandError, match="needs a taxonomy"):
        run("residuals", "--rows", "ai_values", "--cols", "task", "--level", "1")
    assert not ResidualAnalysis.objects.exists()


def test_taxonomy_level_maps_values_to_their_ancestors(synthetic: tuple[SyntheticData, int]) -> None:
    _, run_id = synthetic
    tax = Taxonomy.objects.create(name="t", version=1, feature="ai_values", source="imported", level_count=2)
    practical = TaxonomyNode.objects.create(taxonomy=tax, key="p", level=1, name="Practical")
    caring = TaxonomyNode.objects.create(taxonomy=tax, key="c", level=1, name="Caring")
    for value, parent in [("helpfulness", practical), ("efficiency", practical), ("healthy boundaries", caring)]:
        TaxonomyNode.objects.create(taxonomy=tax, key=value, level=0, name=value, parent=parent)
    out = json.loads(
        run(
            "residuals",
            "--rows",
            "ai_values",
            "--cols",
            "task",
            "--run",
            str(run_id),
            "--level",
            "1",
            "--min-conversations",
            "1",
            "--json",
        )
    )
    assert {c["row_label"] for c in out["cells"]} <= {"Practical", "Caring"}
    assert out["summary"]["rows"] == 2
    assert any("not in taxonomy" in note for note in out["summary"]["notes"])
    analysis = ResidualAnalysis.objects.get(pk=out["id"])
    assert analysis.row_taxonomy == tax
    assert analysis.row_level == 1


def test_only_subjective_conversations_are_analysed_when_subjectivity_was_extracted(
    synthetic: tuple[SyntheticData, int],
) -> None:
    _, run_id = synthetic
    run_obj = ExtractionRun.objects.get(pk=run_id)
    version = PromptVersion.objects.create(prompt_set="t", feature="subjectivity", content_hash="x", template="-")
    conv_ids = list(run_obj.dataset.conversations.order_by("id").values_list("id", flat=True))
    Extraction.objects.bulk_create(
        Extraction(
            conversation_id=c,
            run=run_obj,
            feature="subjectivity",
            prompt_version=version,
            model="m",
            status="ok",
            labels=["Yes" if i % 3 else "no"],
        )
        for i, c in enumerate(conv_ids)
    )
    subjective = sum(1 for i in range(len(conv_ids)) if i % 3)
    out = json.loads(run("residuals", "--rows", "ai_values", "--cols", "task", "--run", str(run_id), "--json"))
    assert out["summary"]["n_conversations"] == subjective
    everyone = json.loads(
        run("residuals", "--rows", "ai_values", "--cols", "task", "--run", str(run_id), "--all-conversations", "--json")
    )
    assert everyone["summary"]["n_conversations"] == len(conv_ids)


def test_descriptive_command_reports_every_table(synthetic: tuple[SyntheticData, int]) -> None:
    out = json.loads(run("descriptive", "--dataset", "synthetic-test", "--min-conversations", "2", "--json"))
    assert {
        "ai_values",
        "human_values",
        "response_types",
        "response_types_by_model",
        "value_pairs",
        "mirroring",
    } <= set(out)
    assert {"stated_vs_all", "ai_values_cv", "values_by_model", "safety_review", "value_pairs_by_response"} <= set(out)
    top = out["ai_values"]["rows"][0]
    assert top["value"] in {"helpfulness", "professionalism"}
    assert out["ai_values"]["min_conversations"] == 2
    text = run("descriptive", "--dataset", "synthetic-test")
    assert "response types" in text


@pytest.mark.services
def test_postgres_copy_reader_equals_the_generic_reader(
    synthetic: tuple[SyntheticData, int], requires_postgres: None
) -> None:
    _, run_id = synthetic
    fast = feature_labels(feature="ai_values", scope=Scope(run_id=run_id))
    where, params = _scope_sql("ai_values", Scope(run_id=run_id))
    slow = _labels_generic(where, params)
    slow = slow[slow["label"].notna()]
    assert sorted(zip(fast.conversation.tolist(), fast.label.tolist(), strict=True)) == sorted(
        zip(slow["conversation"].tolist(), slow["label"].tolist(), strict=True)
    )


def test_the_newest_extraction_of_a_conversation_wins(synthetic: tuple[SyntheticData, int]) -> None:
    _, run_id = synthetic
    run_obj = ExtractionRun.objects.get(pk=run_id)
    conversation = run_obj.dataset.conversations.order_by("id").first()
    assert conversation is not None
    version = PromptVersion.objects.create(prompt_set="v2", feature="ai_values", content_hash="y", template="-")
    Extraction.objects.create(
        conversation=conversation,
        run=run_obj,
        feature="ai_values",
        prompt_version=version,
        model="m2",
        status="ok",
        labels=["newer value", "newer value"],
    )
    labels = feature_labels(feature="ai_values", scope=Scope(dataset_id=run_obj.dataset_id))
    mine = labels.label[labels.conversation == conversation.pk].tolist()
    assert mine == ["newer value", "newer value"]  # repeats are removed later, when the incidence is built
    assert len(labels.conversations()) == 1500


def test_descriptive_category_shares_use_the_top_level_of_the_newest_taxonomy(
    synthetic: tuple[SyntheticData, int],
) -> None:
    tax = Taxonomy.objects.create(name="t", version=1, feature="ai_values", source="imported", level_count=2)
    practical = TaxonomyNode.objects.create(taxonomy=tax, key="p", level=1, name="Practical")
    caring = TaxonomyNode.objects.create(taxonomy=tax, key="c", level=1, name="Caring")
    for value, parent in [("helpfulness", practical), ("Professionalism", practical), ("empathy", caring)]:
        TaxonomyNode.objects.create(taxonomy=tax, key=value, level=0, name=value, parent=parent)
    out = json.loads(run("descriptive", "--dataset", "synthetic-test", "--min-conversations", "1", "--json"))
    shares = {row["category"]: row["pct"] for row in out["categories"]["rows"]}
    assert set(shares) == {"Practical", "Caring", "(unmapped)"}
    assert sum(shares.values()) == pytest.approx(100.0)
    # "professionalism" as extracted matches "Professionalism" in the taxonomy after normalisation.
    assert shares["Practical"] > shares["Caring"]
