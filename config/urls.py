"""Root URLs. Every API endpoint requires authentication (see REST_FRAMEWORK in settings)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/corpus/", include("corpus.urls")),
    path("api/validation/", include("validation.urls")),
    path("validation/", include("validation.page_urls")),
    path("api/analysis/", include("analysis.urls")),
    path("analysis/", include("analysis.page_urls")),
    path("extraction/", include("extraction.page_urls")),
    path("api/extraction/", include("extraction.urls")),
    path("api/annotate/", include("annotate.urls")),
    path("", include("workbench.urls")),
]
