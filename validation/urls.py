"""REST endpoints of the validation app (mounted at /api/validation/)."""

from django.urls import path

from validation import api, gold_api

urlpatterns = [
    path("runs/<int:run_id>/agreement/", api.AgreementApi.as_view(), name="validation-agreement"),
    path("runs/<int:run_id>/snapshots/", api.RunSnapshotsApi.as_view(), name="validation-run-snapshots"),
    path("snapshots/<int:pk>/", api.SnapshotDetailApi.as_view(), name="validation-snapshot"),
    path("compare/", api.CompareApi.as_view(), name="validation-compare"),
    path("planner/", api.PlannerApi.as_view(), name="validation-planner"),
    path("gold-sets/", gold_api.GoldSetListApi.as_view(), name="validation-gold-sets"),
    path("gold-sets/<int:pk>/", gold_api.GoldSetDetailApi.as_view(), name="validation-gold-set"),
    path("gold-sets/<int:pk>/export/", gold_api.GoldSetExportApi.as_view(), name="validation-gold-set-export"),
    path("gold-sets/<int:pk>/score/", gold_api.GoldSetScoreApi.as_view(), name="validation-gold-set-score"),
]
