"""Factories for the rows validation reads (corpus, extraction, annotate). Test data written for the project."""

from __future__ import annotations

import hashlib
from typing import Any

import factory

from annotate.models import Annotation, Annotator, ReviewItem, ReviewSample
from corpus.models import Conversation, Dataset
from extraction.models import Extraction, ExtractionRun, PromptVersion


class DatasetFactory(factory.django.DjangoModelFactory[Dataset]):
    class Meta:
        model = Dataset

    name = factory.Sequence(lambda n: f"validation-test-{n}")


class ConversationFactory(factory.django.DjangoModelFactory[Conversation]):
    class Meta:
        model = Conversation

    dataset = factory.SubFactory(DatasetFactory)
    external_id = factory.Sequence(lambda n: f"conv-{n}")
    source = "openai"
    messages = factory.LazyFunction(
        lambda: [
            {"role": "user", "content": "Should I take the job abroad? (example written for tests)"},
            {"role": "assistant", "content": "It depends on what matters most to you."},
        ]
    )
    content_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.external_id.encode()).hexdigest())
    turn_count = 2


class PromptVersionFactory(factory.django.DjangoModelFactory[PromptVersion]):
    class Meta:
        model = PromptVersion

    prompt_set = "paper-v1"
    feature = "ai_values"
    content_hash = factory.Sequence(lambda n: hashlib.sha256(f"prompt-{n}".encode()).hexdigest())
    template = "Which values does the assistant show? {conversation}"


class ExtractionRunFactory(factory.django.DjangoModelFactory[ExtractionRun]):
    class Meta:
        model = ExtractionRun

    dataset = factory.SubFactory(DatasetFactory)
    prompt_set = "paper-v1"


class ExtractionFactory(factory.django.DjangoModelFactory[Extraction]):
    class Meta:
        model = Extraction

    conversation = factory.SubFactory(ConversationFactory)
    run = factory.SubFactory(ExtractionRunFactory)
    prompt_version = factory.SubFactory(PromptVersionFactory)
    feature = factory.LazyAttribute(lambda o: o.prompt_version.feature)
    model = "claude-test"
    status = "ok"
    labels = factory.LazyFunction(lambda: ["helpfulness"])


class ReviewSampleFactory(factory.django.DjangoModelFactory[ReviewSample]):
    class Meta:
        model = ReviewSample

    run = factory.SubFactory(ExtractionRunFactory)
    strategy = "random"
    seed = 1


class ReviewItemFactory(factory.django.DjangoModelFactory[ReviewItem]):
    class Meta:
        model = ReviewItem

    sample = factory.SubFactory(ReviewSampleFactory)
    conversation = factory.SubFactory(ConversationFactory)
    position = factory.Sequence(lambda n: n)


class AnnotatorFactory(factory.django.DjangoModelFactory[Annotator]):
    class Meta:
        model = Annotator

    email = factory.Sequence(lambda n: f"reviewer{n}@example.org")


class AnnotationFactory(factory.django.DjangoModelFactory[Annotation]):
    class Meta:
        model = Annotation

    item = factory.SubFactory(ReviewItemFactory)
    extraction = factory.SubFactory(ExtractionFactory)
    feature = factory.LazyAttribute(lambda o: o.extraction.feature)
    annotator = factory.SubFactory(AnnotatorFactory)
    verdict = "correct"
    label_studio_annotation_id = factory.Sequence(lambda n: 10_000 + n)


def review(*, item: ReviewItem, extraction: Extraction, annotator: Annotator, verdict: str, **extra: Any) -> Annotation:
    return AnnotationFactory.create(item=item, extraction=extraction, annotator=annotator, verdict=verdict, **extra)
