"""The review loop in `make demo`: Label Studio up, the sample's pre-labels pushed, example reviews loaded, pulled back.

``step_review_loop`` is a step of ``scripts/demo.py``: it starts the local Label Studio (as ``make
labelstudio`` does, reusing var/labelstudio-venv and var/labelstudio), draws a review sample of every
conversation of the extraction run on the demo dataset, assigns it to the example reviewers of
``sample/reviews.jsonl`` (each sees every conversation, in a project of their own), gives each reviewer a
Label Studio organization of their own (blind review: nobody sees anyone else's project), pushes the tasks
with the model's outputs as predictions, creates the example reviews as annotations through Label
Studio's API as those reviewers, and pulls them back. Every part is idempotent: a second run creates
nothing new.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from annotate import labeling_config, services
from annotate.label_studio import LabelStudio
from annotate.local_server import LocalLabelStudio, read_credentials
from annotate.models import LabelStudioProject, ReviewSample
from extraction.models import Extraction, ExtractionRun

ROOT = Path(__file__).resolve().parent.parent
REVIEWS = ROOT / "sample" / "reviews.jsonl"
DEMO_SAMPLE_NAME = "demo review"
DEMO_SEED = 2025


@dataclass(frozen=True)
class ExampleReview:
    conversation: str
    reviewer: str
    review: labeling_config.FeatureReview
    lead_time_s: float


def example_reviews_read(path: Path = REVIEWS) -> list[ExampleReview]:
    """Read the example reviews; a bad line raises ``ValueError`` naming file:line and the field."""
    out = []
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row: dict[str, Any] = json.loads(line)
                out.append(
                    ExampleReview(
                        conversation=str(row["conversation"]),
                        reviewer=str(row["reviewer"]),
                        review=labeling_config.FeatureReview(
                            feature=str(row["feature"]),
                            verdict=str(row.get("verdict", "")),
                            reasoning_check=str(row.get("reasoning_check", "")),
                            labels=row.get("labels"),
                            subjectivity_level=row.get("subjectivity_level"),
                            comment=str(row.get("comment", "")),
                        ),
                        lead_time_s=float(row.get("lead_time_s", 0)),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{number}: {exc!r}") from exc
    return out


def _password(email: str) -> str:
    """Each example reviewer's Label Studio password, generated once and kept in var/ (mode 600)."""
    store = Path(settings.LABEL_STUDIO_DATA_DIR) / "example-reviewers.json"
    known: dict[str, str] = json.loads(store.read_text()) if store.exists() else {}
    if email not in known:
        known[email] = secrets.token_urlsafe(12)
        store.write_text(json.dumps(known, indent=1))
        store.chmod(0o600)
    return known[email]


@dataclass(frozen=True)
class LoadReport:
    created: int
    #: Example reviews of an output the run did not produce (the pipeline extracts response type and values
    #: only from conversations it judged subjective): a reviewer sees "(no output)" there, so they are not made.
    without_output: int


def example_reviews_load(*, sample_id: int, reviews: Sequence[ExampleReview], client: LabelStudio) -> LoadReport:
    """Create the example reviews as Label Studio annotations, each by its reviewer; skip those already there.

    Only reviews of outputs the sample's run produced are made: intake would have nothing to attach the
    others to, and a task holding only such reviews would be an annotation the app never stores.
    """
    sample = ReviewSample.objects.get(pk=sample_id)
    features = list(sample.params.get("features") or [])
    produced = set(
        Extraction.objects.filter(run_id=sample.run_id, feature__in=features).values_list(
            "conversation__external_id", "feature"
        )
    )
    grouped: dict[tuple[str, str], list[ExampleReview]] = defaultdict(list)
    without_output = 0
    for r in reviews:
        if r.review.feature not in features:
            continue
        if (r.conversation, r.review.feature) not in produced:
            without_output += 1
            continue
        grouped[(r.reviewer.lower(), r.conversation)].append(r)
    created = 0
    for project in LabelStudioProject.objects.filter(sample=sample).select_related("annotator"):
        as_reviewer = services.project_client(project, client)
        email = project.annotator.email
        done = {
            a.task_id for a in as_reviewer.project_annotations(project_id=int(project.label_studio_project_id or 0))
        }
        for task_id, conversation in project.tasks.exclude(label_studio_task_id=None).values_list(
            "label_studio_task_id", "item__conversation__external_id"
        ):
            mine = grouped.get((email, conversation))
            if not mine or task_id in done:
                continue
            result = [region for r in mine for region in labeling_config.review_result(r.review)]
            as_reviewer.annotation_create(
                task_id=int(task_id or 0), result=result, lead_time=sum(r.lead_time_s for r in mine)
            )
            created += 1
    return LoadReport(created=created, without_output=without_output)


def step_review_loop(dataset: str = "sample", prompt_set: str = "paper-v1") -> list[str]:
    """The demo step: returns the lines to print (Label Studio URL and logins)."""
    server = LocalLabelStudio(data_dir=Path(settings.LABEL_STUDIO_DATA_DIR), port=settings.LABEL_STUDIO_PORT)
    server.start()
    credentials = read_credentials(server.data_dir)
    client = LabelStudio(url=server.url, api_key=settings.LABEL_STUDIO_API_KEY or credentials["LABEL_STUDIO_API_KEY"])
    run = ExtractionRun.objects.filter(dataset__name=dataset, prompt_set=prompt_set).order_by("-pk").first()
    if run is None:
        raise ValueError(f"no {prompt_set} extraction run on dataset {dataset!r}: run the extraction step first")
    reviews = example_reviews_read()
    sample = ReviewSample.objects.filter(run=run, name=DEMO_SAMPLE_NAME).first()
    if sample is None:
        population = run.extractions.values("conversation_id").distinct().count()
        sample = services.review_sample_create(
            run_id=run.pk,
            strategy="random",
            size=population,
            seed=DEMO_SEED,
            features=sorted({r.review.feature for r in reviews}),
            name=DEMO_SAMPLE_NAME,
        )
    reviewers = sorted({r.reviewer.lower() for r in reviews})
    annotator_ids = [services.annotator_get_or_create(email=e).pk for e in reviewers]
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=annotator_ids, reviewers_per_item=len(reviewers))
    passwords = {email: _password(email) for email in reviewers}
    services.annotators_blind_setup(annotator_ids=annotator_ids, passwords=passwords, server=server, client=client)
    pushed = services.sample_push(sample_id=sample.pk, client=client)
    loaded = example_reviews_load(sample_id=sample.pk, reviews=reviews, client=client)
    pulled = services.annotations_reconcile(sample_id=sample.pk, client=client)
    return [
        f"Label Studio: {server.url}  (log in as {credentials['LABEL_STUDIO_USERNAME']} / "
        f"{credentials['LABEL_STUDIO_PASSWORD']})",
        f"  review sample {sample.pk}: {pushed.pushed} tasks pushed now, {loaded.created} example reviews created, "
        f"{pulled.created} annotations pulled in ({loaded.without_output} example reviews of outputs the run did "
        "not produce left out)",
        "  each reviewer has a Label Studio organization of their own and sees only their own project:",
        *(f"  reviewer login {email} / {password}" for email, password in sorted(passwords.items())),
    ]
