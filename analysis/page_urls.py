"""Server-rendered pages of the analysis app (mounted at /analysis/)."""

from django.urls import path

from analysis import views

urlpatterns = [
    # taxonomy
    path("taxonomies/", views.taxonomy_list_page, name="taxonomy-list-page"),
    path("taxonomies/<int:pk>/", views.taxonomy_detail_page, name="taxonomy-detail-page"),
    # residuals & descriptive
    path("residuals/", views.residual_list_page, name="residual-list-page"),
    path("residuals/<int:pk>/", views.residual_detail_page, name="residual-page"),
]
