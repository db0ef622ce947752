"""Studio entry and apps: unlock with the admin secret, pick the app, create and manage apps.

Views parse, call a service (`apps.tenancy.services`, the one the Admin API uses), render. App
tokens are shown in the response that created them and stored nowhere else (not in a flash
message, which would put them in a cookie).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from apps.studio.decorators import studio_view
from apps.studio.forms import AppCreateForm
from apps.studio.middleware import select_app
from apps.tenancy import services as tenancy
from apps.tenancy.api.views import issuer_for
from apps.tenancy.auth import is_admin_secret
from apps.tenancy.models import App
from hector_site.errors import HectorError

MAX_FAILURES_PER_MINUTE = 5
STUDIO_USERNAME = "studio-admin"
STUDIO_HOME = "/studio/"


def _issuer(request: HttpRequest) -> str:
    return issuer_for(request)  # type: ignore[arg-type]  # needs only build_absolute_uri


def _client_ip(request: HttpRequest) -> str:
    forwarded = request.headers.get("X-Forwarded-For", "")
    return forwarded.split(",")[0].strip() or request.META.get("REMOTE_ADDR", "unknown")


def root(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return HttpResponseRedirect(STUDIO_HOME)
    return HttpResponseRedirect("/studio/login/")


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        if request.user.is_authenticated:
            return HttpResponseRedirect(STUDIO_HOME)
        return render(request, "studio/login.html", {"next": request.GET.get("next", "")})
    failures_key = f"studio-login-failures:{_client_ip(request)}"
    failures = cache.get(failures_key, 0)
    if failures >= MAX_FAILURES_PER_MINUTE:
        context = {"error": "Too many failed attempts. Wait a minute and try again."}
        response = render(request, "studio/login.html", context, status=429)
        response["Retry-After"] = "60"
        return response
    secret = request.POST.get("secret", "").strip()
    if not secret or not is_admin_secret(secret):
        cache.set(failures_key, failures + 1, timeout=60)
        context = {"error": "That secret is not valid.", "next": request.POST.get("next", "")}
        return render(request, "studio/login.html", context)
    user, _ = get_user_model().objects.get_or_create(
        username=STUDIO_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    target = request.POST.get("next") or STUDIO_HOME
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = STUDIO_HOME
    return HttpResponseRedirect(target)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect("/studio/login/")


# --- Apps ---------------------------------------------------------------------------------------

# Pages about one object of the previous app make no sense in the next one: land on their list.
_OBJECT_PAGES = (
    (re.compile(r"^/studio/sessions/.+"), "/studio/sessions/"),
    (re.compile(r"^/studio/resources/.+"), "/studio/resources/"),
    (re.compile(r"^/studio/config/.+"), "/studio/config/"),
    (re.compile(r"^(/studio/admin/[^/]+/[^/]+/).+"), r"\1"),
)


def landing_after_switch(path: str) -> str:
    path = path.split("?", 1)[0]
    for pattern, target in _OBJECT_PAGES:
        if pattern.match(path):
            return pattern.sub(target, path)
    return path


@studio_view
@require_POST
def select_app_view(request: HttpRequest) -> HttpResponse:
    try:
        app = tenancy.access_app(request.POST.get("app", ""))
    except HectorError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect("/studio/apps/")
    select_app(request, app)
    target = request.POST.get("next") or STUDIO_HOME
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = STUDIO_HOME
    return HttpResponseRedirect(landing_after_switch(target))


def _app_rows() -> list[dict[str, Any]]:
    rows = []
    for app in App.objects.tenants().order_by("created_at", "id")[:500]:
        try:
            agents = list((json.loads(app.config_json or "{}").get("agents") or {}).keys())
        except ValueError:
            agents = []
        rows.append({"app": app, "agents": agents})
    return rows


@studio_view
@require_http_methods(["GET", "POST"])
def apps_view(request: HttpRequest) -> HttpResponse:
    form = AppCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = tenancy.create_app(
                name=form.cleaned_data["name"],
                app_id=form.cleaned_data["id"] or None,
                description=form.cleaned_data["description"],
                issuer=_issuer(request),
                source="studio",
            )
        except HectorError as error:
            form.add_error("id" if "already exists" in error.message else None, error.message)
        else:
            select_app(request, created.app)
            return _token_page(request, created.app, created.access_token, created=True)
    context = {"form": form, "rows": _app_rows()}
    return render(request, "studio/apps.html", context, status=400 if form.errors else 200)


def _token_page(request: HttpRequest, app: App, token: str, *, created: bool) -> HttpResponse:
    context = {"app": app, "token": token, "created": created, "issuer": _issuer(request)}
    response = render(request, "studio/app_token.html", context)
    response["Cache-Control"] = "no-store"
    return response


@studio_view
@require_POST
def regenerate_token_view(request: HttpRequest, app_id: str) -> HttpResponse:
    try:
        app = tenancy.access_app(app_id)
        token = tenancy.regenerate_token(app_id=app.id, issuer=_issuer(request))
    except HectorError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect("/studio/apps/")
    return _token_page(request, app, token, created=False)


@studio_view
@require_POST
def delete_app_view(request: HttpRequest, app_id: str) -> HttpResponse:
    try:
        tenancy.delete_app(app_id=app_id)
    except HectorError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f'App "{app_id}" deleted with all its sessions and tasks.')
    return HttpResponseRedirect("/studio/apps/")
