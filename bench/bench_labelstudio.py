"""Label Studio throughput: 10,000 tasks pushed, 10,000 annotations reconciled (`python -m bench.bench_labelstudio`).

Runs against a throwaway local Label Studio (started like the tests do) and a throwaway SQLite database
(or BENCH_DATABASE_URL). Each figure is compared in the same run with the one-by-one reference it
replaces: one request per task (instead of bulk imports of LABEL_STUDIO_PUSH_BATCH_SIZE), and one request
plus one ORM upsert per annotation (instead of chunked exports and bulk upserts). The references
are timed on a subset and scaled linearly. Medians of several runs.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
N = int(os.environ.get("BENCH_LS_N", "10000"))
RUNS = int(os.environ.get("BENCH_LS_RUNS", "3"))
REFERENCE_N = 200
WORK = Path(tempfile.mkdtemp(prefix="bench-labelstudio-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{WORK / 'bench.sqlite3'}")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from annotate import labeling_config, services  # noqa: E402
from annotate.label_studio import LabelStudio  # noqa: E402
from annotate.local_server import LocalLabelStudio, free_port  # noqa: E402
from annotate.models import Annotation, LabelStudioProject, ReviewSample  # noqa: E402
from annotate.services import push  # noqa: E402
from corpus.models import Conversation, Dataset  # noqa: E402
from extraction.models import Extraction, ExtractionRun, ExtractionStatus, PromptVersion  # noqa: E402

FEATURES = ["subjectivity", "ai_values", "human_values", "response_type", "task"]
SECTION = "Label Studio push and reconciliation (annotate)"


def _dataset(name: str, n: int) -> ExtractionRun:
    """``n`` synthetic conversations (marked as such) of four turns with one parsed extraction per feature."""
    dataset = Dataset.objects.create(name=name, description="Synthetic benchmark data, generated for the project.")
    run = ExtractionRun.objects.create(dataset=dataset, prompt_set="paper-v1", status="succeeded")
    versions = {
        f: PromptVersion.objects.get_or_create(prompt_set="paper-v1", feature=f, content_hash=f"bench-{f}")[0]
        for f in FEATURES
    }
    text = "I have been thinking about whether to accept the offer, weighing salary against time with family. " * 3
    conversations = Conversation.objects.bulk_create(
        Conversation(
            dataset=dataset,
            external_id=f"{name}-{i:06d}",
            source="openai",
            model="example-assistant-large",
            messages=[
                {"role": "user", "content": f"({i}) {text}"},
                {"role": "assistant", "content": "Here are a few questions that could help you decide. " * 6},
                {"role": "user", "content": "That helps. What would you prioritise?"},
                {"role": "assistant", "content": "It depends on your values; many people weigh stability. " * 4},
            ],
            content_hash=f"{name}-{i}",
            turn_count=4,
        )
        for i in range(n)
    )
    labels = {
        "subjectivity": ["yes"],
        "ai_values": ["helpfulness", "user autonomy"],
        "human_values": ["family security"],
        "response_type": ["mild_support"],
        "task": ["advise on a job offer"],
    }
    Extraction.objects.bulk_create(
        (
            Extraction(
                conversation=c,
                run=run,
                feature=f,
                prompt_version=versions[f],
                model="example-model",
                status=ExtractionStatus.OK,
                labels=labels[f],
                thinking="The assistant helps the user weigh options without deciding for them.",
                confidence=(i % 10) / 10,
            )
            for i, c in enumerate(conversations)
            for f in FEATURES
        ),
        batch_size=5000,
    )
    return run


def _sample(run: ExtractionRun, n: int, email: str) -> ReviewSample:
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=n, seed=1, features=FEATURES)
    annotator = services.annotator_get_or_create(email=email)
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=[annotator.pk], reviewers_per_item=1)
    return sample


def _review_result(i: int) -> list[dict[str, object]]:
    reviews = [
        labeling_config.FeatureReview(feature="ai_values", verdict="correct", reasoning_check="sound"),
        labeling_config.FeatureReview(
            feature="response_type", verdict="incorrect" if i % 5 == 0 else "correct", labels=["reframing"]
        ),
    ]
    return [region for r in reviews for region in labeling_config.review_result(r)]


def bench_push(client: LabelStudio) -> dict[str, float]:
    times = []
    for run_no in range(RUNS):
        sample = _sample(_dataset(f"push-{run_no}", N), N, f"push-{run_no}@example.org")
        start = time.perf_counter()
        report = services.sample_push(sample_id=sample.pk, client=client)
        times.append(time.perf_counter() - start)
        assert report.pushed == N, report
        print(f"  push run {run_no + 1}: {N} tasks in {times[-1]:.1f} s", flush=True)
    # Reference: one request per task, on a subset.
    sample = _sample(_dataset("push-ref", REFERENCE_N), REFERENCE_N, "push-ref@example.org")
    services.sample_push(sample_id=sample.pk, client=client, batch_size=1)  # creates the project and pushes
    project = LabelStudioProject.objects.get(sample=sample)
    links = list(project.tasks.order_by("pk"))
    payload = push._tasks_payload(sample, links, FEATURES, push._model_version(sample, FEATURES), None)
    start = time.perf_counter()
    for task in payload:
        client.task_create(project_id=int(project.label_studio_project_id or 0), task=task)
    reference = (time.perf_counter() - start) / REFERENCE_N * N
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "reference": reference}


def bench_reconcile(client: LabelStudio, admin_id: int) -> dict[str, float]:
    run = _dataset("reconcile", N)
    sample = _sample(run, N, "reconcile@example.org")
    annotator = sample.projects.get().annotator
    annotator.label_studio_user_id = admin_id
    annotator.save()
    # Set-up (not timed): Label Studio gets N tasks, each with one annotation, imported in bulk; our push then
    # finds and maps them by item id, exactly as after a crash.
    project = sample.projects.get()
    label_config = labeling_config.labeling_config_build(FEATURES)
    ls_id = client.project_create(title=project.title, label_config=label_config)
    project.label_studio_project_id = ls_id
    project.save()
    links = list(project.tasks.order_by("item__position"))
    version = push._model_version(sample, FEATURES)
    for i in range(0, len(links), 1000):
        payload = push._tasks_payload(sample, links[i : i + 1000], FEATURES, version, None)
        for j, task in enumerate(payload):
            task["annotations"] = [{"result": _review_result(i + j), "lead_time": 5.0 + j % 7}]
        client.tasks_import(project_id=ls_id, tasks=payload)
    start = time.perf_counter()
    recovered = services.sample_push(sample_id=sample.pk, client=client)
    recovery = time.perf_counter() - start
    assert recovered.recovered == N, recovered
    print(f"  mapping {N} tasks recovered by item id in {recovery:.1f} s", flush=True)

    times = []
    for run_no in range(RUNS):
        Annotation.objects.all().delete()
        start = time.perf_counter()
        report = services.annotations_reconcile(sample_id=sample.pk, client=client)
        times.append(time.perf_counter() - start)
        assert report.created == N, report
        assert Annotation.objects.count() == 2 * N
        print(f"  reconcile run {run_no + 1}: {N} annotations ({2 * N} rows) in {times[-1]:.1f} s", flush=True)
    start = time.perf_counter()
    again = services.annotations_reconcile(sample_id=sample.pk, client=client)
    unchanged = time.perf_counter() - start
    assert again.unchanged == N

    # Reference: one GET per annotation and one ORM upsert per row, on a subset.
    ids = list(
        Annotation.objects.filter(feature="ai_values")
        .order_by("pk")
        .values_list("label_studio_annotation_id", flat=True)[:REFERENCE_N]
    )
    start = time.perf_counter()
    for annotation_id in ids:
        ann = client.annotation_get(annotation_id)
        for review in labeling_config.annotation_parse(ann.result, FEATURES):
            with transaction.atomic():
                Annotation.objects.filter(label_studio_annotation_id=annotation_id, feature=review.feature).update(
                    verdict=review.verdict, corrected_labels=review.labels, lead_time_s=ann.lead_time
                )
    reference = (time.perf_counter() - start) / REFERENCE_N * N
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "reference": reference,
        "recovery": recovery,
        "unchanged": unchanged,
    }


def _row(what: str, figures: dict[str, float], reference: str) -> str:
    spread = f"{figures['median']:.1f} s ({figures['min']:.1f}-{figures['max']:.1f})"
    speedup = figures["reference"] / figures["median"]
    return f"| {what} | {spread} | {figures['reference']:.1f} s ({reference}) | {speedup:.1f}x |"


def _write(push: dict[str, float], reconcile: dict[str, float], database: str) -> None:
    push_row = _row(f"push {N} tasks with predictions (bulk import, batches of 1000)", push, "one request per task")
    reconcile_row = _row(
        f"reconcile {N} annotations = {2 * N} rows (exports of 500 tasks, 2 in flight, bulk upserts)",
        reconcile,
        "one GET + ORM upsert per annotation",
    )
    body = f"""Environment: `BENCH_LS_N={N}`, `BENCH_LS_RUNS={RUNS}`; database: {database}.
