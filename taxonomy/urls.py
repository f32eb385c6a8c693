"""REST endpoints of the taxonomy app (mounted at /api/analysis/)."""

from django.urls import path

from taxonomy import api

urlpatterns = [
    path("taxonomies/", api.TaxonomyListApi.as_view(), name="taxonomy-list"),
    path("taxonomies/build/", api.TaxonomyBuildApi.as_view(), name="taxonomy-build"),
    path("taxonomies/import/", api.TaxonomyImportApi.as_view(), name="taxonomy-import"),
    path("taxonomies/<int:pk>/", api.TaxonomyDetailApi.as_view(), name="taxonomy-detail"),
    path("taxonomies/<int:pk>/nodes/", api.TaxonomyNodeListApi.as_view(), name="taxonomy-nodes"),
    path("taxonomies/<int:pk>/edits/", api.TaxonomyEditListApi.as_view(), name="taxonomy-edits"),
    path("taxonomies/<int:pk>/unmapped/", api.TaxonomyUnmappedApi.as_view(), name="taxonomy-unmapped"),
    path("taxonomies/<int:pk>/ancestors/", api.TaxonomyAncestorsApi.as_view(), name="taxonomy-ancestors"),
    path("taxonomies/<int:pk>/map/", api.TaxonomyMapApi.as_view(), name="taxonomy-map"),
    path("taxonomy-nodes/<int:pk>/rename/", api.NodeRenameApi.as_view(), name="taxonomy-node-rename"),
    path("taxonomy-nodes/<int:pk>/merge/", api.NodeMergeApi.as_view(), name="taxonomy-node-merge"),
    path("taxonomy-nodes/<int:pk>/move/", api.NodeMoveApi.as_view(), name="taxonomy-node-move"),
]
