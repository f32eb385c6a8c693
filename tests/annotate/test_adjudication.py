"""Adjudication by a lead: what can be recorded, one decision per output, the queue, and the gold labels."""

from __future__ import annotations

import pytest

from annotate.consistency import label_key
from annotate.models import Adjudication, Annotation, ReviewItem
from annotate.selectors import GoldLabel, LabelKey, adjudication_counts, adjudication_queue, gold_labels
from annotate.services import AdjudicationError, adjudication_record, review_flags_refresh
from extraction.models import Extraction
from tests.validation import factories as f


def _output(feature: str, labels: list[str], level: int | None = None) -> tuple[Extraction, ReviewItem]:
    item = f.ReviewItemFactory.create()
    pv = f.PromptVersionFactory.create(feature=feature)
    extraction = f.ExtractionFactory.create(
        conversation=item.conversation, run=item.sample.run, prompt_version=pv, labels=labels, level=level
    )
    return extraction, item


@pytest.mark.parametrize(
    ("feature", "labels", "verdict", "given", "level", "message"),
    [
        ("ai_values", ["care"], "maybe", None, None, "the verdict must be one of"),
        ("ai_values", ["care"], "incorrect", None, None, "'incorrect' needs the right labels"),
        ("ai_values", ["care"], "correct", ["honesty"], None, "'correct' keeps the model's labels"),
        ("ai_values", ["care"], "incorrect", ["Care"], None, "these are the model's own labels"),
        ("subjectivity", ["yes"], "incorrect", ["yes"], None, "these are the model's own labels"),
        ("response_type", ["mild_support"], "incorrect", ["somewhat_supportive"], None, "the response type is one"),
        ("subjectivity", ["yes"], "incorrect", None, 7, "the subjectivity level must be 1 to 4"),
        ("subjectivity", ["yes"], "incorrect", ["yes"], 2, "level 2 means 'no'"),
        ("ai_values", ["care"], "incorrect", ["honesty"], 3, "a level belongs to subjectivity only"),
    ],
)
def test_a_decision_that_cannot_be_recorded_says_why(
    db: None, feature: str, labels: list[str], verdict: str, given: list[str] | None, level: int | None, message: str
) -> None:
    extraction, _ = _output(feature, labels)
    with pytest.raises(AdjudicationError, match=message):
        adjudication_record(extraction_id=extraction.pk, verdict=verdict, labels=given, level=level)
    assert not Adjudication.objects.exists()


def test_one_decision_per_output_the_later_replaces_the_earlier(db: None) -> None:
    extraction, _ = _output("ai_values", ["care"])
    adjudication_record(extraction_id=extraction.pk, verdict="correct", labels=["Care"])
    adjudication_record(extraction_id=extraction.pk, verdict="incorrect", labels=["care", "honesty"], comment="both")
    decided = Adjudication.objects.get()
    assert (decided.verdict, decided.labels, decided.comment) == ("incorrect", ["care", "honesty"], "both")
    empty = adjudication_record(extraction_id=extraction.pk, verdict="incorrect", labels=[])
    assert empty.labels == [], "an empty list says the right answer is 'none'"
    with pytest.raises(AdjudicationError, match="no machine output with id 999999"):
        adjudication_record(extraction_id=999999, verdict="correct")


def test_the_queue_lists_disagreements_and_flags_unsettled_first(db: None) -> None:
    agreed, item_a = _output("ai_values", ["care"])
    split, item_b = _output("ai_values", ["care"])
    relabelled, item_c = _output("ai_values", ["care"])
    ada, grace = f.AnnotatorFactory.create(), f.AnnotatorFactory.create()
    for who in (ada, grace):
        f.review(item=item_a, extraction=agreed, annotator=who, verdict="correct")
    f.review(item=item_b, extraction=split, annotator=ada, verdict="correct")
    f.review(item=item_b, extraction=split, annotator=grace, verdict="incorrect", comment="misses honesty")
    f.review(item=item_c, extraction=relabelled, annotator=ada, verdict="incorrect", corrected_labels=["honesty"])
    f.review(item=item_c, extraction=relabelled, annotator=grace, verdict="incorrect", corrected_labels=["kindness"])
    review_flags_refresh()
    queue = adjudication_queue()
    assert {e.extraction_id for e in queue} == {split.pk, relabelled.pk}, "the agreed output is not listed"
    by_id = {e.extraction_id: e for e in queue}
    assert (by_id[split.pk].verdicts_differ, by_id[split.pk].labels_differ) == (True, False)
    assert (by_id[relabelled.pk].verdicts_differ, by_id[relabelled.pk].labels_differ) == (False, True)
    adjudication_record(extraction_id=split.pk, verdict="correct")
    assert [e.extraction_id for e in adjudication_queue()] == [relabelled.pk, split.pk], "settled last"


