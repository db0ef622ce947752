"""Studio entry: unlock with the admin secret, then a staff session (Studio + admin)."""

from __future__ import annotations

from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from apps.tenancy.auth import is_admin_secret
from apps.tenancy.models import App

MAX_FAILURES_PER_MINUTE = 5
STUDIO_USERNAME = "studio-admin"


def _client_ip(request: HttpRequest) -> str:
    forwarded = request.headers.get("X-Forwarded-For", "")
    return forwarded.split(",")[0].strip() or request.META.get("REMOTE_ADDR", "unknown")


def root(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return HttpResponseRedirect("/studio/")
    return HttpResponseRedirect("/studio/login/")


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        if request.user.is_authenticated:
            return HttpResponseRedirect("/studio/")
        return render(request, "studio/login.html")
    failures_key = f"studio-login-failures:{_client_ip(request)}"
    failures = cache.get(failures_key, 0)
    if failures >= MAX_FAILURES_PER_MINUTE:
        context = {"error": "Too many failed attempts. Wait a minute and try again."}
        return render(request, "studio/login.html", context, status=429)
    secret = request.POST.get("secret", "").strip()
    if not secret or not is_admin_secret(secret):
        cache.set(failures_key, failures + 1, timeout=60)
        return render(request, "studio/login.html", {"error": "That secret is not valid."})
    user, _ = get_user_model().objects.get_or_create(
        username=STUDIO_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect("/studio/")


@require_http_methods(["POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect("/studio/login/")


@login_required(login_url="/studio/login/")
def home(request: HttpRequest) -> HttpResponse:
    apps = App.objects.tenants().order_by("created_at")[:200]
    return render(request, "studio/home.html", {"apps": apps, "tenant": request.tenant})
