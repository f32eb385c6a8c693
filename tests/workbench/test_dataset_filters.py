"""The dataset page's filters by label, subjectivity and review status, on the loop of tests/pages.py (its docstring
gives the counts: 10 conversations with empathy, 2 with dominance, conversations 0-4 reviewed)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.roles import Role
from tests.pages import Loop, build_loop, client_as
from tests.validation import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def loop() -> Loop:
    loop = build_loop()
    # Subjectivity judged for conversations 0-5: 0, 1 and 5 subjective, the others not.
    pv = f.PromptVersionFactory.create(feature="subjectivity", content_hash="f6" * 32)
    for i in range(6):
        label = "subjective" if i in (0, 1, 5) else "objective"
        f.ExtractionFactory.create(conversation=loop.conversations[i], run=loop.run, prompt_version=pv, labels=[label])
    return loop


def listed(loop: Loop, query: str) -> list[str]:
    response = client_as(Role.LEAD).get(reverse("dataset-page", args=[loop.alpha.pk]) + query)
    assert response.status_code == 200
    return re.findall(r">(alpha-\d\d)</a>", response.content.decode())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [f"alpha-{i:02d}" for i in range(22)]),
        ("?label=empathy", [f"alpha-{i:02d}" for i in range(10)]),
        ("?label=Dominance", ["alpha-20", "alpha-21"]),
        ("?label=empath", []),  # a whole label, not a part of one
        ("?reviewed=yes", [f"alpha-{i:02d}" for i in range(5)]),
        ("?reviewed=no&label=empathy", [f"alpha-{i:02d}" for i in range(5, 10)]),
        ("?subjective=yes", ["alpha-00", "alpha-01", "alpha-05"]),
        ("?subjective=yes&reviewed=yes", ["alpha-00", "alpha-01"]),
        ("?subjective=no&label=accuracy&model=model-b", [f"alpha-{i:02d}" for i in range(10, 20)]),
        ("?reviewed=maybe", [f"alpha-{i:02d}" for i in range(22)]),  # an unknown choice filters nothing
    ],
)
def test_filters_keep_the_matching_conversations(loop: Loop, query: str, expected: list[str]) -> None:
    assert listed(loop, query) == expected


def test_filters_apply_within_a_run_and_the_count_says_so(loop: Loop) -> None:
    url = reverse("dataset-page", args=[loop.alpha.pk]) + f"?run={loop.run.pk}&label=empathy&reviewed=yes"
    text = client_as(Role.LEAD).get(url).content.decode()
    assert "5 conversations" in text
    assert 'value="empathy"' in text


def test_several_labels_each_named_with_its_feature_keep_the_conversations_with_all(loop: Loop) -> None:
    both = "?label=ai_values:empathy&label=task:relationship advice"
    assert listed(loop, both) == [f"alpha-{i:02d}" for i in range(10)]
    assert listed(loop, "?label=task:empathy") == []  # empathy is a value, not a task
    assert listed(loop, "?label=ai_values:empathy&label=task:coding help") == []


def test_review_status_within_a_run_counts_the_reviews_of_that_runs_samples_only(loop: Loop) -> None:
    other = f.ExtractionRunFactory.create(dataset=loop.alpha)
    pv = f.PromptVersionFactory.create(feature="ai_values", content_hash="e7" * 32)
    conversation = loop.conversations[12]
    item = f.ReviewItemFactory.create(sample=f.ReviewSampleFactory.create(run=other), conversation=conversation)
    extraction = f.ExtractionFactory.create(
        conversation=conversation, run=other, prompt_version=pv, labels=["accuracy"]
    )
    f.review(item=item, extraction=extraction, annotator=f.AnnotatorFactory.create(), verdict="correct")
    assert listed(loop, "?reviewed=yes") == [*(f"alpha-{i:02d}" for i in range(5)), "alpha-12"]
    assert listed(loop, f"?run={loop.run.pk}&reviewed=yes") == [f"alpha-{i:02d}" for i in range(5)]
    assert "alpha-12" in listed(loop, f"?run={loop.run.pk}&reviewed=no")
    assert listed(loop, f"?run={other.pk}&reviewed=yes") == ["alpha-12"]
