"""REST endpoints of the validation app (mounted at /api/validation/), for leads and prompt engineers."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import IsAnalyst
from stats.errors import StatsInputError
from stats.proportions import additional_reviews_needed, proportion_ci, required_sample_size
from validation import selectors, services
from validation.models import ReportSnapshot


class ReportParams(serializers.Serializer[dict[str, Any]]):
    confidence = serializers.FloatField(default=0.95, min_value=0.5, max_value=0.999)
    n_boot = serializers.IntegerField(default=1000, min_value=0, max_value=10_000)
    seed = serializers.IntegerField(default=0)
    target_half_width = serializers.FloatField(default=0.05, min_value=0.001, max_value=0.5)


class CompareParams(serializers.Serializer[dict[str, Any]]):
    baseline = serializers.CharField(max_length=300)
    candidate = serializers.CharField(max_length=300)
    model = serializers.CharField(max_length=200, required=False, allow_null=True, default=None)
    confidence = serializers.FloatField(default=0.95, min_value=0.5, max_value=0.999)
    alpha = serializers.FloatField(default=0.05, min_value=0.001, max_value=0.5)
    gold = serializers.CharField(
        max_length=200, required=False, default="", allow_blank=True, help_text="gold set id, NAME or NAME@VERSION"
    )
    reviews = serializers.BooleanField(default=False, help_text="compare on human reviews instead of a gold set")
    baseline_model = serializers.CharField(max_length=200, required=False, allow_null=True, default=None)
    candidate_model = serializers.CharField(max_length=200, required=False, allow_null=True, default=None)
    n_boot = serializers.IntegerField(default=1000, min_value=0, max_value=10_000)
    seed = serializers.IntegerField(default=0)


def _compare_kwargs(p: dict[str, Any]) -> dict[str, Any]:
    """On a gold set (the named one, else the newest frozen one), or on the reviews when asked or when there is
    no gold set yet."""
    base = {k: p[k] for k in ("baseline", "candidate", "confidence", "alpha")}
    if p["reviews"] or (not p["gold"] and not selectors.gold_set_list().filter(status="frozen").exists()):
        return {**base, "model": p["model"]}
    options = {
        "baseline_model": p["baseline_model"] or p["model"],
        "candidate_model": p["candidate_model"] or p["model"],
        "n_boot": p["n_boot"],
        "seed": p["seed"],
    }
    return {**base, "gold": p["gold"], "options": options}


class PlannerParams(serializers.Serializer[dict[str, Any]]):
    expected = serializers.FloatField(required=False, min_value=0, max_value=1)
    successes = serializers.IntegerField(required=False, min_value=0)
    n = serializers.IntegerField(required=False, min_value=1)
    half_width = serializers.FloatField(min_value=0.001, max_value=0.5)
    confidence = serializers.FloatField(default=0.95, min_value=0.5, max_value=0.999)
    method = serializers.ChoiceField(choices=["wilson", "clopper-pearson", "agresti-coull", "wald"], default="wilson")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_counts = "successes" in attrs and "n" in attrs
        if not has_counts and "expected" not in attrs:
            raise serializers.ValidationError("give expected (planning) or successes and n (a study under way)")
        if has_counts and attrs["successes"] > attrs["n"]:
            raise serializers.ValidationError({"successes": "cannot exceed n"})
        return attrs


class SnapshotSerializer(serializers.ModelSerializer[ReportSnapshot]):
    class Meta:
        model = ReportSnapshot
        fields = ["id", "kind", "run", "baseline", "candidate", "params", "created_by", "created_at", "payload"]


class SnapshotSummarySerializer(serializers.ModelSerializer[ReportSnapshot]):
    class Meta:
        model = ReportSnapshot
        fields = ["id", "kind", "run", "baseline", "candidate", "params", "created_by", "created_at"]


def _params(serializer_class: type[serializers.Serializer[dict[str, Any]]], data: Any) -> dict[str, Any]:
    s = serializer_class(data=data)
    s.is_valid(raise_exception=True)
    return dict(s.validated_data)


def _bad_input(exc: Exception) -> ValidationError:
    return ValidationError({"detail": str(exc)})


class AgreementApi(APIView):
    """The agreement report of a run's reviews, computed now (not saved)."""

    permission_classes = [IsAnalyst]
    throttle_scope = "agreement"  # bootstrap intervals (config/throttling.py)

    @extend_schema(parameters=[ReportParams], responses={200: dict})
    def get(self, request: Request, run_id: int) -> Response:
        params = _params(ReportParams, request.query_params)
        try:
            return Response(selectors.agreement_report_for_run(run_id=run_id, **params))
        except selectors.RunNotFoundError as exc:
            raise NotFound(str(exc)) from None
        except StatsInputError as exc:
            raise _bad_input(exc) from None


