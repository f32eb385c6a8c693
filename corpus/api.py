"""REST endpoints for datasets."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.generics import ListAPIView

from corpus.models import Dataset
from corpus.selectors import dataset_list


class DatasetSerializer(serializers.ModelSerializer[Dataset]):
    conversation_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "conversation_count", "created_at"]


class DatasetListApi(ListAPIView[Dataset]):
    serializer_class = DatasetSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return dataset_list()
