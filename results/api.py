"""REST endpoints of the results app (mounted at /api/analysis/). Reads of stored analyses need a login; running
one and the descriptive results need a lead or a prompt engineer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.roles import IsAnalyst
from corpus.selectors import UnknownDatasetError, dataset_id_by_name
from extraction.models import Feature
from jobs.models import Job
from jobs.services import job_start_once
from results.models import ResidualAnalysis, ResidualCell
from results.requests import ResidualRequest
from results.selectors import Scope, descriptive_results, residual_analysis_list, residual_cells
from results.services import CELL_COLUMNS, AnalysisRequestError, residual_analysis_check
from results.tasks import residual_analysis_task

#: The most residual cells one request returns.
MAX_CELLS = 5000


class ResidualAnalysisSerializer(serializers.ModelSerializer[ResidualAnalysis]):
    class Meta:
        model = ResidualAnalysis
        fields = [
            "id",
            "row_feature",
            "col_feature",
            "row_level",
            "col_level",
            "row_taxonomy",
            "col_taxonomy",
            "dataset",
            "run",
            "params",
            "summary",
            "n_conversations",
            "critical_value",
            "created_at",
        ]


class ResidualCellSerializer(serializers.ModelSerializer[ResidualCell]):
    class Meta:
        model = ResidualCell
        fields = list(CELL_COLUMNS)


_ANALYSIS_QUEUED = inline_serializer(
    "ResidualAnalysisQueued",
    {
        "request_key": serializers.CharField(),
        "task_id": serializers.CharField(),
        "poll": serializers.CharField(help_text="GET this URL for the stored analysis"),
        "job": serializers.IntegerField(),
        "duplicate": serializers.BooleanField(help_text="true: an identical analysis was already pending or running"),
    },
)


class ResidualAnalysisListApi(APIView):
    """GET: stored residual analyses (?request_key=). POST (lead, prompt engineer): queue one."""

    @extend_schema_serializer(component_name="ResidualAnalysisInput")
    class InputSerializer(serializers.Serializer[dict[str, Any]]):
        rows = serializers.ChoiceField(choices=Feature.choices)
        cols = serializers.ChoiceField(choices=Feature.choices)
        dataset = serializers.IntegerField(required=False, allow_null=True)
        run = serializers.IntegerField(required=False, allow_null=True)
        row_level = serializers.IntegerField(required=False, allow_null=True, min_value=0)
        col_level = serializers.IntegerField(required=False, allow_null=True, min_value=0)
        row_taxonomy = serializers.IntegerField(required=False, allow_null=True)
        col_taxonomy = serializers.IntegerField(required=False, allow_null=True)
        min_conversations = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        alpha = serializers.FloatField(required=False, default=0.05, min_value=1e-12, max_value=0.5)
        comparisons = serializers.ChoiceField(choices=["rows", "cols", "cells"], default="rows")
        top_k = serializers.IntegerField(required=False, default=10, min_value=0, max_value=100)
        subjective_only = serializers.BooleanField(required=False, default=True)
        include_none = serializers.BooleanField(required=False, default=False)

    # Residual analyses are for leads and prompt engineers, to read as to run (the pages refuse annotators too).
    permission_classes = [IsAnalyst]
    throttle_scope = "residuals"  # running one (config/throttling.py)
    throttle_methods = ("POST",)

    @extend_schema(
        operation_id="analysis_residuals_list",
        parameters=[OpenApiParameter("request_key", OpenApiTypes.STR, description="the key a POST answered")],
        responses=ResidualAnalysisSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = residual_analysis_list()
        if request.query_params.get("request_key"):
            qs = qs.filter(request_key=request.query_params["request_key"])
        paginator = api_settings.DEFAULT_PAGINATION_CLASS()  # type: ignore[misc,operator]  # a class, by setting
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ResidualAnalysisSerializer(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={
            202: OpenApiResponse(_ANALYSIS_QUEUED, description="queued"),
            200: OpenApiResponse(_ANALYSIS_QUEUED, description="the same analysis is already pending or running"),
        },
    )
    def post(self, request: Request) -> Response:
        """Check the request, queue the analysis, answer 202 with the key to poll ``GET residuals/?request_key=``."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        residual_request = ResidualRequest(
            rows=v["rows"],
            cols=v["cols"],
            dataset_id=v.get("dataset"),
            run_id=v.get("run"),
            row_level=v.get("row_level"),
            col_level=v.get("col_level"),
            row_taxonomy_id=v.get("row_taxonomy"),
            col_taxonomy_id=v.get("col_taxonomy"),
            min_conversations=v.get("min_conversations"),
            alpha=v["alpha"],
            comparisons=v["comparisons"],
            top_k=v["top_k"],
            subjective_only=v["subjective_only"],
            include_none=v["include_none"],
        )
        try:
            residual_analysis_check(request=residual_request)
        except AnalysisRequestError as exc:
            raise serializers.ValidationError({"detail": [str(exc)]}) from exc
        params = residual_request.as_dict()

        def enqueue(job: Job) -> str:
            task = residual_analysis_task.delay(
                request_key=job.ref, params=params, user_id=request.user.pk, job_id=job.pk
            )
            return str(task.id)

        # The same analysis while one is pending or running answers that one (200), not a second analysis.
        job, created = job_start_once(kind="residual_analysis", params=params, user=request.user, enqueue=enqueue)
        return Response(
            {
                "request_key": job.ref,
                "task_id": job.task_id,
                "poll": f"{request.path}?request_key={job.ref}",
                "job": job.pk,
                "duplicate": not created,
            },
            status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
        )


