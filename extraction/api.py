"""REST endpoints for extraction runs (mounted at /api/extraction/): start a run, watch it, read its report.

Prompt engineers and leads only. Starting a run validates the options (the same checks as the
``extract`` command), then queues one task per conversation (or the batch poller) after commit.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import IsAnalyst
from extraction import selectors
from extraction.features import ALL_FEATURES
from extraction.models import ExtractionRun
from extraction.services import PROVIDERS, RunError, provider_check, run_cancel, run_start_once


class RunCreateSerializer(serializers.Serializer[dict[str, Any]]):
    dataset = serializers.CharField()
    prompt_set = serializers.CharField()
    features = serializers.ListField(child=serializers.ChoiceField(choices=ALL_FEATURES), required=False)
    models = serializers.DictField(child=serializers.CharField(), required=False)
    provider = serializers.ChoiceField(choices=PROVIDERS, default="replay")
    limit = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    samples = serializers.IntegerField(min_value=1, max_value=20, default=1)
    all_conversations = serializers.BooleanField(default=False)
    batch = serializers.BooleanField(default=False)


class RunSummarySerializer(serializers.ModelSerializer[ExtractionRun]):
    dataset = serializers.CharField(source="dataset.name")

    class Meta:
        model = ExtractionRun
        fields = [
            "id",
            "dataset",
            "prompt_set",
            "provider",
            "model_map",
            "status",
            "total_items",
            "done_items",
            "failed_items",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]


class FailureSerializer(serializers.Serializer[dict[str, Any]]):
    conversation = serializers.CharField(help_text="external id of the conversation")
    conversation_id = serializers.IntegerField()
    feature = serializers.CharField()
    status = serializers.CharField(help_text="failed (request) or parse_error (answer kept in raw_text)")
    error = serializers.CharField()
    raw_text = serializers.CharField()
    model = serializers.CharField()
    prompt_version = serializers.CharField()
    attempts = serializers.IntegerField()


class RunReportSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    dataset = serializers.CharField()
    prompt_set = serializers.CharField()
    provider = serializers.CharField()
    models = serializers.DictField(child=serializers.CharField())
    options = serializers.DictField()
    status = serializers.CharField()
    error = serializers.CharField()
    progress = serializers.DictField(help_text="conversations, subjective, total, done, failed, parse_errors, ...")
    costs = serializers.DictField(help_text="tokens, USD, USD per 1,000 conversations, per feature")
    batches = serializers.ListField(child=serializers.DictField())
    failures = FailureSerializer(many=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class RunListCreateApi(APIView):
    permission_classes = [IsAnalyst]
    throttle_scope = "runs"  # starting one (config/throttling.py)
    throttle_methods = ("POST",)

    @extend_schema(operation_id="extraction_runs_list", responses=RunSummarySerializer(many=True))
    def get(self, request: Request) -> Response:
        runs = selectors.run_list()[:100]
        return Response(RunSummarySerializer(runs, many=True).data)

    @extend_schema(
        operation_id="extraction_runs_create",
        request=RunCreateSerializer,
        responses={
            201: RunReportSerializer,
            200: OpenApiResponse(RunReportSerializer, description="an identical run is already pending or running"),
        },
    )
    def post(self, request: Request) -> Response:
        """Start a run; the same request while its run is pending or running answers that run (200), not a new one."""
        serializer = RunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        try:
            provider_check(provider=data.get("provider", "replay"))
            run, created = run_start_once(created_by=request.user, **data)
        except RunError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        run.refresh_from_db()
        return Response(_report(run), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class RunDetailApi(APIView):
    """The run report: status, progress, cost (per 1,000 conversations), failures and why."""

    permission_classes = [IsAnalyst]

    @extend_schema(operation_id="extraction_runs_report", responses=RunReportSerializer)
    def get(self, request: Request, run_id: int) -> Response:
        run = ExtractionRun.objects.select_related("dataset").filter(pk=run_id).first()
        if run is None:
            return Response({"detail": f"no extraction run {run_id}"}, status=status.HTTP_404_NOT_FOUND)
        return Response(_report(run))


class RunCancelApi(APIView):
    permission_classes = [IsAnalyst]

    @extend_schema(operation_id="extraction_runs_cancel", request=None, responses=RunReportSerializer)
    def post(self, request: Request, run_id: int) -> Response:
        run = ExtractionRun.objects.select_related("dataset").filter(pk=run_id).first()
        if run is None:
            return Response({"detail": f"no extraction run {run_id}"}, status=status.HTTP_404_NOT_FOUND)
        try:
            run_cancel(run=run)
        except RunError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(_report(run))


def _report(run: ExtractionRun) -> dict[str, Any]:
    report = selectors.run_report(run=run)
    costs = report["costs"]
    # Decimals as strings keep the exact micro-dollar figures in JSON.
    for figures in (costs, *costs["by_feature"].values()):
        for key in ("cost_usd", "cost_usd_per_1000_conversations"):
            figures[key] = str(figures[key])
    return report
