"""Shared pieces of the resilience suite: a broker for real workers, the review loop's fixtures, and the two
states every review scenario ends by comparing: the database's annotations and Label Studio's own export.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from annotate.label_studio import LabelStudio
from annotate.local_server import LocalLabelStudio
from testing.fake_anthropic.harness import redis_flush, worker_env
from tests.conftest import missing_service, session_database_url

# One review row as the comparison sees it: item, verdict, reasoning check, labels, level, comment, lead time.
Row = tuple[int, str, str, tuple[str, ...], int | None, str, float | None]
State = dict[tuple[int, str], Row]


@pytest.fixture
def broker_url() -> str:
    """A Redis database the workers of a scenario use as their broker (TEST_CELERY_BROKER_URL), flushed first."""
    url = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/10")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        missing_service(f"Redis broker not reachable at {url}: {exc}")
    redis_flush(url)
    return url


def review_worker_env(
    *, broker_url: str, server: LocalLabelStudio, batch_size: int = 1000, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A worker of the review loop: this session's database and Label Studio, results kept in the broker's Redis."""
    return worker_env(
        database_url=session_database_url(),
        broker_url=broker_url,
        limiter_redis_url="",
        anthropic_base_url="http://127.0.0.1:9",  # never called by the review loop
        requests_per_minute=60,
        visibility_timeout_s=6,  # a killed worker's task comes back after 6 s
        extra={
            "CELERY_RESULT_BACKEND": broker_url,
            "LABEL_STUDIO_URL": server.url,
            "LABEL_STUDIO_API_KEY": server.api_key,
            "LABEL_STUDIO_PUSH_BATCH_SIZE": str(batch_size),
            "LABEL_STUDIO_RETRIES": "2",
            "LABEL_STUDIO_TIMEOUT_S": "30",
            **(extra or {}),
        },
    )


@pytest.fixture
def sender(broker_url: str) -> Iterator[Celery]:
    """A Celery client of the scenario's broker (tasks sent by name, results read from the same Redis)."""
    app = Celery(broker=broker_url, backend=broker_url, set_as_current=False)
    yield app
    app.close()


@pytest.fixture
def worker_logs(tmp_path: Path) -> Path:
    return tmp_path / "workers"


def db_state() -> State:
    """The app's live annotations, one row per (Label Studio annotation id, feature)."""
    from annotate.models import Annotation

    return {
        (a.label_studio_annotation_id, a.feature): (
            a.item_id,
            a.verdict,
            a.reasoning_check,
            tuple(a.corrected_labels or ()),
            a.subjectivity_level,
            a.comment,
            a.lead_time_s,
        )
        for a in Annotation.objects.filter(deleted=False)
    }


def export_state(client: LabelStudio, *, sample_id: int) -> State:
    """Label Studio's own JSON export of every project of the sample, read back as the intake would store it."""
    from annotate.labeling_config import annotation_parse
    from annotate.models import LabelStudioProject, ReviewSample
    from extraction.models import Feature

    sample = ReviewSample.objects.get(pk=sample_id)
    features = list(sample.params.get("features") or sorted(Feature.values))
    state: State = {}
    for project in LabelStudioProject.objects.filter(sample=sample).exclude(label_studio_project_id=None):
        item_of = dict(project.tasks.values_list("label_studio_task_id", "item_id"))
        for ann in client.project_annotations(project_id=int(project.label_studio_project_id or 0)):
            if ann.was_cancelled:
                continue
            for review in annotation_parse(ann.result, features):
                state[(ann.annotation_id, review.feature)] = (
                    item_of[ann.task_id],
                    review.verdict,
                    review.reasoning_check,
                    tuple(review.labels or ()),
                    review.subjectivity_level,
                    review.comment,
                    ann.lead_time,
                )
    return state


def ls_tasks_by_item(client: LabelStudio, ls_project_id: int) -> dict[int, list[int]]:
    """Label Studio's tasks of a project grouped by the item id in their data (a list: duplicates show)."""
    found: dict[int, list[int]] = {}
    for ref in client.task_refs(project_id=ls_project_id):
        found.setdefault(int(ref.item_id or 0), []).append(ref.task_id)
    return found


def review_results(i: int) -> list[dict[str, Any]]:
    """A review written for the suite (not real data): two features, varied by ``i``."""
    from annotate.labeling_config import FeatureReview, review_result

    reviews = [
        FeatureReview(
            feature="response_type",
            verdict="incorrect" if i % 2 else "correct",
            reasoning_check="over_inferring" if i % 2 else "sound",
            labels=["reframing"] if i % 2 else ["mild_support"],
            comment=f"review {i}",
        ),
        FeatureReview(feature="ai_values", verdict="correct", reasoning_check="sound", labels=["helpfulness"]),
    ]
    return [region for r in reviews for region in review_result(r)]
