"""Server-rendered pages of the results app (mounted at /analysis/)."""

from django.urls import path

from results import views

urlpatterns = [
    path("descriptive/", views.descriptive_page, name="descriptive-page"),
    path("residuals/", views.residual_list_page, name="residual-list-page"),
    path("residuals/<int:pk>/", views.residual_detail_page, name="residual-page"),
]
