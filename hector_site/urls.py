"""HTTP routes. `/admin/` is the Admin API; the Django admin lives at /studio/admin/."""

from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.observability import views as observability
from apps.server import views as server
from apps.studio import views as studio

admin.site.site_header = "Hector Studio admin"
admin.site.site_title = "Hector Studio"
admin.site.index_title = "Apps, configs and agents"

urlpatterns = [
    path("", studio.root),
    path("health", observability.health),
    path("metrics", observability.metrics),
    path("schema", server.config_schema),
    path(
        "api/schema", SpectacularAPIView.as_view(urlconf="apps.tenancy.api.urls"), name="api-schema"
    ),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", include("apps.tenancy.api.urls")),
    path("studio/", include("apps.studio.urls")),
    path("", include("apps.a2a_server.urls")),
    # Static assets are served by the app itself: `hector serve` is the whole product, no proxy
    # needed.
    re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}),
]

handler404 = "hector_site.errors.not_found_view"
handler500 = "hector_site.errors.server_error_view"
