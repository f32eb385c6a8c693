"""Server-rendered pages of the validation app (mounted at /validation/)."""

from django.urls import path

from validation import views

urlpatterns = [
    path("runs/<int:run_id>/", views.run_report, name="validation-run-page"),
    path("runs/<int:run_id>/targets/", views.trust_target_page, name="validation-trust-target"),
]
