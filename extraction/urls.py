"""REST endpoints of the extraction app (mounted at /api/extraction/)."""

from django.urls import path

from extraction import api

urlpatterns = [
    path("runs/", api.RunListCreateApi.as_view(), name="extraction-run-list"),
    path("runs/<int:run_id>/", api.RunDetailApi.as_view(), name="extraction-run-detail"),
    path("runs/<int:run_id>/cancel/", api.RunCancelApi.as_view(), name="extraction-run-cancel"),
]
