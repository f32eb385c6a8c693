"""Root URLs. Every API endpoint requires authentication (see REST_FRAMEWORK in settings)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, not inline, so a strict Content-Security-Policy can allow it.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/docs.html"),
        name="api-docs",
    ),
    path("api/corpus/", include("corpus.urls")),
    path("api/validation/", include("validation.urls")),
    path("validation/", include("validation.page_urls")),
    path("api/analysis/", include("taxonomy.urls")),
    path("api/analysis/", include("results.urls")),
    path("analysis/", include("taxonomy.page_urls")),
    path("analysis/", include("results.page_urls")),
    path("extraction/", include("extraction.page_urls")),
    path("api/extraction/", include("extraction.urls")),
    path("api/annotate/", include("annotate.urls")),
    path("", include("workbench.urls")),
]
