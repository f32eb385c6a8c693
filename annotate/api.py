"""REST endpoints of the review loop (mounted at /api/annotate/).

The Label Studio webhook is the one endpoint without a user: it authenticates Label Studio by the secret it
sends in ``LABEL_STUDIO_WEBHOOK_HEADER``, which is scoped to one project (``annotate.webhook_auth``; a
constant-time comparison), answers 401 on a wrong or missing secret and 400 on a malformed body, stores the
call with its project and returns at once; processing is queued and reads only what concerns that project.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from kombu.exceptions import OperationalError as KombuOperationalError
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import HasAnyRole, IsLead
from annotate.label_studio import LabelStudio, LabelStudioError
from annotate.models import ReviewSample
from annotate.selectors import sample_independence, sample_list
from annotate.services import webhook_receive
from annotate.tasks import annotations_reconcile_sample, sample_push_task
from annotate.webhook_auth import secret_project
from jobs.services import job_start_once

logger = logging.getLogger(__name__)


class RawBodyParser(BaseParser):
    """Keep the body as bytes: it is validated and hashed as received."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return stream.read() if stream is not None else b""


class LabelStudioWebhookApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]  # authenticated by the project's webhook secret below
    parser_classes = [RawBodyParser]

    @extend_schema(request=None, responses={200: None, 401: None, 400: None})
    def post(self, request: Request) -> Response:
        expected = settings.LABEL_STUDIO_WEBHOOK_SECRET
        given = request.headers.get(settings.LABEL_STUDIO_WEBHOOK_HEADER, "")
        if not expected:
            logger.error("Label Studio webhook refused: LABEL_STUDIO_WEBHOOK_SECRET is not set")
            return Response({"detail": "webhook secret not configured"}, status=status.HTTP_401_UNAUTHORIZED)
        project_id = secret_project(secret=expected, given=given)
        if project_id is None:
            return Response({"detail": "wrong or missing webhook secret"}, status=status.HTTP_401_UNAUTHORIZED)
        try:
            event_id, created = webhook_receive(body=bytes(request.data), project_id=project_id)  # type: ignore[arg-type]
        except ValueError as exc:
            return Response({"detail": f"malformed payload: {exc}"}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"event": event_id, "duplicate": not created}, status=status.HTTP_200_OK)


class ReviewSampleSerializer(serializers.ModelSerializer[ReviewSample]):
    item_count = serializers.IntegerField(read_only=True)
    annotation_count = serializers.IntegerField(read_only=True)
    independence = serializers.SerializerMethodField(help_text="Whether Label Studio kept the reviewers apart.")

    class Meta:
        model = ReviewSample
        fields = [
            "id",
            "run",
            "name",
            "strategy",
            "seed",
            "params",
            "reviewers_per_item",
            "item_count",
            "annotation_count",
            "independence",
            "created_at",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_independence(self, sample: ReviewSample) -> dict[str, object]:
        return sample_independence(sample_id=sample.pk).as_dict()


class ReviewSampleListApi(ListAPIView[ReviewSample]):
    serializer_class = ReviewSampleSerializer
    permission_classes = [HasAnyRole]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return sample_list()


def _unavailable(reason: str) -> Response:
    return Response(
        {"detail": f"{reason}; try again later"},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(settings.SERVICE_RETRY_AFTER_S)},
    )


def _label_studio_problem() -> str | None:
    """Why Label Studio cannot take work now (not configured, or not answering within a short probe), or None."""
    try:
        client = LabelStudio.from_settings()
    except LabelStudioError as exc:
        return f"Label Studio is not configured: {exc}"
    if not client.healthy(timeout_s=settings.LABEL_STUDIO_PROBE_TIMEOUT_S):
        return f"Label Studio at {client.url} is not answering"
    return None


class _LabelStudioQueueApi(APIView):
    """Queue one Label Studio job for a sample: 404 for an unknown sample, 503 + Retry-After when it cannot run."""

    permission_classes = [IsLead]
    throttle_scope = "label_studio"  # config/throttling.py
    job = ""

    def queue(self, sample_id: int, job_id: int) -> str:
        """Queue the task; return its id."""
        raise NotImplementedError

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(description="queued: {queued, sample, job, duplicate: false}"),
            200: OpenApiResponse(description="the same job of this sample is already pending or running: that job"),
            404: None,
            503: None,
        },
    )
    def post(self, request: Request, sample_id: int) -> Response:
        if not ReviewSample.objects.filter(pk=sample_id).exists():
            return Response({"detail": f"no review sample {sample_id}"}, status=status.HTTP_404_NOT_FOUND)
        problem = _label_studio_problem()
        if problem is not None:
            return _unavailable(problem)
        try:
            job, created = job_start_once(
                kind=f"sample_{self.job}",
                params={"sample": sample_id},
                user=request.user,
                enqueue=lambda job: self.queue(sample_id, job.pk),
            )
        except LabelStudioError as exc:  # run eagerly (no broker) and Label Studio failed meanwhile
            return _unavailable(f"Label Studio failed: {exc}")
        except (OSError, KombuOperationalError) as exc:  # the broker is down or refused the connection
            logger.warning("could not queue %s of sample %s: %s", self.job, sample_id, exc)
            return _unavailable("the task queue is not reachable")
        answer = {"queued": self.job, "sample": sample_id, "job": job.pk, "duplicate": not created}
        return Response(answer, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class ReviewSamplePushApi(_LabelStudioQueueApi):
    job = "push"

    def queue(self, sample_id: int, job_id: int) -> str:
        return str(sample_push_task.delay(sample_id, job_id=job_id).id)


class ReviewSampleReconcileApi(_LabelStudioQueueApi):
    job = "reconcile"

    def queue(self, sample_id: int, job_id: int) -> str:
        return str(annotations_reconcile_sample.delay(sample_id, job_id=job_id).id)
