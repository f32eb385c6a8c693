"""Server-rendered pages of the taxonomy app (mounted at /analysis/)."""

from django.urls import path

from taxonomy import views

urlpatterns = [
    path("taxonomies/", views.taxonomy_list_page, name="taxonomy-list-page"),
    path("taxonomies/<int:pk>/", views.taxonomy_detail_page, name="taxonomy-detail-page"),
    path("taxonomies/<int:pk>/edit/", views.taxonomy_edit_page, name="taxonomy-edit-page"),
]
