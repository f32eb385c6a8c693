"""REST endpoints of the taxonomy app (mounted at /api/analysis/). Reads need a login; writes need a lead or a
prompt engineer."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

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
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import IsAnalyst, IsLead
from jobs.models import Job
from jobs.services import job_start_once
from taxonomy.models import Taxonomy, TaxonomyEdit, TaxonomyNode
from taxonomy.requests import TaxonomyBuildRequest
from taxonomy.selectors import (
    taxonomy_ancestor_names,
    taxonomy_edits,
    taxonomy_list,
    taxonomy_nodes,
    taxonomy_summary,
    taxonomy_unmapped,
)
from taxonomy.services import taxonomy_import_tree, taxonomy_node_merge, taxonomy_node_move, taxonomy_node_rename
from taxonomy.tasks import taxonomy_build_task, taxonomy_map_task
from taxonomy.values import TaxonomyError

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
    @extend_schema(
        responses=inline_serializer(
            "TaxonomyUnmapped",
            {"taxonomy": serializers.IntegerField(), "unmapped": serializers.ListField(child=serializers.CharField())},
        )
    )
    def get(self, request: Request, pk: int) -> Response:
        taxonomy = get_object_or_404(Taxonomy, pk=pk)
        return Response({"taxonomy": taxonomy.pk, "unmapped": taxonomy_unmapped(taxonomy=taxonomy)})


class TaxonomyAncestorsApi(APIView):
    """value -> ancestor name at ``?level=N`` (the taxonomy's values and every value mapped onto it)."""

    @extend_schema(
        parameters=[OpenApiParameter("level", OpenApiTypes.INT, required=True, description="level of the ancestors")],
        responses=inline_serializer(
            "TaxonomyAncestors",
            {
                "taxonomy": serializers.IntegerField(),
                "level": serializers.IntegerField(),
                "ancestors": serializers.DictField(child=serializers.CharField(), help_text="value -> ancestor name"),
            },
        ),
    )
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


_BUILD_QUEUED = inline_serializer(
    "TaxonomyBuildQueued",
    {
        "build_key": serializers.CharField(help_text="poll GET taxonomies/?build_key="),
        "task_id": serializers.CharField(),
        "taxonomy": serializers.IntegerField(allow_null=True, help_text="the new taxonomy once built"),
        "job": serializers.IntegerField(),
        "duplicate": serializers.BooleanField(help_text="true: an identical build was already pending or running"),
    },
)


class TaxonomyBuildApi(APIView):
    """Queue a build from the parsed extractions of a feature; poll ``GET taxonomies/?build_key=…``."""

    permission_classes = [IsAuthenticated, IsAnalyst]
    throttle_scope = "taxonomy_builds"

    @extend_schema_serializer(component_name="TaxonomyBuildInput")
    class InputSerializer(serializers.Serializer[dict[str, Any]]):
        name = serializers.CharField(max_length=100, default="ai-values")
        feature = serializers.CharField(max_length=32, default="ai_values")
        dataset = serializers.IntegerField(required=False, allow_null=True, default=None)
        levels = serializers.IntegerField(min_value=2, max_value=8, default=4)
        top = serializers.IntegerField(min_value=1, default=5)
        sizes = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, allow_empty=False)
        seed = serializers.IntegerField(default=0)
        stability_seed = serializers.IntegerField(required=False, allow_null=True, default=None)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: OpenApiResponse(_BUILD_QUEUED, description="built at once (no broker): ``taxonomy`` is its id"),
            202: OpenApiResponse(_BUILD_QUEUED, description="queued"),
            200: OpenApiResponse(_BUILD_QUEUED, description="the same build is already pending or running: that one"),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        build = TaxonomyBuildRequest(
            name=v["name"],
            feature=v["feature"],
            dataset_id=v["dataset"],
            levels=v["levels"],
            top=v["top"],
            sizes=tuple(v["sizes"]) if v.get("sizes") else None,
            seed=v["seed"],
            stability_seed=v["stability_seed"],
        )
        try:
            build.check()
        except TaxonomyError as exc:
            raise serializers.ValidationError({"sizes": [str(exc)]}) from exc
        params = build.as_dict()

        def enqueue(job: Job) -> str:
            task = taxonomy_build_task.delay(build_key=job.ref, request=params, user_id=request.user.pk, job_id=job.pk)
            return str(task.id)

        # The same build while one is pending or running answers that one (200), not a second build.
        try:
            job, created = job_start_once(kind="taxonomy_build", params=params, user=request.user, enqueue=enqueue)
        except TaxonomyError as exc:  # no broker: the build ran here, and the data could not make that tree
            raise serializers.ValidationError({"detail": [str(exc)]}) from exc
        done = Taxonomy.objects.filter(build_key=job.ref).values_list("pk", flat=True).first()
        answer = {"build_key": job.ref, "task_id": job.task_id, "taxonomy": done, "job": job.pk}
        if not created:
            return Response({**answer, "duplicate": True}, status=status.HTTP_200_OK)
        return Response(
            {**answer, "duplicate": False}, status=status.HTTP_201_CREATED if done else status.HTTP_202_ACCEPTED
        )


