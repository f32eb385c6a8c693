"""The demo's prompt-engineer loop without Label Studio: a gold set from the example reviews, paper-v1 against
fused-v1 compared feature by feature on it, and the scoring rule's agreement with the reviewers (README figure)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from scripts import demo
from validation import scores, selectors
from validation.models import GoldSet, ReportSnapshot

from .demo_loop import demo_loop

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_demo_gold_set_comparison_and_rule_agreement() -> None:
    loop = demo_loop()
    out = io.StringIO()
    call_command("gold_set", "create", run=loop.run.pk, name="demo", stdout=out)
    gold = GoldSet.objects.get(name="demo")
    # 50 conversations, three reviewers each: subjectivity has no strict majority on 4, AI values on 4,
    # response type on 10 (of the 41 the filter kept).
    assert gold.params["taken"] == {
        "subjectivity": 46,
        "ai_values": 37,
        "response_type": 31,
        "human_values": 0,
        "ai_values_stated": 0,
    }
    assert gold.params["left_out"]["response_type"] == 10
    assert "response_type    31 taken (0 adjudicated), 10 left out" in out.getvalue()

    # The fused prompt (feature key "fused") is compared on each feature it produced.
    out = io.StringIO()
    call_command("compare_prompts", "paper-v1", "fused-v1", "--json", "--n-boot", "100", stdout=out)
    report = json.loads(out.getvalue())
    assert report["params"]["method"] == "gold set"
    assert set(report["features"]) == {"ai_values", "response_type", "subjectivity"}
    for entry in report["features"].values():
        assert entry["verdict"] in {"better", "worse", "no detectable difference"}
        assert entry["n"] > 0
    assert (
        report["cost"]["candidate"]["cost_per_1000_conversations"]
        < report["cost"]["baseline"]["cost_per_1000_conversations"]
    )

    # README, "Gold sets": the rule agrees with the reviewers' majority verdict on 105 of 114 reviewed outputs.
    agreement = scores.rule_agreement(run_id=loop.run.pk, gold_set_id=gold.pk)
    assert agreement["overall"] == {"n": 114, "agree": 105, "share": pytest.approx(105 / 114)}
    assert agreement["features"]["response_type"]["agree"] == 26
    exact = scores.rule_agreement(run_id=loop.run.pk, gold_set_id=gold.pk, response_type_tolerance=0)
    assert exact["features"]["response_type"]["agree"] == 14

    exported = selectors.gold_set_export(gold_set_id=gold.pk, fmt="jsonl").splitlines()
    assert len(exported) == 46 + 37 + 31

    # The demo's own step: its gold set, and the candidate paper-v2 (written for the project) against paper-v1's
    # response-type prompt: four conversations fixed, two broken, so no detectable difference yet.
    lines = demo.step_gold()
    assert lines[0].startswith("Gold set sample reviews v1 (114 labels, 18 left out")
    snapshot = ReportSnapshot.objects.get(kind="comparison", candidate="paper-v2")
    entry = snapshot.payload["features"]["response_type"]
    assert entry["mcnemar"]["only_candidate_correct"] == 4
    assert entry["mcnemar"]["only_baseline_correct"] == 2
    assert entry["verdict"] == "no detectable difference"
    assert entry["more_items"] > 0
    flipped = {f["external_id"]: f for f in entry["flipped"]}
    assert flipped["sample-045"]["candidate"] == ["mild_resistance"]
    assert flipped["sample-045"]["gold"] == ["mild_resistance"]
    assert flipped["sample-023"]["baseline_correct"]
    assert demo.step_gold()[0] == lines[0]  # idempotent: the second run makes no new gold set
    assert ReportSnapshot.objects.filter(kind="comparison").count() == 2