class ResidualAnalysisDetailApi(RetrieveAPIView[ResidualAnalysis]):
    permission_classes = [IsAnalyst]
    serializer_class = ResidualAnalysisSerializer
    queryset = ResidualAnalysis.objects.all()


class ResidualCellListApi(ListAPIView[ResidualCell]):
    """Reported cells, strongest first; ?significant=true|false, ?row=, ?col=, ?negative=true (most negative first),
    ?limit= (default 100, at most 5000; anything else is a 400)."""

    permission_classes = [IsAnalyst]
    pagination_class = None  # its own ?limit= above, bounded by MAX_CELLS
    serializer_class = ResidualCellSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        analysis = get_object_or_404(ResidualAnalysis, pk=self.kwargs["pk"])
        params = self.request.query_params
        significant = params.get("significant")
        qs = residual_cells(
            analysis=analysis,
            significant=None if significant is None else significant.lower() in {"1", "true", "yes"},
            row=params.get("row"),
            col=params.get("col"),
            negative=params.get("negative", "").lower() in {"1", "true", "yes"},
        )
        raw = params.get("limit", "100")
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= MAX_CELLS):
            raise serializers.ValidationError({"limit": [f"must be an integer from 1 to {MAX_CELLS}"]})
        return qs[: int(raw)]


def _dataset_param(value: str | None) -> int | None:
    """?dataset= by id or by name, like every command (which takes the name)."""
    if not value:
        return None
    if value.isascii() and value.isdigit():
        number = int(value)
        if number > 2**63 - 1:
            raise serializers.ValidationError({"dataset": [f"no dataset with id {value}"]})
        return number
    try:
        return dataset_id_by_name(value)
    except UnknownDatasetError as exc:
        raise serializers.ValidationError({"dataset": [str(exc)]}) from exc


class DescriptiveResultsApi(APIView):
    """The paper's descriptive tables for ?dataset= or ?run= (or everything), with the privacy threshold applied;
    ?min_conversations= may only raise the configured threshold."""

    permission_classes = [IsAnalyst]

    @extend_schema(
        parameters=[
            OpenApiParameter("dataset", OpenApiTypes.STR, description="dataset id or name"),
            OpenApiParameter("run", OpenApiTypes.INT, description="extraction run id"),
            OpenApiParameter("min_conversations", OpenApiTypes.INT, description="may only raise the threshold"),
            OpenApiParameter("top", OpenApiTypes.INT, description="rows per table, 1 to 200 (default 20)"),
            OpenApiParameter("subjective_only", OpenApiTypes.BOOL, description="default true"),
        ],
        responses=inline_serializer(
            "DescriptiveResults",
            {
                "min_conversations": serializers.IntegerField(),
                "tables": serializers.DictField(child=serializers.JSONField(), help_text="table key -> table"),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        try:
            dataset = _dataset_param(params.get("dataset"))
            run = int(params["run"]) if params.get("run") else None
            k = int(params.get("min_conversations", settings.ANALYSIS_MIN_CONVERSATIONS))
            top = min(max(int(params.get("top", 20)), 1), 200)
        except ValueError as exc:
            raise serializers.ValidationError({"detail": ["run, min_conversations and top are integers"]}) from exc
        # Lowering the threshold through the API would defeat it.
        k = max(k, settings.ANALYSIS_MIN_CONVERSATIONS)
        tables = descriptive_results(
            scope=Scope(dataset_id=dataset, run_id=run),
            min_conversations=k,
            top=top,
            subjective_only=params.get("subjective_only", "true").lower() not in {"0", "false", "no"},
        )
        return Response({"min_conversations": k, "tables": {key: t.to_dict() for key, t in tables.items()}})
