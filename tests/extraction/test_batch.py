"""Message Batches against the fake server: submit, poll, results by custom_id, resume by id."""

from __future__ import annotations

import pytest

from extraction.llm import MessageBatches, RetryPolicy, make_client
from extraction.llm_types import LLMCall, PromptParts
from testing.fake_anthropic import FakeAnthropic

SYSTEM = "You analyze conversations between a user and an AI assistant. " * 120  # ~1,900 tokens: cacheable


def calls(n: int = 3) -> list[LLMCall]:
    out = []
    for i in range(n):
        for title in ("AI values", "Subjectivity filter"):
            prefill = "Sure, the answer to the question is: <answer>" if "Subj" in title else "<thinking>"
            out.append(
                LLMCall(
                    custom_id=f"conv{i}-{title.split()[0].lower()}",
                    model="claude-sonnet-4-5",
                    parts=PromptParts(
                        system=SYSTEM,
                        transcript=f"<conversation>\nHuman: question {i}\n\nAssistant: answer {i}\n</conversation>",
                        instructions=f'Perform the analysis "{title}" described above.',
                        prefill=prefill,
                    ),
                    max_tokens=200,
                )
            )
    return out


def batches(fake: FakeAnthropic) -> MessageBatches:
    client = make_client(api_key="test-key", base_url=fake.base_url, timeout_s=5)
    return MessageBatches(client=client, retry=RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02))


def test_submit_poll_results_matched_by_custom_id(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.batch_processing_s = 0.3
    mb = batches(fake_anthropic)
    submitted = calls()
    batch_id = mb.submit(submitted)
    first = mb.poll(batch_id)
    assert first.processing_status == "in_progress"
    assert first.processing == len(submitted)
    status = mb.wait(batch_id, poll_interval_s=0.05, timeout_s=10)
    assert status.ended
    assert status.succeeded == len(submitted)
    results = {r.custom_id: r for r in mb.results(batch_id, submitted)}
    assert set(results) == {c.custom_id for c in submitted}
    for call in submitted:
        result = results[call.custom_id]
        assert result.error is None
        # The prefill of *this* call is put back in front of its completion.
        assert result.text.startswith(call.parts.prefill)
        assert result.text.endswith("</answer>")
        assert result.usage.output_tokens > 0
    # The system prompt (shared by every request) was written once and read by the others.
    assert sum(r.usage.cache_read_input_tokens for r in results.values()) > 0


def test_resume_after_restart_fetches_instead_of_resubmitting(fake_anthropic: FakeAnthropic) -> None:
    submitted = calls(2)
    batch_id = batches(fake_anthropic).submit(submitted)  # the caller persists batch_id, then "crashes"

    restarted = batches(fake_anthropic)  # a new process: a new client, only the id survives
    status = restarted.wait(batch_id, poll_interval_s=0.05, timeout_s=10)
    results = list(restarted.results(batch_id, submitted))
    assert status.ended
    assert sorted(r.custom_id for r in results) == sorted(c.custom_id for c in submitted)
    assert all(r.error is None for r in results)
    assert len(fake_anthropic.requests("batch_create")) == 1
    assert len(fake_anthropic.requests("batch_item")) == len(submitted)


def test_errored_items_carry_their_error(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.error_fraction = 1.0
    mb = batches(fake_anthropic)
    batch_id = mb.submit(calls(1))
    status = mb.wait(batch_id, poll_interval_s=0.05, timeout_s=10)
    assert status.errored == 2
    results = list(mb.results(batch_id, calls(1)))
    assert all(r.error is not None and "api_error" in r.error for r in results)
    assert all(r.text == "" for r in results)


def test_unknown_custom_id_is_reported(fake_anthropic: FakeAnthropic) -> None:
    mb = batches(fake_anthropic)
    batch_id = mb.submit(calls(1))
    mb.wait(batch_id, poll_interval_s=0.05, timeout_s=10)
    results = list(mb.results(batch_id, calls(1)[:1]))
    assert [r.error is None for r in results] == [True, False]
    assert "was not submitted" in str(results[1].error)


def test_cancel_marks_unprocessed_items_canceled(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.batch_processing_s = 0.5
    mb = batches(fake_anthropic)
    batch_id = mb.submit(calls(2))
    assert mb.cancel(batch_id).processing_status == "canceling"
    status = mb.wait(batch_id, poll_interval_s=0.05, timeout_s=10)
    assert status.canceled == 4
    assert {r.error for r in mb.results(batch_id)} == {"batch item canceled"}


def test_duplicate_custom_ids_are_refused_before_submission(fake_anthropic: FakeAnthropic) -> None:
    c = calls(1)[0]
    with pytest.raises(ValueError, match="duplicate custom_id"):
        batches(fake_anthropic).submit([c, c])
    assert fake_anthropic.requests("batch_create") == []


def test_list_pages_newest_first_with_the_api_cursors(fake_anthropic: FakeAnthropic) -> None:
    mb = batches(fake_anthropic)
    created = [mb.submit(calls(1)) for _ in range(5)]
    newest_first = created[::-1]
    client = mb.client
    # The SDK follows has_more/last_id with after_id: every batch once, newest first, in pages of 2.
    assert [b.id for b in client.messages.batches.list(limit=2)] == newest_first
    assert len(fake_anthropic.requests("batch_list")) == 3
    page = client.messages.batches.list(limit=2, after_id=newest_first[1])
    assert ([b.id for b in page.data], page.has_more) == (newest_first[2:4], True)
    page = client.messages.batches.list(limit=2, before_id=newest_first[3])
    assert ([b.id for b in page.data], page.has_more) == (newest_first[1:3], True)
    page = client.messages.batches.list(limit=2, before_id=newest_first[1])
    assert ([b.id for b in page.data], page.has_more) == (newest_first[:1], False)
    counts = page.data[0].request_counts
    assert counts.processing + counts.succeeded == 2


def test_recent_stops_at_the_first_batch_older_than_since(fake_anthropic: FakeAnthropic) -> None:
    import time
    from datetime import UTC, datetime

    mb = batches(fake_anthropic)
    older = mb.submit(calls(1))
    time.sleep(0.05)
    since = datetime.now(UTC)
    newer = [mb.submit(calls(2)), mb.submit(calls(3))]
    listed = list(mb.recent(since=since, page_size=1))
    assert [b.batch_id for b in listed] == newer[::-1]
    assert [b.request_total for b in listed] == [6, 4]
    assert older not in {b.batch_id for b in listed}
    # Pages of one: the two newer batches, then the page whose batch is too old ends the listing.
    assert len(fake_anthropic.requests("batch_list")) == 3


def test_result_custom_ids_reads_the_first_results(fake_anthropic: FakeAnthropic) -> None:
    mb = batches(fake_anthropic)
    submitted = calls(3)
    batch_id = mb.submit(submitted)
    mb.wait(batch_id, poll_interval_s=0.05, timeout_s=10)
    ids = mb.result_custom_ids(batch_id, limit=4)
    assert len(ids) == 4
    assert set(ids) <= {c.custom_id for c in submitted}


def test_fingerprint_follows_the_requests_not_their_order() -> None:
    from extraction.llm import requests_fingerprint

    submitted = calls(2)
    assert requests_fingerprint(submitted) == requests_fingerprint(submitted[::-1])
    changed = [*submitted[:-1], LLMCall(**{**submitted[-1].__dict__, "max_tokens": 201})]
    assert requests_fingerprint(changed) != requests_fingerprint(submitted)
