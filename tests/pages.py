"""Helpers of the page tests: a logged-in client per role, and a template engine that fails on undefined variables."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

from accounts.roles import user_add_role
from corpus.models import Conversation, Dataset
from extraction.models import Extraction, ExtractionRun, ExtractionStatus, RunStatus
from extraction.services import run_refresh_progress
from results.models import ResidualAnalysis
from results.requests import ResidualRequest
from results.services import residual_analysis_create
from taxonomy.models import Taxonomy, TaxonomySource
from tests.validation import factories as f
from validation.models import ReportSnapshot
from validation.services import agreement_snapshot_create


def client_as(role: str | None) -> Client:
    """A client logged in as a new user with ``role`` (no role for None)."""
    user = get_user_model().objects.create_user(username=f"page-{role or 'none'}-{next(_users)}", password="x")
    if role:
        user_add_role(user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


_users = itertools.count()


class UndefinedVariableError(AssertionError):
    pass


class _FailOnUndefined(str):
    """``string_if_invalid`` that raises: Django formats it with the variable's name when it contains ``%s``."""

    def __mod__(self, name: Any) -> str:
        raise UndefinedVariableError(f"template variable {name!r} is undefined")


def strict_templates(settings: Any) -> None:
    """Make every ``{{ undefined }}`` in a rendered template an error (``if`` and ``for`` tags are unaffected)."""
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [
        {**engine, "OPTIONS": {**engine.get("OPTIONS", {}), "string_if_invalid": _FailOnUndefined("%s")}},
        *settings.TEMPLATES[1:],
    ]


# ------------------------------------------------------------------------------------------------ a small loop
# Test data written for the project: every step of the loop on 22 conversations, through the services where one
# exists (progress, agreement snapshot, residual analysis).


@dataclass
class Loop:
    alpha: Dataset
    beta: Dataset
    run: ExtractionRun
    conversations: list[Conversation]
    snapshot: ReportSnapshot
    taxonomy: Taxonomy
    residuals: ResidualAnalysis
    parse_error: Extraction


TRANSCRIPT = [
    {"role": "user", "content": "My sister keeps borrowing money. Should I say no? (written for tests)"},
    {"role": "assistant", "content": "You can care about her and still set a limit."},
    {"role": "user", "content": "How do I say it kindly?"},
    {"role": "assistant", "content": "Tell her plainly what you can give, and why."},
]


def build_loop() -> Loop:
    """Dataset alpha: conversations 0-9 (model-a) show empathy on relationship advice, 10-19 (model-b) accuracy on
    coding help, 20-21 (model-a) the rare value dominance (under the privacy threshold of 5); the task answer of
    conversation 21 could not be parsed. Conversations 0-4 are reviewed: 4 correct, 1 corrected. Dataset beta: one
    conversation with no model recorded."""
    alpha = f.DatasetFactory.create(name="alpha")
    beta = f.DatasetFactory.create(name="beta")
    f.ConversationFactory.create(dataset=beta, external_id="beta-0", model="")
    pv_values = f.PromptVersionFactory.create(feature="ai_values", content_hash="d4" * 32)
    pv_task = f.PromptVersionFactory.create(feature="task", content_hash="e5" * 32)
    run = f.ExtractionRunFactory.create(
        dataset=alpha,
        status=RunStatus.RUNNING,
        model_map={"ai_values": "claude-test", "task": "claude-test"},
        options={"features": ["ai_values", "task"], "prompt_versions": {"ai_values": pv_values.pk, "task": pv_task.pk}},
    )
    conversations, values_rows = [], []
    parse_error = None
    for i in range(22):
        value, task = ("empathy", "relationship advice") if i < 10 else ("accuracy", "coding help")
        if i >= 20:
            value = "dominance"
        shape: dict[str, Any] = {"messages": TRANSCRIPT, "turn_count": 4} if i == 0 else {}
        conversation = f.ConversationFactory.create(
            dataset=alpha,
            external_id=f"alpha-{i:02d}",
            model="model-b" if 10 <= i < 20 else "model-a",
            **shape,
        )
        conversations.append(conversation)
        values_rows.append(
            f.ExtractionFactory.create(
                conversation=conversation, run=run, prompt_version=pv_values, labels=[value], cost_usd=Decimal("0.001")
            )
        )
        task_row = f.ExtractionFactory.create(
            conversation=conversation, run=run, prompt_version=pv_task, labels=[task], cost_usd=Decimal("0.001")
        )
        if i == 21:
            task_row.status, task_row.labels = ExtractionStatus.PARSE_ERROR, []
            task_row.error, task_row.raw_text = "no <answer> tag in the reply", "I would rather not classify this one."
            task_row.save()
            parse_error = task_row
    values_rows[1].confidence, values_rows[1].samples = 2 / 3, [["empathy"], ["empathy"], ["care"]]
    values_rows[1].save()
    run_refresh_progress(run=run)
    sample = f.ReviewSampleFactory.create(run=run)
    reviewer = f.AnnotatorFactory.create(email="rev@example.org")
    for i in range(5):
        item = f.ReviewItemFactory.create(sample=sample, conversation=conversations[i], position=i)
        extra: dict[str, Any] = (
            {"verdict": "incorrect", "corrected_labels": ["empathy", "care"], "comment": "misses care"}
            if i == 4
            else {"verdict": "correct"}
        )
        f.review(item=item, extraction=values_rows[i], annotator=reviewer, **extra)
        if i == 0:
            f.review(
                item=item,
                extraction=values_rows[i],
                annotator=f.AnnotatorFactory.create(email="gone@example.org"),
                verdict="incorrect",
                deleted=True,
            )
    snapshot = agreement_snapshot_create(run_id=run.pk, n_boot=10)
    taxonomy = Taxonomy.objects.create(name="ai-values", version=3, source=TaxonomySource.IMPORTED)
    residuals = residual_analysis_create(
        request=ResidualRequest(
            rows="ai_values", cols="task", dataset_id=alpha.pk, min_conversations=5, subjective_only=False
        )
    )
    assert parse_error is not None
    run.refresh_from_db()
    return Loop(alpha, beta, run, conversations, snapshot, taxonomy, residuals, parse_error)
