"""REST endpoints of the analysis app (mounted at /api/analysis/). Reads need a login; writes need a lead or a
prompt engineer."""

from __future__ import annotations

# ==================================================================================================== taxonomy
import tempfile
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import HasRole, Role
from analysis.models import ResidualAnalysis, ResidualCell, Taxonomy, TaxonomyEdit, TaxonomyNode
from analysis.selectors import (
    Scope,
    descriptive_results,
    residual_analysis_list,
    residual_cells,
    taxonomy_ancestor_names,
    taxonomy_edits,
    taxonomy_list,
    taxonomy_nodes,
    taxonomy_summary,
    taxonomy_unmapped,
)
from analysis.services import (
    CELL_COLUMNS,
    AnalysisRequestError,
    residual_analysis_check,
    taxonomy_import_tree,
    taxonomy_node_merge,
    taxonomy_node_move,
    taxonomy_node_rename,
)
from analysis.tasks import residual_analysis_task, taxonomy_build_task, taxonomy_map_task
from analysis.taxonomy import TaxonomyError, TaxonomyParams
from extraction.models import Feature

TAXONOMY_EDITORS = HasRole.of(Role.LEAD, Role.PROMPT_ENGINEER)
FALLBACK_NOTE = (
    "Cluster names are fallbacks: each cluster is named after its most central member because no language model "
    "was configured to name it. Rename clusters in review, or rebuild with TAXONOMY_NAMER set."
)


class TaxonomySerializer(serializers.ModelSerializer[Taxonomy]):
    node_count = serializers.IntegerField(read_only=True)
    naming_note = serializers.SerializerMethodField()

    class Meta:
        model = Taxonomy
        fields = [
            "id",
            "name",
            "version",
            "feature",
            "source",
            "params",
            "embedding_model",
            "names_are_fallback",
            "naming_note",
            "level_count",
            "stability",
            "build_seconds",
            "notes",
            "build_key",
            "created_at",
            "node_count",
        ]

    def get_naming_note(self, obj: Taxonomy) -> str:
        return FALLBACK_NOTE if obj.names_are_fallback else ""


class TaxonomyNodeSerializer(serializers.ModelSerializer[TaxonomyNode]):
    class Meta:
        model = TaxonomyNode
        fields = [
            "id",
            "key",
            "level",
            "name",
            "description",
            "parent",
            "size",
            "pct_total_occurrences",
            "name_is_fallback",
        ]


class TaxonomyEditSerializer(serializers.ModelSerializer[TaxonomyEdit]):
    user = serializers.CharField(source="user.username", default=None, read_only=True)

    class Meta:
        model = TaxonomyEdit
        fields = ["id", "node", "action", "before", "after", "user", "created_at"]


class TaxonomyListApi(ListAPIView[Taxonomy]):
    serializer_class = TaxonomySerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        qs = taxonomy_list()
        key = self.request.query_params.get("build_key")
        return qs.filter(build_key=key) if key else qs


class TaxonomyDetailApi(RetrieveAPIView[Taxonomy]):
    serializer_class = TaxonomySerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return taxonomy_list()

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        taxonomy = self.get_object()
        data = dict(self.get_serializer(taxonomy).data)
        data.update(taxonomy_summary(taxonomy=taxonomy))
        return Response(data)


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise serializers.ValidationError({name: [f"must be an integer (got {raw!r})"]}) from None


class TaxonomyNodeListApi(ListAPIView[TaxonomyNode]):
    serializer_class = TaxonomyNodeSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        taxonomy = get_object_or_404(Taxonomy, pk=self.kwargs["pk"])
        return taxonomy_nodes(
            taxonomy=taxonomy, level=_int_param(self.request, "level"), parent_id=_int_param(self.request, "parent")
        )


class TaxonomyEditListApi(ListAPIView[TaxonomyEdit]):
    serializer_class = TaxonomyEditSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return taxonomy_edits(taxonomy=get_object_or_404(Taxonomy, pk=self.kwargs["pk"]))


