"""validation/selectors.py against rows in the database."""

from __future__ import annotations

import pytest

from stats.errors import EmptyInputError
from tests.validation import factories as f
from tests.validation.conftest import Study
from validation import selectors
from validation.reports import DESIGN_COLUMNS, REVIEW_COLUMNS


def test_review_frame_for_a_run(study: Study) -> None:
    df = selectors.review_frame(run_id=study.run.pk)
    assert tuple(df.columns) == (*REVIEW_COLUMNS, *DESIGN_COLUMNS)
    # run reviews: v1 by A and B (40) + C on 10 + response type 20; v2 outputs belong to no run but are reviewed
    # in this run's sample too (40); deleted and verdict-less annotations are left out.
    assert len(df) == 40 + 10 + 20 + 40
    assert set(df["verdict"]) == {"correct", "incorrect"}
    assert set(df["stratum"]) == {"long", "short"}
    assert df.loc[df["feature"] == "response_type", "machine_labels"].iloc[0] == ["strong_support"]
    assert df["prompt_version"].str.startswith("paper-v1/ai_values@a1a1").any()


def test_review_frame_by_prompt_version(study: Study) -> None:
    df = selectors.review_frame(prompt_version_ids=[study.v2.pk])
    assert len(df) == 40
    assert set(df["prompt_version_id"]) == {study.v2.pk}


def test_agreement_report_for_run(study: Study) -> None:
    rep = selectors.agreement_report_for_run(run_id=study.run.pk, n_boot=50)
    feature = {r["feature"]: r for r in rep["agreement"]["feature"]}
    # v1 and v2 AI-values outputs together: v1 correct on 16 of 20 (output 0 is 2 correct of 3 → correct),
    # v2 correct on 18 of 20.
    assert feature["ai_values"]["n"] == 40
    assert feature["ai_values"]["correct"] == 34
    assert feature["response_type"]["correct"] == 16
    versions = {r["prompt_version"]: r["correct"] for r in rep["agreement"]["prompt_version"]}
    assert versions[str(study.v1)] == 16
    assert versions[str(study.v2)] == 18
    cm = rep["response_type_confusion"]
    assert cm["n"] == 20
    assert cm["matrix"][0][0] == 16
    assert cm["matrix"][0][1] == 4
    rel = rep["reliability"]["ai_values"]
    assert rel["annotators"] == 3
    assert rel["verdict"]["alpha"]["value"] is not None


def test_agreement_report_says_reviews_not_independent_when_label_studio_did_not_keep_reviewers_apart(
    study: Study,
) -> None:
    from annotate.models import LabelStudioProject

    for n, annotator in enumerate(study.annotators):
        LabelStudioProject.objects.create(
            sample=study.sample,
            annotator=annotator,
            title=f"p{n}",
            label_studio_project_id=900 + n,
            independent=n != 1,
        )
    independence = selectors.agreement_report_for_run(run_id=study.run.pk, n_boot=10)["independence"]
    assert independence["independent"] is False
    assert independence["not_independent_projects"] == ["p1"]
    assert independence["status"].startswith("reviews not independent")
    LabelStudioProject.objects.update(independent=True)
    again = selectors.agreement_report_for_run(run_id=study.run.pk, n_boot=10)["independence"]
    assert again["independent"] is True


def test_agreement_report_for_missing_run(db: None) -> None:
    with pytest.raises(selectors.RunNotFoundError, match="no extraction run with id 999"):
        selectors.agreement_report_for_run(run_id=999)


def test_agreement_report_for_run_without_reviews(db: None) -> None:
    run = f.ExtractionRunFactory.create()
    with pytest.raises(EmptyInputError, match="no reviews"):
        selectors.agreement_report_for_run(run_id=run.pk)


def test_prompt_versions_resolve(study: Study) -> None:
    assert selectors.prompt_versions_resolve(str(study.v1.pk)) == [study.v1]
    assert selectors.prompt_versions_resolve("paper-v2/ai_values@b2b2") == [study.v2]
    assert selectors.prompt_versions_resolve("paper-v1/ai_values") == [study.v1]
    assert selectors.prompt_versions_resolve("paper-v1") == [study.v1, study.rt]
    for spec, fragment in [
        ("12345", "no prompt version with id"),
        ("paper-v9", "no prompt version matches"),
        ("a/b/c", "cannot read prompt spec"),
    ]:
        with pytest.raises(selectors.PromptSpecError, match=fragment):
            selectors.prompt_versions_resolve(spec)
    f.PromptVersionFactory.create(prompt_set="paper-v1", feature="ai_values", content_hash="a1ff" + "0" * 60)
    with pytest.raises(selectors.PromptSpecError, match="matches 2 versions of ai_values"):
        selectors.prompt_versions_resolve("paper-v1/ai_values@a1")


