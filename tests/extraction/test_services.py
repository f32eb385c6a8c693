"""Extraction runs: gating, idempotent reruns, resume after a crash, failures, sampling, fused prompts, costs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from corpus.models import Conversation
from extraction.llm_types import LLMCall, LLMResult, Usage
from extraction.models import Extraction, ExtractionRun, ExtractionStatus, RunStatus
from extraction.replay import MissingRecordingError, ReplayProvider
from extraction.selectors import run_conversations, run_conversations_unsliced, run_items
from extraction.services import (
    InvalidTransitionError,
    RunError,
    conversation_extract,
    run_create,
    run_execute,
    run_transition,
)
from tests.extraction.conftest import SUBJECTIVE, RecordingsWriter

GATED = ("ai_values", "human_values", "response_type", "task", "ai_values_stated")


class Counting:
    """A provider that forwards to another and counts the calls (optionally failing after some)."""

    def __init__(self, inner: Any, *, crash_after: int | None = None, error_for: set[str] | None = None) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.crash_after = crash_after
        self.error_for = error_for or set()

    def expect(self, custom_id: str, key: Any) -> None:
        self.inner.expect(custom_id, key)

    def complete(self, call: LLMCall) -> LLMResult:
        if self.crash_after is not None and len(self.calls) >= self.crash_after:
            raise KeyboardInterrupt("worker killed")
        self.calls.append(call.custom_id)
        if any(part in call.custom_id for part in self.error_for):
            return LLMResult(call.custom_id, "", Usage(), 5, error="HTTP 529 overloaded_error: Overloaded", attempts=7)
        return self.inner.complete(call)


def replay(path: Any) -> ReplayProvider:
    return ReplayProvider.from_file(path)


def run_small(**kw: Any) -> ExtractionRun:
    return run_create(dataset="small", prompt_set=kw.pop("prompt_set", "paper-v1"), provider="replay", **kw)


def rows(run: ExtractionRun | None = None, **filters: Any) -> list[Extraction]:
    qs = Extraction.objects.select_related("conversation").filter(**filters)
    return list(qs.filter(run=run) if run else qs)


@pytest.mark.django_db
def test_value_features_run_only_where_the_filter_passes(
    small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    write_recordings()
    run = run_small()
    progress = run_execute(run=run)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert (progress.conversations, progress.subjective, progress.total, progress.done) == (4, 2, 4 + 2 * 5, 14)
    subjectivity = {r.conversation.external_id: r.labels for r in rows(feature="subjectivity")}
    assert subjectivity == {"s1": ["yes"], "s2": ["yes"], "o1": ["no"], "o2": ["no"]}
    gated = {(r.conversation.external_id, r.feature) for r in rows() if r.feature != "subjectivity"}
    assert gated == {(c, f) for c in SUBJECTIVE for f in GATED}
    ai = rows(feature="ai_values")[0]
    assert ai.labels == ["user autonomy", "honesty"]
    assert ai.thinking == "The AI weighs options."
    assert ai.prompt_version.prompt_set == "paper-v1"
    assert ai.model == "claude-sonnet-4-6"
    assert rows(feature="task")[0].model == "claude-haiku-4-5"


@pytest.mark.django_db
def test_all_option_runs_every_feature_on_every_conversation(
    small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    write_recordings()
    run = run_small(all_conversations=True)
    progress = run_execute(run=run)
    assert progress.total == progress.done == 4 * 6
    assert len(rows()) == 24


@pytest.mark.django_db
def test_rerun_skips_what_is_done(small_dataset: Any, write_recordings: RecordingsWriter) -> None:
    path = write_recordings()
    first = Counting(replay(path))
    run_execute(run=run_small(), provider=first)  # type: ignore[arg-type]
    assert len(first.calls) == 14
    again = Counting(replay(path))
    second = run_small()
    progress = run_execute(run=second, provider=again)  # type: ignore[arg-type]
    assert again.calls == []
    assert progress.done == progress.total == 14
    second.refresh_from_db()
    assert second.status == RunStatus.SUCCEEDED
    assert Extraction.objects.count() == 14


@pytest.mark.django_db
def test_crashed_run_resumes_and_extracts_each_item_exactly_once(
    small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    path = write_recordings()
    run = run_small()
    crashing = Counting(replay(path), crash_after=5)
    with pytest.raises(KeyboardInterrupt):
        run_execute(run=run, provider=crashing)  # type: ignore[arg-type]
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    assert Extraction.objects.count() == 5
    resumed = Counting(replay(path))
    run_execute(run=run, provider=resumed)  # type: ignore[arg-type]
    assert len(resumed.calls) == 14 - 5
    assert set(crashing.calls).isdisjoint(resumed.calls)
    keys = [(r.conversation_id, r.feature) for r in rows()]
    assert len(keys) == len(set(keys)) == 14
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED


@pytest.mark.django_db
def test_failed_requests_are_reported_and_retried_by_the_next_pass(
    small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    from extraction.selectors import run_report

    path = write_recordings()
    run = run_small()
    s1 = small_dataset.conversations.get(external_id="s1").pk
    flaky = Counting(replay(path), error_for={f"c{s1}-ai_values-"})
    progress = run_execute(run=run, provider=flaky)  # type: ignore[arg-type]
    assert (progress.done, progress.failed) == (13, 1)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "1 item(s) failed" in run.error
    failure = run_report(run=run)["failures"]
    assert [(f["conversation"], f["feature"], f["status"]) for f in failure] == [("s1", "ai_values", "failed")]
    assert "529" in failure[0]["error"]
    assert failure[0]["attempts"] == 7
    healthy = Counting(replay(path))
    run_execute(run=run, provider=healthy)  # type: ignore[arg-type]
    assert len(healthy.calls) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert rows(feature="ai_values", conversation__external_id="s1")[0].status == ExtractionStatus.OK


@pytest.mark.django_db
def test_parse_error_keeps_the_raw_text_and_shows_in_the_report(
    small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    from extraction.selectors import run_report

    bad = "<thinking>Hmm.</thinking><answer>enthusiastic agreement</answer>"
    write_recordings(overrides={("s2", "response_type"): bad})
    run = run_small()
    progress = run_execute(run=run)
    assert (progress.done, progress.parse_errors, progress.failed) == (14, 1, 0)
    row = rows(feature="response_type", conversation__external_id="s2")[0]
    assert (row.status, row.raw_text, row.labels) == (ExtractionStatus.PARSE_ERROR, bad, [])
    report = run_report(run=run)
    assert report["failures"][0]["raw_text"] == bad
    assert "not one of" in report["failures"][0]["error"]


@pytest.mark.django_db
def test_missing_recording_is_a_clear_error(small_dataset: Any, write_recordings: RecordingsWriter) -> None:
    write_recordings(overrides={("s2", "human_values"): None})
    run = run_small()
    with pytest.raises(MissingRecordingError, match=r"conversation 's2' of dataset 'small', feature 'human_values'"):
        run_execute(run=run)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "'s2'" in run.error


@pytest.mark.django_db
def test_edited_prompt_does_not_replay_old_recordings(small_dataset: Any, write_recordings: RecordingsWriter) -> None:
    from extraction.models import PromptVersion

    write_recordings()
    run = run_small(features=["subjectivity"])
    version = PromptVersion.objects.get(pk=run.options["prompt_versions"]["subjectivity"])
    version.content_hash = "0" * 64  # as if the prompt had been edited since recording
    version.save()
    with pytest.raises(MissingRecordingError, match="other prompt versions"):
        run_execute(run=run)


@pytest.mark.django_db
def test_samples_store_labels_and_agreement(small_dataset: Any, write_recordings: RecordingsWriter) -> None:
    def values(v: str) -> str:
        return f"<thinking>t</thinking><answer>{v}</answer>"

    def rtype(label: str) -> str:
        return f"<thinking>t</thinking><answer>{label}</answer>"

    subj = "Sure, the answer to the question is: <answer>{}</answer>"
    samples: dict[tuple[str, str], list[str]] = {}
    for cid in ("s1", "s2", "o1", "o2"):
        word = "Yes" if cid in SUBJECTIVE else "No"
        samples[(cid, "subjectivity")] = [subj.format(word)] * 3
        for f in GATED:
            samples[(cid, f)] = [values("a, b")] * 3
    samples[("s1", "ai_values")] = [values("a, b"), values("a, c"), values("a, b")]
    samples[("s1", "response_type")] = [rtype("reframing"), rtype("mild_support"), rtype("reframing")]
    samples[("s1", "task")] = ["Advise", "Advise", "Plan a trip"]
    write_recordings(samples=samples)
    run = run_small(samples=3)
    assert run.options["temperature"] > 0
    run_execute(run=run)
    ai = rows(feature="ai_values", conversation__external_id="s1")[0]
    # Jaccard: {a,b}-{a,c} = 1/3, {a,b}-{a,b} = 1, {a,c}-{a,b} = 1/3 -> mean 5/9; medoid {a,b}.
    assert ai.confidence == pytest.approx(5 / 9)
    assert ai.labels == ["a", "b"]
    assert ai.samples == [["a", "b"], ["a", "c"], ["a", "b"]]
    rt = rows(feature="response_type", conversation__external_id="s1")[0]
    assert (rt.labels, rt.confidence) == (["reframing"], pytest.approx(2 / 3))
    assert rows(feature="ai_values", conversation__external_id="s2")[0].confidence == 1.0
    assert rows(feature="subjectivity", conversation__external_id="o1")[0].confidence == 1.0
    # Three requests per item: the usage of all three is counted.
    assert ai.input_tokens == 3 * 1000


@pytest.mark.django_db
def test_fused_prompt_writes_one_row_per_feature_from_one_call(
    small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    path = write_recordings("fused-v1")
    counting = Counting(replay(path))
    run = run_small(prompt_set="fused-v1")
    progress = run_execute(run=run, provider=counting)  # type: ignore[arg-type]
    assert len(counting.calls) == 4
    assert (progress.total, progress.done) == (4 + 2 * 5, 14)
    fused = rows(conversation__external_id="s1")
    assert {r.feature for r in fused} == {"subjectivity", *GATED}
    assert {r.prompt_version.feature for r in fused} == {"fused"}
    assert rows(feature="subjectivity", conversation__external_id="s1")[0].level == 4
    # The one request's usage is counted once, on the subjectivity row.
    assert sum(r.input_tokens for r in fused) == 1000
    # A rerun asks nothing again, not even for the conversations the filter dropped.
    again = Counting(replay(path))
    run_execute(run=run_small(prompt_set="fused-v1"), provider=again)  # type: ignore[arg-type]
    assert again.calls == []


@pytest.mark.django_db
def test_costs_per_extraction_run_and_thousand_conversations(
    small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    from extraction.selectors import run_costs

    write_recordings()
    run = run_small()
    run_execute(run=run)
    # Sonnet ($3 / $15 per MTok): 1000 in + 2000 cache write x1.25 + 3000 cache read x0.1 + 100 out
    sonnet = (Decimal(1000) * 3 + Decimal(2000) * 3 * Decimal("1.25") + Decimal(3000) * 3 * Decimal("0.1")) / 10**6
    sonnet += Decimal(100) * 15 / 10**6
    assert rows(feature="ai_values")[0].cost_usd == sonnet.quantize(Decimal("0.000001")) == Decimal("0.012900")
    haiku = (Decimal(1000) + Decimal(2000) * Decimal("1.25") + Decimal(300) + Decimal(100) * 5) / 10**6
    costs = run_costs(run=run)
    expected = 8 * sonnet + (4 + 2) * haiku
    assert costs["cost_usd"] == expected.quantize(Decimal("0.000001"))
    assert costs["conversations"] == 4
    assert costs["cost_usd_per_1000_conversations"] == (expected * 1000 / 4).quantize(Decimal("0.0001"))
    assert costs["cache_read_input_tokens"] == 14 * 3000
    assert costs["by_feature"]["subjectivity"]["extractions"] == 4


@pytest.mark.django_db
def test_run_create_validates_options(small_dataset: Any, write_recordings: RecordingsWriter) -> None:
    with pytest.raises(RunError, match="no dataset named 'nope'"):
        run_create(dataset="nope", prompt_set="paper-v1")
    with pytest.raises(RunError, match="no prompt set here"):
        run_create(dataset="small", prompt_set="paper-v9")
    with pytest.raises(RunError, match="no price for model 'mystery-model'"):
        run_create(dataset="small", prompt_set="paper-v1", models={"ai_values": "mystery-model"})
    with pytest.raises(RunError, match="batch mode needs the anthropic provider"):
        run_create(dataset="small", prompt_set="paper-v1", batch=True)
    run = run_create(dataset="small", prompt_set="paper-v1", features=["ai_values"])
    # The filter gates the value features, so it runs too.
    assert run.options["features"] == ["subjectivity", "ai_values"]
    assert run.model_map == {"subjectivity": "claude-haiku-4-5", "ai_values": "claude-sonnet-4-6"}


@pytest.mark.django_db
def test_models_per_feature_come_from_settings_then_options(
    small_dataset: Any, write_recordings: RecordingsWriter, settings: Any
) -> None:
    settings.EXTRACTION_MODELS = {"task": "claude-sonnet-4-5"}
    run = run_create(dataset="small", prompt_set="paper-v1", models={"ai_values": "claude-opus-4-5"})
    assert run.model_map["task"] == "claude-sonnet-4-5"
    assert run.model_map["ai_values"] == "claude-opus-4-5"
    assert run.model_map["human_values"] == "claude-sonnet-4-6"


@pytest.mark.django_db
def test_status_transitions_are_checked(small_dataset: Any, write_recordings: RecordingsWriter) -> None:
    write_recordings()
    run = run_small()
    with pytest.raises(InvalidTransitionError, match="from pending to succeeded"):
        run_transition(run=run, to=RunStatus.SUCCEEDED)
    run_execute(run=run)
    with pytest.raises(InvalidTransitionError):
        run_transition(run=run, to=RunStatus.RUNNING)


@pytest.mark.django_db
def test_task_for_a_cancelled_or_deleted_run_does_nothing(
    small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    write_recordings()
    run = run_small()
    run_transition(run=run, to=RunStatus.CANCELLED)
    conversation = small_dataset.conversations.first()
    assert conversation_extract(run_id=run.pk, conversation_id=conversation.pk) is None
    assert conversation_extract(run_id=10**9, conversation_id=conversation.pk) is None
    assert Extraction.objects.count() == 0


@pytest.mark.django_db
def test_a_run_on_listed_conversations_extracts_exactly_those(
    small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    write_recordings()
    ids = dict(Conversation.objects.filter(dataset=small_dataset).values_list("external_id", "pk"))
    # s2 and o2 come after s1 and o1 in id order: a "first N" run could not take them alone.
    run = run_small(conversation_ids=[ids["o2"], ids["s2"], ids["o2"]])
    assert run.options["conversation_ids"] == sorted([ids["s2"], ids["o2"]])
    progress = run_execute(run=run)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert (progress.conversations, progress.subjective, progress.total, progress.done) == (2, 1, 2 + 5, 7)
    assert {r.conversation.external_id for r in rows()} == {"s2", "o2"}
    assert {(r.conversation.external_id, r.feature) for r in rows() if r.feature != "subjectivity"} == {
        ("s2", f) for f in GATED
    }
    assert set(run_conversations(run=run).values_list("external_id", flat=True)) == {"s2", "o2"}
    assert set(run_conversations_unsliced(run=run).values_list("external_id", flat=True)) == {"s2", "o2"}
    # A whole-dataset run of the same set reuses nothing it should not: its items are every conversation's.
    whole = run_small()
    assert run_items(run=whole).count() == 7  # the listed run's rows are items of the wider run too
    assert run_execute(run=whole).done == 4 + 2 * 5


@pytest.mark.django_db
def test_listed_conversations_must_be_the_datasets_and_exclude_a_limit(
    small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    first = Conversation.objects.filter(dataset=small_dataset).order_by("pk").first()
    assert first is not None
    with pytest.raises(RunError, match="not both"):
        run_small(conversation_ids=[first.pk], limit=2)
    with pytest.raises(RunError, match="empty"):
        run_small(conversation_ids=[])
    with pytest.raises(RunError, match="1 listed conversation\\(s\\) are not in the run's dataset: 999999"):
        run_small(conversation_ids=[first.pk, 999999])
    assert not ExtractionRun.objects.exists()