class RunSnapshotsApi(APIView):
    """GET: a run's saved agreement snapshots, newest first. POST: compute and save one."""

    permission_classes = [IsAnalyst]
    throttle_scope = "agreement"
    throttle_methods = ("POST",)

    @extend_schema(responses={200: SnapshotSummarySerializer(many=True)})
    def get(self, request: Request, run_id: int) -> Response:
        qs = selectors.snapshot_list(kind="agreement", run_id=run_id)
        return Response(SnapshotSummarySerializer(qs, many=True).data)

    @extend_schema(request=ReportParams, responses={201: SnapshotSerializer})
    def post(self, request: Request, run_id: int) -> Response:
        params = _params(ReportParams, request.data)
        try:
            snap = services.agreement_snapshot_create(run_id=run_id, user=request.user, **params)
        except selectors.RunNotFoundError as exc:
            raise NotFound(str(exc)) from None
        except StatsInputError as exc:
            raise _bad_input(exc) from None
        return Response(SnapshotSerializer(snap).data, status=status.HTTP_201_CREATED)


class SnapshotDetailApi(APIView):
    permission_classes = [IsAnalyst]

    @extend_schema(responses={200: SnapshotSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(SnapshotSerializer(get_object_or_404(ReportSnapshot, pk=pk)).data)


class CompareApi(APIView):
    """GET: compare a baseline and a candidate prompt now. POST: compare and save as a snapshot."""

    permission_classes = [IsAnalyst]
    throttle_scope = "agreement"  # both compute the comparison, with bootstrap on a gold set

    @extend_schema(parameters=[CompareParams], responses={200: dict})
    def get(self, request: Request) -> Response:
        params = _params(CompareParams, request.query_params)
        try:
            return Response(services.comparison_payload(**_compare_kwargs(params)))
        except (selectors.PromptSpecError, selectors.GoldSetSpecError, StatsInputError) as exc:
            raise _bad_input(exc) from None

    @extend_schema(request=CompareParams, responses={201: SnapshotSerializer})
    def post(self, request: Request) -> Response:
        params = _params(CompareParams, request.data)
        try:
            snap = services.comparison_snapshot_create(user=request.user, **_compare_kwargs(params))
        except (selectors.PromptSpecError, selectors.GoldSetSpecError, StatsInputError) as exc:
            raise _bad_input(exc) from None
        return Response(SnapshotSerializer(snap).data, status=status.HTTP_201_CREATED)


class PlannerApi(APIView):
    """Items needed for a target interval half-width: from an expected agreement (``expected``), or further
    reviews for a study under way (``successes`` and ``n``)."""

    permission_classes = [IsAnalyst]

    @extend_schema(parameters=[PlannerParams], responses={200: dict})
    def get(self, request: Request) -> Response:
        p = _params(PlannerParams, request.query_params)
        common = {"confidence": p["confidence"], "method": p["method"]}
        try:
            if "successes" in p and "n" in p:
                more = additional_reviews_needed(p["successes"], p["n"], p["half_width"], **common)
                current = proportion_ci(p["successes"], p["n"], **common)
                return Response({"additional": more, "current": current.as_dict(), **p})
            return Response({"n": required_sample_size(p["expected"], p["half_width"], **common), **p})
        except StatsInputError as exc:
            raise _bad_input(exc) from None
