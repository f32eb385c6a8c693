"""REST endpoints of the results app (mounted at /api/analysis/)."""

from django.urls import path

from results import api

urlpatterns = [
    path("residuals/", api.ResidualAnalysisListApi.as_view(), name="residual-list"),
    path("residuals/<int:pk>/", api.ResidualAnalysisDetailApi.as_view(), name="residual-detail"),
    path("residuals/<int:pk>/cells/", api.ResidualCellListApi.as_view(), name="residual-cells"),
    path("descriptive/", api.DescriptiveResultsApi.as_view(), name="descriptive-results"),
]