class TaxonomyImportApi(APIView):
    """Upload a values_tree.csv (multipart field ``file``) as a new version of ``name``."""

    permission_classes = [IsAuthenticated, IsAnalyst]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "values_tree.csv"},
                    "name": {"type": "string", "default": "values-in-the-wild"},
                },
                "required": ["file"],
            }
        },
        responses={201: TaxonomySerializer},
    )
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

    permission_classes = [IsAuthenticated, IsAnalyst]
    throttle_scope = "taxonomy_builds"

    @extend_schema_serializer(component_name="TaxonomyMapInput")
    class InputSerializer(serializers.Serializer[dict[str, Any]]):
        feature = serializers.CharField(max_length=32, default="ai_values")
        dataset = serializers.IntegerField(required=False, allow_null=True, default=None)
        threshold = serializers.FloatField(min_value=0.0, max_value=1.0, required=False, allow_null=True, default=None)

    @extend_schema(
        request=InputSerializer,
        responses={202: inline_serializer("TaxonomyMapQueued", {"task_id": serializers.CharField()})},
    )
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

    A ``TaxonomyError`` from the edit (a rule of the tree it would break) is a 400 naming ``error_field``. Leads only,
    as on the taxonomy page: reviewing a taxonomy is the lead's decision, whichever way it is made."""

    permission_classes = [IsAuthenticated, IsLead]
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


class RenameInput(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=500)
    description = serializers.CharField(required=False, allow_blank=True, default=None)


class MergeInput(serializers.Serializer[dict[str, Any]]):
    into = serializers.IntegerField(help_text="id of the cluster that absorbs this one")


class MoveInput(serializers.Serializer[dict[str, Any]]):
    new_parent = serializers.IntegerField(help_text="id of the new parent, one level up")


@extend_schema(request=RenameInput, responses=TaxonomyNodeSerializer)
class NodeRenameApi(_NodeEditApi):
    InputSerializer = RenameInput
    error_field = "name"

    def edit(self, node: TaxonomyNode, data: dict[str, Any], user: Any) -> TaxonomyNode:
        return taxonomy_node_rename(node=node, name=data["name"], description=data["description"], user=user)


@extend_schema(request=MergeInput, responses=TaxonomyNodeSerializer)
class NodeMergeApi(_NodeEditApi):
    InputSerializer = MergeInput
    error_field = "into"

    def edit(self, node: TaxonomyNode, data: dict[str, Any], user: Any) -> TaxonomyNode:
        target = get_object_or_404(TaxonomyNode, pk=data["into"])
        return taxonomy_node_merge(source=node, target=target, user=user)


@extend_schema(request=MoveInput, responses=TaxonomyNodeSerializer)
class NodeMoveApi(_NodeEditApi):
    InputSerializer = MoveInput
    error_field = "new_parent"

    def edit(self, node: TaxonomyNode, data: dict[str, Any], user: Any) -> TaxonomyNode:
        parent = get_object_or_404(TaxonomyNode, pk=data["new_parent"])
        return taxonomy_node_move(node=node, new_parent=parent, user=user)
