"""REST endpoints for gold sets (mounted under /api/validation/gold-sets/), for leads and prompt engineers."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import IsAnalyst
from stats.errors import StatsInputError
from validation import scores, selectors, services
from validation.models import GoldSet, GoldSetFrozenError


class GoldSetSerializer(serializers.ModelSerializer[GoldSet]):
    label_count = serializers.IntegerField(read_only=True)
    conversation_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = GoldSet
        fields = [
            "id",
            "name",
            "version",
            "status",
            "origin",
            "dataset",
            "run",
            "description",
            "params",
            "created_by",
            "created_at",
            "frozen_at",
            "label_count",
            "conversation_count",
        ]


class GoldCreateParams(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=100)
    run = serializers.IntegerField(required=False, help_text="make it from the reviews of this run")
    features = serializers.ListField(child=serializers.CharField(max_length=32), required=False)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    dataset = serializers.IntegerField(required=False, help_text="import: the dataset the conversations are in")
    rows = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="import: {conversation, feature, labels, level}"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("run" in attrs) == ("rows" in attrs):
            raise serializers.ValidationError("give run (from its reviews) or dataset and rows (an import)")
        if "rows" in attrs and "dataset" not in attrs:
            raise serializers.ValidationError({"dataset": "an import needs the dataset"})
        return attrs


class ScoreParams(serializers.Serializer[dict[str, Any]]):
    run = serializers.IntegerField(required=False)
    prompts = serializers.CharField(max_length=300, required=False, help_text="id, SET, SET/FEATURE[@HASH]")
    model = serializers.CharField(max_length=200, required=False, allow_null=True, default=None)
    confidence = serializers.FloatField(default=0.95, min_value=0.5, max_value=0.999)
    n_boot = serializers.IntegerField(default=1000, min_value=0, max_value=10_000)
    seed = serializers.IntegerField(default=0)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("run" in attrs) == ("prompts" in attrs):
            raise serializers.ValidationError("give run or prompts")
        return attrs


_USER_ERRORS = (services.GoldSetError, GoldSetFrozenError, selectors.PromptSpecError, StatsInputError)


def _get(pk: int) -> GoldSet:
    try:
        return selectors.gold_set_get(gold_set_id=pk)
    except GoldSet.DoesNotExist:
        raise NotFound(f"no gold set with id {pk}") from None


class GoldSetListApi(APIView):
    """GET: every gold set, newest version first within a name. POST: a new frozen version, from a run's reviews
    (``run``) or imported (``dataset`` and ``rows``)."""

    permission_classes = [IsAnalyst]

    @extend_schema(responses={200: GoldSetSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(GoldSetSerializer(selectors.gold_set_list(), many=True).data)

    @extend_schema(request=GoldCreateParams, responses={201: GoldSetSerializer})
    def post(self, request: Request) -> Response:
        s = GoldCreateParams(data=request.data)
        s.is_valid(raise_exception=True)
        p = s.validated_data
        try:
            if "run" in p:
                gs = services.gold_set_create_from_reviews(
                    name=p["name"],
                    run_id=p["run"],
                    features=p.get("features"),
                    description=p["description"],
                    user=request.user,
                )
            else:
                rows = [(f"rows[{i}]", row) for i, row in enumerate(p["rows"])]
                gs = services.gold_set_import(
                    name=p["name"], dataset_id=p["dataset"], rows=rows, description=p["description"], user=request.user
                )
        except _USER_ERRORS as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(GoldSetSerializer(selectors.gold_set_list().get(pk=gs.pk)).data, status=status.HTTP_201_CREATED)


class GoldSetDetailApi(APIView):
    """One gold set with its counts and how it was made (``params``: rule, taken and left out per feature)."""

    permission_classes = [IsAnalyst]

    @extend_schema(responses={200: GoldSetSerializer})
    def get(self, request: Request, pk: int) -> Response:
        _get(pk)
        return Response(GoldSetSerializer(selectors.gold_set_list().get(pk=pk)).data)


class GoldSetExportApi(APIView):
    """The gold set as JSONL (``?fmt=jsonl``, default) or CSV (``?fmt=csv``), as a file download. (Not ``format``:
    REST framework reads that one to choose a renderer.)"""

    permission_classes = [IsAnalyst]

    @extend_schema(
        parameters=[OpenApiParameter("fmt", OpenApiTypes.STR, enum=["jsonl", "csv"], default="jsonl")],
        responses={
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        gs = _get(pk)
        fmt = request.query_params.get("fmt", "jsonl")
        if fmt not in ("jsonl", "csv"):
            raise ValidationError({"fmt": "jsonl or csv"})
        body = selectors.gold_set_export(gold_set_id=gs.pk, fmt=fmt)
        kind = "text/csv" if fmt == "csv" else "application/x-ndjson"
        response = HttpResponse(body, content_type=f"{kind}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="gold-{gs.name}-v{gs.version}.{fmt}"'
        return response


class GoldSetScoreApi(APIView):
    """A run (``?run=ID``) or a prompt spec (``?prompts=SPEC``) scored against the gold set, per feature."""

    permission_classes = [IsAnalyst]

    @extend_schema(parameters=[ScoreParams], responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        gs = _get(pk)
        s = ScoreParams(data=request.query_params)
        s.is_valid(raise_exception=True)
        p = s.validated_data
        try:
            report = scores.gold_score(
                gold_set_id=gs.pk,
                run_id=p.get("run"),
                spec=p.get("prompts"),
                model=p["model"],
                confidence=p["confidence"],
                n_boot=p["n_boot"],
                seed=p["seed"],
            )
        except _USER_ERRORS as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(report)
