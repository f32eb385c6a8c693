"""Runs through the real client and SDK against the local fake Anthropic server (over HTTP).

A live run with a rate-limited request and a malformed answer, and batch runs interrupted after
submission (after the id was saved, or before) that resume by fetching the results instead of
submitting again.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Sequence
from typing import Any

import pytest

from extraction.costs import TokenCounts, call_cost, price_for, settings_prices
from extraction.llm import AnthropicProvider, MessageBatches, RetryPolicy, make_client
from extraction.llm_types import LLMCall
from extraction.models import BatchStatus, Extraction, ExtractionBatch, ExtractionStatus, RunStatus
from extraction.ratelimit import Limits, LocalRateLimiter
from extraction.selectors import run_report
from extraction.services import run_batch_execute, run_batch_step, run_create, run_execute
from testing.fake_anthropic import FakeAnthropic


def live_provider(fake: FakeAnthropic, *, max_retries: int = 2) -> AnthropicProvider:
    return AnthropicProvider(
        client=make_client(api_key="test-key", base_url=fake.base_url, timeout_s=5),
        limiter=LocalRateLimiter(Limits(requests_per_minute=60_000)),
        retry=RetryPolicy(max_retries=max_retries, base_delay=0.01, max_delay=0.02, rng=random.Random(3)),
    )


@pytest.mark.django_db
def test_live_run_reports_a_parse_error_and_a_request_refused_with_429(
    small_dataset: Any, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.config.subjective_fraction = 1.0  # every conversation passes the filter
    fake_anthropic.config.malformed_features = frozenset({"response_type"})
    # The very first request is refused three times: more than the two retries allowed here.
    fake_anthropic.config.scripted = deque([429, 429, 429])
    fake_anthropic.config.retry_after_s = 0.01
    run = run_create(dataset="small", prompt_set="paper-v1", provider="anthropic")
    progress = run_execute(run=run, provider=live_provider(fake_anthropic))
    # The refused request was the first conversation's filter, so its other features were not asked.
    assert (progress.total, progress.failed, progress.parse_errors) == (4 + 3 * 5, 1, 3)
    report = run_report(run=run)
    by_kind = {(f["feature"], f["status"]) for f in report["failures"]}
    assert ("subjectivity", "failed") in by_kind
    assert ("response_type", "parse_error") in by_kind
    refused = next(f for f in report["failures"] if f["status"] == "failed")
    assert "429" in refused["error"]
    assert refused["attempts"] == 3
    malformed = next(f for f in report["failures"] if f["status"] == "parse_error")
    assert malformed["raw_text"].startswith("<thinking>")
    assert "no <answer>" in malformed["error"]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    # Real usage flowed through: the shared codebook prefix was cached and read by later requests.
    assert report["costs"]["cache_read_input_tokens"] > 0
    assert report["costs"]["cost_usd"] > 0

    # Rerun: only the refused item (and the features it gates) is requested again.
    before = len(fake_anthropic.requests("message", 200))
    run_execute(run=run, provider=live_provider(fake_anthropic))
    assert len(fake_anthropic.requests("message", 200)) - before == 1 + 5
    assert fake_anthropic.duplicates() == {}
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED


@pytest.mark.django_db
def test_batch_run_interrupted_after_submission_resumes_without_resubmitting(
    small_dataset: Any, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.config.subjective_fraction = 0.5
    fake_anthropic.config.batch_processing_s = 0.2

    def batches() -> MessageBatches:
        client = make_client(api_key="test-key", base_url=fake_anthropic.base_url, timeout_s=5)
        return MessageBatches(client=client, retry=RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02))

    run = run_create(dataset="small", prompt_set="paper-v1", provider="anthropic", batch=True)
    step = run_batch_step(run=run, batches=batches())
    assert (step.action, step.requests) == ("submitted", 4)  # the filter first, for every conversation
    assert ExtractionBatch.objects.get(run=run).batch_id == step.batch_id
    # The process dies here. A new one picks the run up from the persisted batch id.
    progress = run_batch_execute(run=run, batches=batches(), poll_interval_s=0.05)
    creates = fake_anthropic.requests("batch_create", None)
    assert len(creates) == 2  # the filter batch, then one batch of the gated features; never the same twice
    assert progress.pending == 0
    assert progress.failed == 0
    subjective = Extraction.objects.filter(feature="subjectivity", labels__0="yes").count()
    assert progress.total == 4 + subjective * 5
    assert Extraction.objects.filter(status=ExtractionStatus.OK).count() + progress.parse_errors == progress.total
    assert set(Extraction.objects.values_list("batch", flat=True)) == {True}
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    # Batch prices are half: each row costs half of what the same usage costs live.
    row = Extraction.objects.filter(feature="subjectivity").first()
    assert row is not None
    usage = TokenCounts(
        row.input_tokens, row.output_tokens, row.cache_creation_input_tokens, row.cache_read_input_tokens
    )
    price = price_for(row.model, settings_prices())
    assert row.cost_usd == call_cost(usage, price, batch=True) > 0
    assert row.cost_usd < call_cost(usage, price)


class ProcessDiedError(Exception):
    """Stands for the process being killed at that point (nothing after it runs)."""


class DiesAfterSubmit(MessageBatches):
    """The API accepted the batch and returned its id; the process dies before the id is saved."""

    def submit(self, calls: Sequence[LLMCall]) -> str:
        super().submit(calls)
        raise ProcessDiedError


class DiesBeforeSubmit(MessageBatches):
    """The process dies after the batch row was written, before the request reached the API."""

    def submit(self, calls: Sequence[LLMCall]) -> str:
        raise ProcessDiedError


def fake_batches(fake: FakeAnthropic, cls: type[MessageBatches] = MessageBatches) -> MessageBatches:
    client = make_client(api_key="test-key", base_url=fake.base_url, timeout_s=5)
    return cls(client=client, retry=RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02))


def assert_each_item_extracted_once(fake: FakeAnthropic, run: Any) -> None:
    per_request = Counter(r.custom_id for r in fake.requests("batch_item", None))
    assert per_request
    assert set(per_request.values()) == {1}, "a request was processed in two batches"
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    rows = Extraction.objects.filter(run=run)
    keys = list(rows.values_list("conversation_id", "feature"))
    assert len(keys) == len(set(keys)) == run.total_items


@pytest.mark.django_db
def test_batch_run_dying_between_submit_and_saving_the_id_adopts_the_batch(
    small_dataset: Any, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.config.subjective_fraction = 0.5
    fake_anthropic.config.batch_processing_s = 1.0  # still processing when the run restarts
    run = run_create(dataset="small", prompt_set="paper-v1", provider="anthropic", batch=True)
    with pytest.raises(ProcessDiedError):
        run_batch_step(run=run, batches=fake_batches(fake_anthropic, DiesAfterSubmit))
    fake_anthropic.config.batch_processing_s = 0.1
    (accepted,) = fake_anthropic.batches
    row = ExtractionBatch.objects.get(run=run)
    assert (row.status, row.batch_id, row.request_count) == (BatchStatus.SUBMITTING, "", 4)
    # Another client's batch of the same size, created later (so listed first) and already ended
    # (so it is the first candidate checked), is not ours: its custom_ids tell.
    fake_anthropic.config.batch_processing_s = 0.0
    other = fake_batches(fake_anthropic)
    decoy = other.submit(
        [LLMCall(custom_id=f"other-{i}", model="claude-haiku-4-5", parts=call_parts(), max_tokens=50) for i in range(4)]
    )
    assert other.wait(decoy, poll_interval_s=0.02, timeout_s=5).ended

    steps: list[str] = []
    run_batch_execute(
        run=run, batches=fake_batches(fake_anthropic), poll_interval_s=0.05, on_step=lambda s: steps.append(s.action)
    )
    # The batches were still processing at the restart: the run waited to verify, then adopted.
    assert steps[0] == "waiting"
    row.refresh_from_db()
    assert (row.batch_id, row.status) == (accepted, BatchStatus.COLLECTED)
    assert decoy not in set(ExtractionBatch.objects.values_list("batch_id", flat=True))
    creates = [r.key for r in fake_anthropic.requests("batch_create", None)]
    # The filter batch once (never again), the decoy, then the gated features of the passed conversations.
    assert creates[:2] == [accepted, decoy]
    assert len(creates) == 3
    assert_each_item_extracted_once(fake_anthropic, run)


@pytest.mark.django_db
def test_batch_run_dying_before_the_api_saw_the_batch_submits_it_once(
    small_dataset: Any, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.config.subjective_fraction = 0.5
    fake_anthropic.config.batch_processing_s = 0.1
    run = run_create(dataset="small", prompt_set="paper-v1", provider="anthropic", batch=True)
    with pytest.raises(ProcessDiedError):
        run_batch_step(run=run, batches=fake_batches(fake_anthropic, DiesBeforeSubmit))
    assert fake_anthropic.requests("batch_create", None) == []
    row = ExtractionBatch.objects.get(run=run)
    fingerprint = row.fingerprint
    progress = run_batch_execute(run=run, batches=fake_batches(fake_anthropic), poll_interval_s=0.05)
    assert progress.pending == 0
    row.refresh_from_db()
    assert row.status == BatchStatus.COLLECTED
    # Resubmitted from the row's own items: the same requests as the interrupted attempt.
    assert len(fingerprint) == 64
    assert row.fingerprint == fingerprint
    assert len(fake_anthropic.requests("batch_create", None)) == 2  # the filter batch, then the gated one
    assert_each_item_extracted_once(fake_anthropic, run)


def call_parts() -> Any:
    from extraction.llm_types import PromptParts

    return PromptParts(system="", transcript="<conversation>\nHuman: hi\n</conversation>", instructions="Task?")


@pytest.mark.django_db
def test_batch_run_started_through_the_api(
    small_dataset: Any, fake_anthropic: FakeAnthropic, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from accounts.roles import Role, user_add_role

    settings.ANTHROPIC_BASE_URL = fake_anthropic.base_url
    settings.ANTHROPIC_API_KEY = "test-key"
    settings.EXTRACTION_BATCH_POLL_S = 0.05
    fake_anthropic.config.batch_processing_s = 0.1
    user = get_user_model().objects.create_user(username="pe", password="pw-long-enough-1")
    user_add_role(user=user, role=Role.PROMPT_ENGINEER)
    client = APIClient()
    client.force_authenticate(user)
    body = {"dataset": "small", "prompt_set": "paper-v1", "provider": "anthropic", "batch": True, "limit": 2}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/extraction/runs/", body, format="json")
    assert response.status_code == 201, response.content
    report = client.get(f"/api/extraction/runs/{response.json()['id']}/").json()
    assert report["status"] == RunStatus.SUCCEEDED
    assert report["progress"]["pending"] == 0
    assert report["progress"]["conversations"] == 2
    assert {b["status"] for b in report["batches"]} == {"collected"}
    assert len(fake_anthropic.requests("message", None)) == 0  # everything went through batches