def test_prompt_comparison(study: Study) -> None:
    out = selectors.prompt_comparison(baseline="paper-v1", candidate="paper-v2")
    ai = out["features"]["ai_values"]
    assert ai["n"] == study.n
    assert ai["baseline"]["correct"] == 16
    assert ai["candidate"]["correct"] == 18
    assert ai["mcnemar"]["only_candidate_correct"] == 2
    assert ai["mcnemar"]["only_baseline_correct"] == 0
    assert ai["verdict"] == "no detectable difference"
    assert ai["more_items"] > 0
    assert sorted(x["conversation_id"] for x in ai["flipped"]) == sorted(
        study.v1.extractions.filter(conversation__external_id__in=["study-18", "study-19"]).values_list(
            "conversation_id", flat=True
        )
    )
    assert out["baseline"]["versions"] == [str(study.v1), str(study.rt)]
    with pytest.raises(selectors.PromptSpecError, match="same prompt version"):
        selectors.prompt_comparison(baseline="paper-v1", candidate=str(study.v1.pk))
    with pytest.raises(selectors.PromptSpecError, match="no common feature"):
        selectors.prompt_comparison(baseline=str(study.rt.pk), candidate="paper-v2")
    with pytest.raises(EmptyInputError, match="with model 'other'"):
        selectors.prompt_comparison(baseline="paper-v1", candidate="paper-v2", model="other")


def test_prompt_comparison_links_flipped_conversations(study: Study, admin_client) -> None:  # type: ignore[no-untyped-def]
    out = selectors.prompt_comparison(baseline="paper-v1", candidate="paper-v2")
    flipped = out["features"]["ai_values"]["flipped"]
    assert {x["external_id"] for x in flipped} == {"study-18", "study-19"}
    for flip in flipped:
        assert flip["url"] == f"/conversations/{flip['conversation_id']}/"
        page = admin_client.get(flip["url"])
        assert page.status_code == 200
        assert f"Conversation {flip['external_id']}" in page.content.decode()
    # The link is all that is added: the statistics are those of the pure comparison.
    assert {k for x in flipped for k in x} == {
        "conversation_id",
        "external_id",
        "baseline_extraction_id",
        "candidate_extraction_id",
        "baseline_correct",
        "candidate_correct",
        "url",
    }


def test_agreement_report_for_run_states_the_design_from_the_stored_probabilities(study: Study) -> None:
    from annotate.models import ReviewItem

    rep = selectors.agreement_report_for_run(run_id=study.run.pk, n_boot=0)
    unknown = rep["design"][0]["features"]["response_type"]
    assert unknown["design"].startswith("unknown")  # items made before probabilities were stored
    ReviewItem.objects.filter(sample=study.sample).update(inclusion_probability=20 / 400)
    rep = selectors.agreement_report_for_run(run_id=study.run.pk, n_boot=0)
    entry = rep["design"][0]
    assert entry["sample_id"] == study.sample.pk
    assert entry["strategy"] == "random"
    response_type = entry["features"]["response_type"]
    assert response_type["design"] == "simple random"
    assert response_type["population_size"] == pytest.approx(400)
    assert response_type["estimate"] == pytest.approx(16 / 20)


def test_agreement_report_for_run_carries_the_corrected_prevalences(study: Study) -> None:
    rep = selectors.agreement_report_for_run(run_id=study.run.pk, n_boot=0)
    response = rep["prevalences"]["response_type"]
    # 20 response-type outputs, all labelled strong_support; A rejected every fifth and corrected it to mild support.
    assert response["n_outputs"] == 20
    assert response["n_reviewed"] == 20
    by_label = {e["label"]: e for e in response["labels"]}
    assert by_label["strong_support"]["llm_only"] == 1.0
    assert by_label["strong_support"]["gold_only"] == pytest.approx(16 / 20)
    assert by_label["mild_support"]["gold_only"] == pytest.approx(4 / 20)
