"""REST endpoints of the annotate app (mounted at /api/annotate/)."""

from django.urls import path

from annotate import api

urlpatterns = [
    path("webhooks/label-studio/", api.LabelStudioWebhookApi.as_view(), name="label-studio-webhook"),
    path("samples/", api.ReviewSampleListApi.as_view(), name="review-sample-list"),
    path("samples/<int:sample_id>/push/", api.ReviewSamplePushApi.as_view(), name="review-sample-push"),
    path("samples/<int:sample_id>/reconcile/", api.ReviewSampleReconcileApi.as_view(), name="review-sample-reconcile"),
]
