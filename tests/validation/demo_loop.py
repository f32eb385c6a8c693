"""The demo without Label Studio: the sample dataset, its recorded paper-v1, fused-v1 and paper-v2 outputs, and
the example reviews of ``sample/reviews.jsonl`` taken in through intake exactly as Label Studio would deliver them.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.core.management import call_command

from annotate import demo, labeling_config, services
from annotate.label_studio import LsAnnotation
from annotate.models import LabelStudioProject, LabelStudioTask, ReviewSample
from extraction.models import ExtractionRun

REPO = Path(__file__).resolve().parents[2]


@dataclass
class DemoLoop:
    run: ExtractionRun
    sample: ReviewSample
    reviews: list[demo.ExampleReview]


# (prompt set, on every conversation rather than those the filter passes), as the demo extracts them.
DEMO_PROMPT_SETS: tuple[tuple[str, bool], ...] = (("paper-v1", False), ("fused-v1", False), ("paper-v2", True))


def demo_loop(*, prompt_sets: Sequence[tuple[str, bool]] = DEMO_PROMPT_SETS) -> DemoLoop:
    """Import, extract ``prompt_sets`` (by default the demo's three, from recorded responses), draw the demo's sample
    of the paper-v1 run, assign every reviewer every conversation (as ``annotate.demo`` does), number the tasks as if
    pushed, and take the example reviews in through intake."""
    call_command("import_conversations", str(REPO / "sample" / "conversations.jsonl"), dataset="sample")
    for prompt_set, every in prompt_sets:
        call_command(
            "extract",
            dataset="sample",
            prompts=prompt_set,
            provider="replay",
            all_conversations=every,
            no_progress=True,
            stdout=io.StringIO(),
        )
    run = ExtractionRun.objects.get(dataset__name="sample", prompt_set="paper-v1")
    reviews = demo.example_reviews_read()
    population = run.extractions.values("conversation_id").distinct().count()
    sample = services.review_sample_create(
        run_id=run.pk,
        strategy="random",
        size=population,
        seed=demo.DEMO_SEED,
        features=sorted({r.review.feature for r in reviews}),
        name=demo.DEMO_SAMPLE_NAME,
    )
    emails = sorted({r.reviewer.lower() for r in reviews})
    annotators = [services.annotator_get_or_create(email=e).pk for e in emails]
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=annotators, reviewers_per_item=len(emails))
    for n, project in enumerate(LabelStudioProject.objects.filter(sample=sample).order_by("pk"), start=1):
        project.label_studio_project_id = 500 + n
        project.save(update_fields=["label_studio_project_id"])
    grouped: dict[tuple[str, str], list[demo.ExampleReview]] = defaultdict(list)
    for r in reviews:
        grouped[(r.reviewer.lower(), r.conversation)].append(r)
    annotations = []
    for n, task in enumerate(
        LabelStudioTask.objects.filter(project__sample=sample).select_related(
            "project__annotator", "item__conversation"
        )
    ):
        task.label_studio_task_id = 10_000 + n
        task.save(update_fields=["label_studio_task_id"])
        mine = grouped.get((task.project.annotator.email, task.item.conversation.external_id))
        if mine:
            annotations.append(
                LsAnnotation(
                    annotation_id=20_000 + n,
                    task_id=10_000 + n,
                    completed_by=None,
                    result=[region for r in mine for region in labeling_config.review_result(r.review)],
                    lead_time=sum(r.lead_time_s for r in mine),
                    updated_at="2026-11-27T10:00:00+00:00",
                    was_cancelled=False,
                )
            )
    services.annotations_upsert(annotations=annotations)
    return DemoLoop(run=run, sample=sample, reviews=reviews)
