"""Factories for the rows the review loop reads: conversations, prompt versions, runs and extractions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import cast

import factory

from corpus.models import Conversation, Dataset
from extraction.models import Extraction, ExtractionRun, ExtractionStatus, PromptVersion

FEATURES = ("subjectivity", "ai_values", "human_values", "response_type", "task")
MODELS = ("example-assistant-large", "example-assistant-small")


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    name = factory.Sequence(lambda n: f"dataset-{n}")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    dataset = factory.SubFactory(DatasetFactory)
    external_id = factory.Sequence(lambda n: f"conv-{n:05d}")
    source = "openai"
    model = factory.Iterator(MODELS)
    messages = factory.LazyAttribute(
        lambda o: [
            {"role": "user", "content": f"Question {o.external_id}: should I take the job?"},
            {"role": "assistant", "content": "It depends on what you value most; here are some thoughts."},
        ]
    )
    content_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.external_id.encode()).hexdigest())
    turn_count = 2


class PromptVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PromptVersion
        django_get_or_create = ("prompt_set", "feature", "content_hash")

    prompt_set = "paper-v1"
    feature = "ai_values"
    content_hash = factory.LazyAttribute(lambda o: hashlib.sha256(f"{o.prompt_set}/{o.feature}".encode()).hexdigest())
    template = "TRANSCRIPT"


class ExtractionRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExtractionRun

    dataset = factory.SubFactory(DatasetFactory)
    prompt_set = "paper-v1"
    status = "succeeded"


LABELS = {
    "subjectivity": lambda i: ["yes" if i % 3 else "no"],
    "ai_values": lambda i: [["helpfulness", "honesty"], ["user autonomy"], ["harm prevention", "care"]][i % 3],
    "human_values": lambda i: [["career growth"], ["family security"], []][i % 3],
    "response_type": lambda i: [["mild_support"], ["strong_support"], ["reframing"], ["no_values"]][i % 4],
    "task": lambda i: [f"advise on decision {i}"],
}


def run_with_extractions(
    n_conversations: int,
    *,
    features: Sequence[str] = FEATURES,
    confidence: bool = True,
    dataset: Dataset | None = None,
) -> ExtractionRun:
    """A run over ``n_conversations`` new conversations with one parsed extraction per feature each."""
    dataset = dataset or cast(Dataset, DatasetFactory())
    run = cast(ExtractionRun, ExtractionRunFactory(dataset=dataset))
    versions = {f: cast(PromptVersion, PromptVersionFactory(feature=f)) for f in features}
    conversations = Conversation.objects.bulk_create(
        ConversationFactory.build(dataset=dataset, external_id=f"{dataset.name}-{i:05d}")
        for i in range(n_conversations)
    )
    Extraction.objects.bulk_create(
        Extraction(
            conversation=c,
            run=run,
            feature=f,
            prompt_version=versions[f],
            model="example-model",
            status=ExtractionStatus.OK,
            labels=LABELS[f](i),
            thinking=f"The assistant weighs options in {c.external_id}.",
            confidence=((i * 37) % 100) / 100 if confidence else None,
        )
        for i, c in enumerate(conversations)
        for f in features
    )
    return run
