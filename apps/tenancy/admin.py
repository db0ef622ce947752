from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from apps.tenancy import services
from apps.tenancy.models import APP_ID_PATTERN, App, Domain, SigningKey
from hector_site.errors import HectorError


class AppAddForm(forms.Form):
    name = forms.CharField(max_length=200)
    id = forms.RegexField(
        regex=APP_ID_PATTERN,
        required=False,
        max_length=63,
        help_text="Optional: lowercase letters, digits and '-'. Generated when empty.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


def _issuer(request: HttpRequest) -> str:
    from apps.tenancy.api.views import issuer_for

    return issuer_for(request)  # type: ignore[arg-type]  # needs only build_absolute_uri


def _tokens_page(
    request: HttpRequest, model_admin: admin.ModelAdmin, tokens: list[tuple[App, str]], title: str
) -> TemplateResponse:
    """App tokens are shown in the response that made them and stored nowhere else."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "tokens": tokens,
        "opts": model_admin.model._meta,
        "issuer": _issuer(request),
    }
    response = TemplateResponse(request, "admin/tenancy/app/tokens.html", context)
    response["Cache-Control"] = "no-store"
    return response


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "schema_name", "active_revision", "created_at", "updated_at"]
    search_fields = ["id", "name", "description"]
    readonly_fields = [
        "id",
        "schema_name",
        "config_json",
        "active_revision",
        "token_version",
        "created_at",
        "updated_at",
    ]
    fields = [
        "id",
        "name",
        "description",
        "schema_name",
        "active_revision",
        "config_json",
        "token_version",
        "created_at",
        "updated_at",
    ]
    actions = ["regenerate_tokens"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).tenants()

    def has_delete_permission(self, request: HttpRequest, obj: App | None = None) -> bool:
        # Deleting drops a schema: the Studio's Apps page and the Admin API do it, with a warning.
        return False

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """Creating an app clones a schema and issues a token: through the service, which shows
        the token once instead of a change form."""
        form = AppAddForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                created = services.create_app(
                    name=form.cleaned_data["name"],
                    app_id=form.cleaned_data["id"] or None,
                    description=form.cleaned_data["description"],
                    issuer=_issuer(request),
                    source="studio",
                )
            except HectorError as error:
                form.add_error(None, error.message)
            else:
                self.log_addition(request, created.app, [{"added": {}}])
                title = f'App "{created.app.id}" created'
                return _tokens_page(request, self, [(created.app, created.access_token)], title)
        context = {
            **self.admin_site.each_context(request),
            "title": "Add app",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/tenancy/app/add.html", context)

    @admin.action(description="Issue a new token (older tokens stop working)")
    def regenerate_tokens(self, request: HttpRequest, queryset: QuerySet[App]) -> Any:
        tokens = []
        for app in queryset:
            try:
                token = services.regenerate_token(app_id=app.id, issuer=_issuer(request))
            except HectorError as error:
                self.message_user(request, f"{app.id}: {error.message}", messages.ERROR)
                return None
            tokens.append((app, token))
        return _tokens_page(request, self, tokens, "New app tokens")


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "tenant", "is_primary"]
    search_fields = ["domain"]


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ["kid", "algorithm", "is_active", "created_at"]
    readonly_fields = ["kid", "algorithm", "public_jwk", "is_active", "created_at"]
    exclude = ["private_key_encrypted"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
