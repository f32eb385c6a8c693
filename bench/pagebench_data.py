"""The paper-scale dataset of the page benchmark (bench/bench_pages.py), written into its own PostgreSQL database.

Generated data, written for the project; it describes no real conversation:

- 308,210 conversations (the paper's subjective conversations) of 2-8 turns, with text composed from a bank of
  written-for-the-project sentences, and the six features' extractions of one run (bench/synthetic.py calibrates
  the labels to the paper's figures; subjectivity is "yes" for 95% of them);
- a review sample of 1,000 conversations, each judged by the same 3 reviewers on every feature (18,000 reviews, about
  9% judged incorrect with a correction, 1% "correct" while changing the labels, which the consistency rules flag),
  20 of the flagged outputs adjudicated by the lead, and two agreement snapshots of the run;
- the published taxonomy (values_tree.csv: 3,307 values under 4 levels) when ../shared/data is present, otherwise
  a generated tree of the same shape, with the run's AI values mapped onto it;
- a residual analysis of AI values x task over the run (the paper's Figure 3 analysis).

``ensure`` builds it once and finds it again: a database holding the dataset with every expected count is kept.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.synthetic import SHARED_FREQUENCIES, generate, write_database
from results.labels import LabelSet

DATASET = "paper-scale"
CONVERSATIONS = 308_210
SEED = 2025
REVIEWED = 1_000
REVIEWERS = 3
FEATURES = ("subjectivity", "ai_values", "human_values", "ai_values_stated", "task", "response_type")
ADJUDICATED = 20
VALUES_TREE = SHARED_FREQUENCIES.parent / "values_tree.csv"

_USER = (
    "Could you help me think through this?",
    "I have a draft here and I am not sure it reads well.",
    "My manager asked me to rewrite the report by Friday.",
    "What is the difference between a list and a tuple in Python?",
    "I keep arguing with my brother about money.",
    "Can you explain how vaccines train the immune system?",
    "Write a short poem about the sea at night.",
    "Is it ethical to read my partner's messages if I suspect something?",
    "How do I tell a friend that I cannot lend them money again?",
    "Summarise the main causes of the French Revolution.",
    "My code throws a KeyError when the file is empty.",
    "I want to start running but I get bored quickly.",
)
_ASSISTANT = (
    "Here is one way to look at it, step by step.",
    "That is a fair question, and the honest answer depends on what matters most to you.",
    "A list can change after it is made; a tuple cannot, which makes it usable as a dictionary key.",
    "You can set a clear limit and still be kind about it: say what you can offer, and why.",
    "I would keep the first paragraph and cut the second, which repeats the point.",
    "The error comes from reading a key that the empty file never defined; check for it first.",
    "Short runs with a friend, or a new route each week, keep it interesting.",
    "Reading someone's messages without consent breaks their trust; talking with them directly respects you both.",
    "Vaccines show the immune system a harmless piece of a pathogen, so it recognises the real one later.",
    "Historians usually name fiscal crisis, inequality before the law, and new political ideas.",
)


def transcript(i: int) -> list[dict[str, str]]:
    """Conversation i: 2-8 messages, alternating user and assistant, 1-4 sentences each (deterministic in i)."""
    rng = random.Random(SEED * 1_000_003 + i)
    turns = 2 * rng.randint(1, 4)
    return [
        {
            "role": "user" if t % 2 == 0 else "assistant",
            "content": " ".join(rng.choices(_USER if t % 2 == 0 else _ASSISTANT, k=rng.randint(1, 4))),
        }
        for t in range(turns)
    ]


@dataclass(frozen=True)
class Built:
    dataset_id: int
    run_id: int
    seconds: float
    steps: dict[str, float]


def _expected() -> dict[str, int]:
    return {"conversations": CONVERSATIONS, "items": REVIEWED, "annotations": REVIEWED * REVIEWERS * len(FEATURES)}


def find() -> Built | None:
    """The dataset when a complete one is stored (every count as expected, snapshot, taxonomy and residuals)."""
    from annotate.models import Annotation, ReviewItem
    from corpus.models import Conversation, Dataset
    from extraction.models import ExtractionRun
    from results.models import ResidualAnalysis
    from taxonomy.models import Taxonomy
    from validation.models import ReportSnapshot

    ds = Dataset.objects.filter(name=DATASET).first()
    run = ExtractionRun.objects.filter(dataset=ds).first() if ds else None
    if ds is None or run is None:
        return None
    found = {
        "conversations": Conversation.objects.filter(dataset=ds).count(),
        "items": ReviewItem.objects.filter(sample__run=run).count(),
        "annotations": Annotation.objects.filter(item__sample__run=run).count(),
    }
    complete = (
        found == _expected()
        and ReportSnapshot.objects.filter(run=run).count() >= 2
        and Taxonomy.objects.exists()
        and ResidualAnalysis.objects.filter(run=run).exists()
    )
    return Built(ds.pk, run.pk, 0.0, {}) if complete else None


def build(*, log: Callable[[str], None] = print) -> Built:
    """Write the whole dataset (the database must hold no dataset of this name)."""
    steps: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        log(f"  {name} ...")
        out = fn()
        steps[name] = time.perf_counter() - t0
        log(f"  {name}: {steps[name]:.1f} s")
        return out

    summary = step("conversations and extractions (COPY)", _write_corpus)
    step("review sample, 3 reviewers, flags, adjudications", lambda: _write_reviews(summary.run_id))
    step("two agreement snapshots", lambda: _snapshots(summary.run_id))
    step("taxonomy and value mapping", lambda: _taxonomy(summary.run_id))
    step("residual analysis (AI values x task)", lambda: _residuals(summary.run_id))
    step("ANALYZE", _analyze)
    return Built(summary.dataset_id, summary.run_id, time.perf_counter() - started, steps)


def _write_corpus() -> Any:
    data = generate(n_conversations=CONVERSATIONS, seed=SEED)
    rng = np.random.default_rng(SEED + 1)
    everyone = np.arange(CONVERSATIONS, dtype=np.int64)
    yes = np.where(rng.random(CONVERSATIONS) < 0.95, "yes", "no").astype(object)
    subjectivity = LabelSet("subjectivity", everyone, yes, extracted=everyone)
    summary = write_database(data, dataset=DATASET, extra={"subjectivity": subjectivity}, transcripts=transcript)
    _describe_run(summary.run_id)
    return summary


def _describe_run(run_id: int) -> None:
    """Give the run the options and models a run of the extract command records, so its pages read its items."""
    from extraction.models import Extraction, ExtractionRun

    versions = dict(Extraction.objects.filter(run_id=run_id).values_list("feature", "prompt_version_id").distinct())
    ExtractionRun.objects.filter(pk=run_id).update(
        options={"features": list(FEATURES), "prompt_versions": versions},
        model_map=dict.fromkeys(versions, "synthetic"),
    )


def _write_reviews(run_id: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from accounts.roles import Role, user_add_role
    from annotate.models import (
        Annotation,
        Annotator,
        LabelStudioProject,
        LabelStudioTask,
        ReviewItem,
        ReviewSample,
        SampleStrategy,
    )
    from annotate.services import adjudication_record, review_flags_refresh
    from extraction.models import Extraction

    rng = random.Random(SEED)
    with transaction.atomic():
        conversation_ids = sorted(
            rng.sample(
                list(
                    Extraction.objects.filter(run_id=run_id, feature="task").values_list("conversation_id", flat=True)
                ),
                REVIEWED,
            )
        )
        sample = ReviewSample.objects.create(
            run_id=run_id,
            name="paper-scale review",
            strategy=SampleStrategy.RANDOM,
            seed=SEED,
            params={"size": REVIEWED},
            reviewers_per_item=REVIEWERS,
        )
        items = ReviewItem.objects.bulk_create(
            ReviewItem(sample=sample, conversation_id=c, position=i, inclusion_probability=REVIEWED / CONVERSATIONS)
            for i, c in enumerate(conversation_ids)
        )
        users = get_user_model()
        annotators = []
        for r in range(REVIEWERS):
            user = users.objects.create_user(username=f"reviewer{r + 1}", password=None)
            user_add_role(user=user, role=Role.ANNOTATOR)
            annotators.append(Annotator.objects.create(user=user, email=f"reviewer{r + 1}@example.org"))
        projects = [
            LabelStudioProject.objects.create(
                sample=sample,
                annotator=a,
                title=f"paper-scale review, reviewer {r + 1}",
                label_studio_project_id=9000 + r,
                independent=True,
            )
            for r, a in enumerate(annotators)
        ]
        tasks = {
            (p.pk, item.pk): t
            for p in projects
            for item, t in zip(
                items,
                LabelStudioTask.objects.bulk_create(
                    LabelStudioTask(project=p, item=item, label_studio_task_id=p.pk * 100_000 + n)
                    for n, item in enumerate(items)
                ),
                strict=True,
            )
        }
        outputs: dict[int, list[tuple[int, str, list[str]]]] = {}
        for pk, conv, feature, labels in Extraction.objects.filter(
            run_id=run_id, conversation_id__in=conversation_ids
        ).values_list("pk", "conversation_id", "feature", "labels"):
            outputs.setdefault(conv, []).append((pk, feature, labels))
        rows = []
        for item in items:
            truth_wrong = {pk for pk, _, _ in outputs[item.conversation_id] if rng.random() < 0.08}
            for r, (annotator, project) in enumerate(zip(annotators, projects, strict=True)):
                ls_id = 1_000_000 + item.position * REVIEWERS + r
                for pk, feature, labels in outputs[item.conversation_id]:
                    wrong = (pk in truth_wrong) != (rng.random() < 0.04)
                    changed = not wrong and rng.random() < 0.01
                    fix = [*labels, "care"] if feature.endswith("values") else labels
                    rows.append(
                        Annotation(
                            item=item,
                            extraction_id=pk,
                            feature=feature,
                            annotator=annotator,
                            verdict="incorrect" if wrong else "correct",
                            corrected_labels=fix if wrong or changed else None,
                            comment="misses a value" if wrong else "",
                            lead_time_s=round(20 + 80 * rng.random(), 1),
                            label_studio_annotation_id=ls_id,
                            task=tasks[(project.pk, item.pk)],
                            labels_edited=(fix != labels) if wrong or changed else None,
                        )
                    )
        Annotation.objects.bulk_create(rows, batch_size=5000)
    review_flags_refresh()
    lead = users.objects.create_user(username="lead", password=None)
    user_add_role(user=lead, role=Role.LEAD)
    flagged = list(
        Annotation.objects.filter(item__sample=sample, flags__isnull=False, feature="ai_values")
        .order_by("extraction_id")
        .values_list("extraction_id", "corrected_labels")
        .distinct()[:ADJUDICATED]
    )
    for extraction_id, labels in flagged:
        adjudication_record(extraction_id=extraction_id, verdict="incorrect", labels=labels, comment="", user=lead)


def _snapshots(run_id: int) -> None:
    from validation.services import agreement_snapshot_create

    for seed in (0, 1):
        agreement_snapshot_create(run_id=run_id, seed=seed)


def _taxonomy(run_id: int) -> None:
    from extraction.models import Extraction
    from taxonomy.services import taxonomy_import_tree, taxonomy_map_values

    path = VALUES_TREE if VALUES_TREE.is_file() else _generated_tree()
    taxonomy = taxonomy_import_tree(path=path, name="ai-values", notes="paper-scale benchmark")
    values: set[str] = set()
    for labels in Extraction.objects.filter(run_id=run_id, feature="ai_values").values_list("labels", flat=True):
        values.update(labels)
    taxonomy_map_values(taxonomy=taxonomy, values=sorted(values), use_embeddings=False)


def _generated_tree() -> Path:
    """values_tree.csv of the published shape (3,307 values -> 266 -> 26 -> 5) over the generated vocabulary."""
    import csv
    import tempfile

    from bench.synthetic import load_value_frequencies

    freqs, _ = load_value_frequencies()
    path = Path(tempfile.mkdtemp()) / "values_tree.csv"
    sizes = (len(freqs), 266, 26, 5)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["cluster_id", "description", "name", "level", "parent_cluster_id", "pct_total_occurrences"])
        for level in range(len(sizes)):
            parents = sizes[level + 1] if level + 1 < len(sizes) else 0
            names = list(freqs.index) if level == 0 else [f"l{level}:{i}" for i in range(sizes[level])]
            for i, name in enumerate(names):
                parent = f"l{level + 1}:{i % parents}" if parents else ""
                share = float(freqs.iloc[i]) if level == 0 else ""
                out.writerow([name, "", name if level == 0 else f"category {level}.{i}", level, parent, share])
    return path


def _residuals(run_id: int) -> None:
    from results.requests import ResidualRequest
    from results.services import residual_analysis_create

    residual_analysis_create(request=ResidualRequest(rows="ai_values", cols="task", run_id=run_id, min_conversations=5))


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
