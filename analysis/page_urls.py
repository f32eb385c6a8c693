"""Server-rendered pages of the analysis app (mounted at /analysis/)."""

from django.urls import path

from analysis import views

urlpatterns = [
    # taxonomy
    path("taxonomies/", views.taxonomy_list_page, name="taxonomy-list-page"),
    path("taxonomies/<int:pk>/", views.taxonomy_detail_page, name="taxonomy-detail-page"),
]