class TaxonomyUnmappedApi(APIView):
    def get(self, request: Request, pk: int) -> Response:
        taxonomy = get_object_or_404(Taxonomy, pk=pk)
        return Response({"taxonomy": taxonomy.pk, "unmapped": taxonomy_unmapped(taxonomy=taxonomy)})


class TaxonomyAncestorsApi(APIView):
    """value -> ancestor name at ``?level=N`` (the taxonomy's values and every value mapped onto it)."""

    def get(self, request: Request, pk: int) -> Response:
        taxonomy = get_object_or_404(Taxonomy, pk=pk)
        level = _int_param(request, "level")
        if level is None:
            raise serializers.ValidationError({"level": ["required"]})
        try:
            mapping = taxonomy_ancestor_names(taxonomy=taxonomy, level=level)
        except TaxonomyError as exc:
            raise serializers.ValidationError({"level": [str(exc)]}) from exc
        return Response({"taxonomy": taxonomy.pk, "level": level, "ancestors": mapping})


class TaxonomyBuildApi(APIView):
    """Queue a build from the parsed extractions of a feature; poll ``GET taxonomies/?build_key=…``."""

    permission_classes = [IsAuthenticated, TAXONOMY_EDITORS]

    class InputSerializer(serializers.Serializer[dict[str, Any]]):
        name = serializers.CharField(max_length=100, default="ai-values")
        feature = serializers.CharField(max_length=32, default="ai_values")
        dataset = serializers.IntegerField(required=False, allow_null=True, default=None)
        levels = serializers.IntegerField(min_value=2, max_value=8, default=4)
        top = serializers.IntegerField(min_value=1, default=5)
        sizes = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, allow_empty=False)
        seed = serializers.IntegerField(default=0)
        stability_seed = serializers.IntegerField(required=False, allow_null=True, default=None)

    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        sizes = tuple(v["sizes"]) if v.get("sizes") else None
        params = TaxonomyParams(
            levels=len(sizes) + 1 if sizes else v["levels"],
            n_top=sizes[-1] if sizes else v["top"],
            seed=v["seed"],
            level_sizes=sizes,
        )
        if sizes:
            try:
                params.targets(sizes[0])
            except TaxonomyError as exc:
                raise serializers.ValidationError({"sizes": [str(exc)]}) from exc
        build_key = uuid.uuid4().hex
        stability_seed = v["stability_seed"] if v["stability_seed"] is not None else v["seed"] + 1
        result = taxonomy_build_task.delay(
            build_key=build_key,
            name=v["name"],
            feature=v["feature"],
            dataset_id=v["dataset"],
            params={
                "levels": params.levels,
                "n_top": params.n_top,
                "seed": params.seed,
                "level_sizes": list(sizes) if sizes else None,
            },
            stability_seed=stability_seed,
            user_id=request.user.pk,
        )
        done = Taxonomy.objects.filter(build_key=build_key).values_list("pk", flat=True).first()
        return Response(
            {"build_key": build_key, "task_id": result.id, "taxonomy": done},
            status=status.HTTP_201_CREATED if done else status.HTTP_202_ACCEPTED,
        )


class TaxonomyImportApi(APIView):
    """Upload a values_tree.csv (multipart field ``file``) as a new version of ``name``."""

    permission_classes = [IsAuthenticated, TAXONOMY_EDITORS]

    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise serializers.ValidationError({"file": ["a values_tree.csv upload is required"]})
        name = str(request.POST.get("name") or "values-in-the-wild")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(upload.name or "values_tree.csv").name
            with path.open("wb") as fh:
                for chunk in upload.chunks():
                    fh.write(chunk)
            try:
                taxonomy = taxonomy_import_tree(path=path, name=name, user=request.user, notes=f"upload {upload.name}")
            except TaxonomyError as exc:
                message = str(exc).replace(str(path), upload.name or "upload")
                raise serializers.ValidationError({"file": [message]}) from exc
        taxonomy = taxonomy_list().get(pk=taxonomy.pk)
        return Response(TaxonomySerializer(taxonomy).data, status=status.HTTP_201_CREATED)


