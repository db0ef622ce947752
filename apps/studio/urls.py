from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from apps.studio import views

urlpatterns = [
    path("", views.home, name="studio-home"),
    path("login/", views.login_view, name="studio-login"),
    path("logout/", views.logout_view, name="studio-logout"),
    # The Django admin's own password login does not apply: the admin secret unlocks the Studio.
    path("admin/login/", RedirectView.as_view(url="/studio/login/", query_string=True)),
    path("admin/", admin.site.urls),
]
