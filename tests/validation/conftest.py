"""A small reviewed study: one run, two prompt versions of AI values, one of response type, three reviewers.

Data written for the project's tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from annotate.models import Annotator, ReviewSample
from extraction.models import ExtractionRun, PromptVersion
from tests.validation import factories as f


@dataclass
class Study:
    run: ExtractionRun
    sample: ReviewSample
    v1: PromptVersion
    v2: PromptVersion
    rt: PromptVersion
    annotators: list[Annotator]
    n: int


@pytest.fixture
def study(db: None) -> Study:
    """20 conversations. v1 (paper-v1 AI values) is judged correct on conversations 0-15 by reviewers A and B
    (C also reviews 0-9 and rejects 0); v2 (paper-v2) is judged correct on all but 16 and 17, so it fixes 18
    and 19 and breaks nothing. Response type: A rejects every fifth output, correcting it to mild support.
    One deleted and one verdict-less annotation must be ignored."""
    dataset = f.DatasetFactory.create()
    run = f.ExtractionRunFactory.create(dataset=dataset)
    sample = f.ReviewSampleFactory.create(run=run, reviewers_per_item=2)
    v1 = f.PromptVersionFactory.create(prompt_set="paper-v1", feature="ai_values", content_hash="a1" * 32)
    v2 = f.PromptVersionFactory.create(prompt_set="paper-v2", feature="ai_values", content_hash="b2" * 32)
    rt = f.PromptVersionFactory.create(prompt_set="paper-v1", feature="response_type", content_hash="c3" * 32)
    a, b, c = (f.AnnotatorFactory.create(email=e) for e in ("a@example.org", "b@example.org", "c@example.org"))
    n = 20
    for i in range(n):
        conv = f.ConversationFactory.create(dataset=dataset, external_id=f"study-{i}")
        stratum = "long" if i % 2 else "short"
        item = f.ReviewItemFactory.create(sample=sample, conversation=conv, position=i, stratum=stratum)
        e1 = f.ExtractionFactory.create(conversation=conv, run=run, prompt_version=v1, labels=["honesty", "care"])
        e2 = f.ExtractionFactory.create(conversation=conv, run=None, prompt_version=v2, labels=["honesty"])
        er = f.ExtractionFactory.create(conversation=conv, run=run, prompt_version=rt, labels=["strong_support"])
        ok1 = "correct" if i < 16 else "incorrect"
        ok2 = "correct" if i not in (16, 17) else "incorrect"
        for who in (a, b):
            f.review(item=item, extraction=e1, annotator=who, verdict=ok1)
            f.review(item=item, extraction=e2, annotator=who, verdict=ok2)
        if i < 10:
            f.review(item=item, extraction=e1, annotator=c, verdict="incorrect" if i == 0 else "correct")
        corrected = ["mild_support"] if i % 5 == 0 else None
        f.review(
            item=item,
            extraction=er,
            annotator=a,
            verdict="incorrect" if corrected else "correct",
            corrected_labels=corrected,
        )
    f.review(item=item, extraction=e1, annotator=c, verdict="incorrect", deleted=True)
    f.review(item=item, extraction=e1, annotator=f.AnnotatorFactory.create(), verdict="")
    return Study(run=run, sample=sample, v1=v1, v2=v2, rt=rt, annotators=[a, b, c], n=n)
