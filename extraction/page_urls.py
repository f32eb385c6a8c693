"""Server-rendered pages of the extraction app (mounted at /extraction/)."""

from django.urls import path

from extraction import views

urlpatterns = [
    path("runs/<int:run_id>/", views.run_page, name="extraction-run-page"),
]