A throwaway local Label Studio 1.23.2 (SQLite, Django runserver) on this 2-core machine; synthetic conversations of
four turns with five features each. Targets: 10,000 tasks pushed in at most 60 s, 10,000 annotations reconciled in
at most 60 s.

| what | median of {RUNS} (min-max) | one-by-one reference (scaled from {REFERENCE_N}) | speed-up |
| --- | --- | --- | --- |
{push_row}
{reconcile_row}

Also measured: after a lost import, mapping {N} existing tasks back to their items by the item id in their data took
{reconcile["recovery"]:.1f} s; a reconciliation that finds nothing new ({N} annotations unchanged) took
{reconcile["unchanged"]:.1f} s.
"""
    from bench.report import record

    record(SECTION, ".venv/bin/python -m bench.bench_labelstudio", body)


def main() -> None:
    call_command("migrate", interactive=False, verbosity=0)
    server = LocalLabelStudio(data_dir=WORK / "labelstudio", port=free_port(range(18080, 18100)))
    server.start()
    try:
        client = LabelStudio(url=server.url, api_key=server.api_key, timeout_s=600)
        admin_id = client.whoami().user_id
        print(f"Label Studio at {server.url}; N={N}, runs={RUNS}", flush=True)
        push = bench_push(client)
        print(f"push: median {push['median']:.1f} s, reference {push['reference']:.1f} s", flush=True)
        reconcile = bench_reconcile(client, admin_id)
        print(f"reconcile: median {reconcile['median']:.1f} s, reference {reconcile['reference']:.1f} s", flush=True)
        database = "SQLite" if os.environ["DATABASE_URL"].startswith("sqlite") else "PostgreSQL"
        _write(push, reconcile, database)
    finally:
        server.stop()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
