"""REST endpoints of the corpus app (mounted at /api/corpus/)."""

from django.urls import path

from corpus import api

urlpatterns = [
    path("datasets/", api.DatasetListApi.as_view(), name="dataset-list"),
]
