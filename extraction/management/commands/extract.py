"""`python manage.py extract --dataset NAME --prompts SET [--features …] [--limit N] [--batch] [--provider …]`."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from extraction import selectors
from extraction.llm_types import LLMConfigurationError, LLMUnavailableError
from extraction.management.commands._report import report_lines
from extraction.models import ExtractionRun, RunStatus
from extraction.replay import MissingRecordingError
from extraction.services import (
    PROVIDERS,
    BatchStep,
    RunError,
    provider_check,
    run_create,
    run_find_resumable,
    run_incomplete_conversation_ids,
    run_launch,
)


def _model_overrides(values: list[str]) -> dict[str, str]:
    overrides = {}
    for value in values:
        feature, sep, model = value.partition("=")
        if not sep or not feature or not model:
            raise CommandError(f"--model {value!r}: expected FEATURE=MODEL, e.g. ai_values=claude-sonnet-4-5")
        overrides[feature.strip()] = model.strip()
    return overrides


class Command(BaseCommand):
    help = (
        "Pre-label a dataset with a prompt set (paper-v1: the paper's six features). Resumes an unfinished run "
        "with the same options; items already extracted are skipped. Value features run only on conversations "
        "the subjectivity filter passes, unless --all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--prompts", required=True, help="prompt set, a directory of prompts/ (e.g. paper-v1)")
        parser.add_argument("--features", nargs="+", help="only these features (default: all of the set)")
        parser.add_argument("--limit", type=int, help="only the first N conversations of the dataset")
        parser.add_argument("--batch", action="store_true", help="use the Message Batches API (half price)")
        parser.add_argument("--provider", choices=PROVIDERS, default=None, help="default: EXTRACTION_PROVIDER")
        parser.add_argument("--samples", type=int, default=1, help="answer each item N times; store agreement")
        parser.add_argument("--all", dest="all_conversations", action="store_true", help="skip the gating filter")
        parser.add_argument("--model", action="append", default=[], metavar="FEATURE=MODEL", help="model override")
        parser.add_argument("--queue", action="store_true", help="queue to Celery workers and watch the progress")
        parser.add_argument("--new", action="store_true", help="start a new run even if one can be resumed")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        provider = opts["provider"] or settings.EXTRACTION_PROVIDER
        features = [f for value in opts["features"] or [] for f in value.split(",") if f]
        models = _model_overrides(opts["model"])
        options = {
            "limit": opts["limit"],
            "conversation_ids": None,  # never resume a run on listed conversations (a gold set's) for a dataset
            "samples": opts["samples"],
            "all_conversations": opts["all_conversations"],
            "batch": opts["batch"],
        }
        try:
            provider_check(provider=provider)
        except RunError as exc:
            raise CommandError(str(exc)) from exc
        run = None
        if not opts["new"] and not models:
            run = run_find_resumable(
                dataset=opts["dataset"], prompt_set=opts["prompts"], features=features, options=options
            )
            if run is not None and run.provider != provider:
                run = None
            if run is None:
                done = run_find_resumable(
                    dataset=opts["dataset"],
                    prompt_set=opts["prompts"],
                    features=features,
                    options=options,
                    provider=provider,
                    finished=True,
                )
                if done is not None:
                    self.stdout.write(f"run {done.pk} already extracted every item with these options; nothing to do")
                    for line in report_lines(selectors.run_report(run=done, failure_limit=30)):
                        self.stdout.write(line)
                    return
        try:
            if run is None:
                run = run_create(
                    dataset=opts["dataset"],
                    prompt_set=opts["prompts"],
                    features=features or None,
                    models=models,
                    provider=provider,
                    created_by=None,
                    **options,
                )
                self.stdout.write(f"run {run.pk}: created ({run.total_items} items so far)")
            else:
                self.stdout.write(f"run {run.pk}: resuming ({run.done_items}/{run.total_items} items done)")
            self._run(run, opts)
        except (RunError, MissingRecordingError, LLMConfigurationError) as exc:
            raise CommandError(str(exc)) from exc
        except LLMUnavailableError as exc:
            assert run is not None
            raise CommandError(f"{exc}; run {run.pk} is kept: run the same command again to resume it") from exc
        run.refresh_from_db()
        for line in report_lines(selectors.run_report(run=run, failure_limit=30)):
            self.stdout.write(line)
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"run {run.pk} ended {run.status}: {run.error or 'see the report above'}")

    def _run(self, run: ExtractionRun, opts: dict[str, Any]) -> None:
        quiet = opts["no_progress"] or opts["verbosity"] == 0
        if run.options.get("batch"):
            bar = tqdm(desc="batch", unit=" step", disable=quiet)
        else:
            total = 0 if opts["queue"] else len(run_incomplete_conversation_ids(run=run))
            bar = tqdm(total=total, desc=f"run {run.pk}", unit=" conv", disable=quiet or opts["queue"])

        def on_step(step: BatchStep) -> None:
            bar.set_postfix_str(f"{step.action} {step.batch_id} {step.requests or ''} {step.detail}".strip())
            bar.update(1)

        def on_conversation(outcome: Any) -> None:
            run.refresh_from_db(fields=["done_items", "total_items", "failed_items"])
            bar.update(1)
            bar.set_postfix(items=f"{run.done_items}/{run.total_items}", failed=run.failed_items)

        try:
            launch = run_launch(
                run=run, where="queue" if opts["queue"] else "inline", on_step=on_step, on_conversation=on_conversation
            )
        finally:
            bar.close()
        if launch.progress is None:
            what = "the batch polling" if launch.mode == "batch" else f"{launch.queued} conversations"
            self.stdout.write(f"run {run.pk}: queued {what}")
            self._watch(run, quiet)

    def _watch(self, run: ExtractionRun, quiet: bool) -> None:
        bar = tqdm(total=run.total_items, desc=f"run {run.pk}", unit=" item", disable=quiet)
        while True:
            run.refresh_from_db()
            bar.total = run.total_items
            bar.n = run.done_items + run.failed_items
            bar.refresh()
            if run.status not in (RunStatus.PENDING, RunStatus.RUNNING):
                break
            time.sleep(1.0)
        bar.close()