class TaxonomyMapApi(APIView):
    """Queue the mapping of a feature's extracted values onto this taxonomy."""

    permission_classes = [IsAuthenticated, TAXONOMY_EDITORS]

    class InputSerializer(serializers.Serializer[dict[str, Any]]):
        feature = serializers.CharField(max_length=32, default="ai_values")
        dataset = serializers.IntegerField(required=False, allow_null=True, default=None)
        threshold = serializers.FloatField(min_value=0.0, max_value=1.0, required=False, allow_null=True, default=None)

    def post(self, request: Request, pk: int) -> Response:
        taxonomy = get_object_or_404(Taxonomy, pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        result = taxonomy_map_task.delay(
            taxonomy_id=taxonomy.pk, feature=v["feature"], dataset_id=v["dataset"], threshold=v["threshold"]
        )
        return Response({"task_id": result.id}, status=status.HTTP_202_ACCEPTED)


class _NodeEditApi(APIView):
    """POST: check ``InputSerializer``, apply :meth:`edit` to the node and answer with the node as it now stands.

    A ``TaxonomyError`` from the edit (a rule of the tree it would break) is a 400 naming ``error_field``."""

    permission_classes = [IsAuthenticated, TAXONOMY_EDITORS]
    InputSerializer: type[serializers.Serializer[dict[str, Any]]]
    error_field: str

    def edit(self, node: TaxonomyNode, data: dict[str, Any], user: Any) -> TaxonomyNode:
        raise NotImplementedError

    def post(self, request: Request, pk: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        node = get_object_or_404(TaxonomyNode.objects.select_related("taxonomy", "parent"), pk=pk)
        try:
            node = self.edit(node, data.validated_data, request.user)
        except TaxonomyError as exc:
            raise serializers.ValidationError({self.error_field: [str(exc)]}) from exc
        node.refresh_from_db()
        return Response(TaxonomyNodeSerializer(node).data)


class NodeRenameApi(_NodeEditApi):
    class InputSerializer(serializers.Serializer[dict[str, Any]]):
        name = serializers.CharField(max_length=500)
        description = serializers.CharField(required=False, allow_blank=True, default=None)

    error_field = "name"

    def edit(self, node: TaxonomyNode, data: dict[str, Any], user: Any) -> TaxonomyNode:
        return taxonomy_node_rename(node=node, name=data["name"], description=data["description"], user=user)


class NodeMergeApi(_NodeEditApi):
    class InputSerializer(serializers.Serializer[dict[str, Any]]):
        into = serializers.IntegerField(help_text="id of the cluster that absorbs this one")

    error_field = "into"

    def edit(self, node: TaxonomyNode, data: dict[str, Any], user: Any) -> TaxonomyNode:
        target = get_object_or_404(TaxonomyNode, pk=data["into"])
        return taxonomy_node_merge(source=node, target=target, user=user)


class NodeMoveApi(_NodeEditApi):
    class InputSerializer(serializers.Serializer[dict[str, Any]]):
        new_parent = serializers.IntegerField(help_text="id of the new parent, one level up")

    error_field = "new_parent"

    def edit(self, node: TaxonomyNode, data: dict[str, Any], user: Any) -> TaxonomyNode:
        parent = get_object_or_404(TaxonomyNode, pk=data["new_parent"])
        return taxonomy_node_move(node=node, new_parent=parent, user=user)


# ================================================================================================ end taxonomy


# =========================================================================================== residuals & descriptive
ANALYSTS = HasRole.of(Role.LEAD, Role.PROMPT_ENGINEER)


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


class ResidualAnalysisListApi(APIView):
    """GET: stored residual analyses (?request_key=). POST (lead, prompt engineer): queue one."""

    class InputSerializer(serializers.Serializer[dict[str, Any]]):
        rows = serializers.ChoiceField(choices=Feature.values)
        cols = serializers.ChoiceField(choices=Feature.values)
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

    def get_permissions(self):  # type: ignore[no-untyped-def]
        return [IsAuthenticated()] if self.request.method == "GET" else [ANALYSTS()]

    def get(self, request: Request) -> Response:
        qs = residual_analysis_list()
        if request.query_params.get("request_key"):
            qs = qs.filter(request_key=request.query_params["request_key"])
        return Response(ResidualAnalysisSerializer(qs[:200], many=True).data)

    def post(self, request: Request) -> Response:
        """Check the request, queue the analysis, answer 202 with the key to poll ``GET residuals/?request_key=``."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        params = {
            "rows": v["rows"],
            "cols": v["cols"],
            "dataset_id": v.get("dataset"),
            "run_id": v.get("run"),
            "row_level": v.get("row_level"),
            "col_level": v.get("col_level"),
            "row_taxonomy_id": v.get("row_taxonomy"),
            "col_taxonomy_id": v.get("col_taxonomy"),
        }
        try:
            residual_analysis_check(**params)
        except AnalysisRequestError as exc:
            raise serializers.ValidationError({"detail": [str(exc)]}) from exc
        params |= {
            "min_conversations": v.get("min_conversations"),
            "alpha": v["alpha"],
            "comparisons": v["comparisons"],
            "top_k": v["top_k"],
            "subjective_only": v["subjective_only"],
            "include_none": v["include_none"],
        }
        request_key = uuid.uuid4().hex
        result = residual_analysis_task.delay(request_key=request_key, params=params, user_id=request.user.pk)
        return Response(
            {"request_key": request_key, "task_id": result.id, "poll": f"{request.path}?request_key={request_key}"},
            status=status.HTTP_202_ACCEPTED,
        )


class ResidualAnalysisDetailApi(RetrieveAPIView[ResidualAnalysis]):
    serializer_class = ResidualAnalysisSerializer
    queryset = ResidualAnalysis.objects.all()


class ResidualCellListApi(ListAPIView[ResidualCell]):
    """Reported cells, strongest first; ?significant=true|false, ?row=, ?col=, ?negative=true (most negative first),
    ?limit= (default 100, at most 5000)."""

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
        try:
            limit = min(max(int(params.get("limit", 100)), 1), 5000)
        except ValueError as exc:
            raise serializers.ValidationError({"limit": ["must be an integer"]}) from exc
        return qs[:limit]


class DescriptiveResultsApi(APIView):
    """The paper's descriptive tables for ?dataset= or ?run= (or everything), with the privacy threshold applied;
    ?min_conversations= may only raise the configured threshold."""

    permission_classes = [ANALYSTS]

    def get(self, request: Request) -> Response:
        params = request.query_params
        try:
            dataset = int(params["dataset"]) if params.get("dataset") else None
            run = int(params["run"]) if params.get("run") else None
            k = int(params.get("min_conversations", settings.ANALYSIS_MIN_CONVERSATIONS))
            top = min(max(int(params.get("top", 20)), 1), 200)
        except ValueError as exc:
            raise serializers.ValidationError(
                {"detail": ["dataset, run, min_conversations and top are integers"]}
            ) from exc
        # Lowering the threshold through the API would defeat it.
        k = max(k, settings.ANALYSIS_MIN_CONVERSATIONS)
        tables = descriptive_results(
            scope=Scope(dataset_id=dataset, run_id=run),
            min_conversations=k,
            top=top,
            subjective_only=params.get("subjective_only", "true").lower() not in {"0", "false", "no"},
        )
        return Response({"min_conversations": k, "tables": {key: t.to_dict() for key, t in tables.items()}})


# ======================================================================================= end residuals & descriptive