def test_gold_labels_adjudicated_else_a_strict_majority(db: None) -> None:
    majority, item_m = _output("ai_values", ["care"])
    tie, item_t = _output("ai_values", ["care"])
    settled, item_s = _output("response_type", ["mild_support"])
    level, item_l = _output("subjectivity", ["yes"], level=4)
    ada, grace, alan = (f.AnnotatorFactory.create() for _ in range(3))
    f.review(item=item_m, extraction=majority, annotator=ada, verdict="correct")
    f.review(item=item_m, extraction=majority, annotator=grace, verdict="correct")
    f.review(item=item_m, extraction=majority, annotator=alan, verdict="incorrect", corrected_labels=["Honesty"])
    f.review(item=item_t, extraction=tie, annotator=ada, verdict="correct")
    f.review(item=item_t, extraction=tie, annotator=grace, verdict="incorrect", corrected_labels=["honesty"])
    f.review(item=item_s, extraction=settled, annotator=ada, verdict="correct")
    f.review(item=item_s, extraction=settled, annotator=grace, verdict="correct")
    f.review(item=item_l, extraction=level, annotator=ada, verdict="correct", subjectivity_level=4)
    f.review(item=item_l, extraction=level, annotator=grace, verdict="incorrect", subjectivity_level=3)
    f.review(item=item_l, extraction=level, annotator=alan, verdict="correct")
    adjudication_record(extraction_id=settled.pk, verdict="incorrect", labels=["reframing"])

    gold = gold_labels()
    assert gold[(item_m.conversation_id, "ai_values")] == GoldLabel(("care",), "majority", 3)
    assert (item_t.conversation_id, "ai_values") not in gold, "1 of 2 is no strict majority"
    assert gold[(item_s.conversation_id, "response_type")] == GoldLabel(("reframing",), "adjudicated", 2)
    assert gold[(item_l.conversation_id, "subjectivity")] == GoldLabel(("yes",), "majority", 3, level=4)
    assert set(gold_labels(features=["response_type"])) == {(item_s.conversation_id, "response_type")}
    assert set(gold_labels(conversation_ids=[item_t.conversation_id])) == set()


@pytest.mark.parametrize(
    "labels",
    [[], ["care"], [" Care", "care", "", "HONESTY\t"], ["b", "a", "c", "a"], ["  "], ["Épanouissement", "a b"]],
)
def test_the_databases_label_key_is_the_python_one(db: None, labels: list[str]) -> None:
    extraction, item = _output("ai_values", ["care"])
    review = f.review(
        item=item,
        extraction=extraction,
        annotator=f.AnnotatorFactory.create(),
        verdict="incorrect",
        corrected_labels=labels,
    )
    found = Annotation.objects.annotate(key=LabelKey("corrected_labels")).get(pk=review.pk).key
    assert found == "\x1f".join(label_key(labels) or ())


def test_corrections_differing_only_in_case_blanks_order_or_repeats_are_one_answer(db: None) -> None:
    same, item_s = _output("ai_values", ["care"])
    other, item_o = _output("ai_values", ["care"])
    ada, grace = f.AnnotatorFactory.create(), f.AnnotatorFactory.create()
    f.review(item=item_s, extraction=same, annotator=ada, verdict="incorrect", corrected_labels=["Honesty", " care"])
    f.review(item=item_s, extraction=same, annotator=grace, verdict="incorrect", corrected_labels=["care", "honesty "])
    f.review(item=item_o, extraction=other, annotator=ada, verdict="incorrect", corrected_labels=["honesty", "care"])
    f.review(item=item_o, extraction=other, annotator=grace, verdict="incorrect", corrected_labels=["honesty"])
    assert [e.extraction_id for e in adjudication_queue()] == [other.pk]
    assert adjudication_counts() == (1, 1)
    assert adjudication_queue()[0].labels_differ
