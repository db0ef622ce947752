"""Resources: LLM providers, tools (MCP servers included), guardrails and agents, edited by form.

Each save writes a new config revision through `apps.studio.services` (validated like any other
change); an invalid value comes back on the field it belongs to.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.studio import services
from apps.studio.decorators import studio_view
from apps.studio.forms import AgentForm, EntryForm, GuardrailForm, LLMForm, ToolForm
from hector_site.errors import HectorError

FORMS: dict[str, type[EntryForm]] = {
    "llms": LLMForm,
    "tools": ToolForm,
    "guardrails": GuardrailForm,
    "agents": AgentForm,
}
TITLES = {
    "llms": "LLM providers",
    "tools": "Tools and MCP servers",
    "guardrails": "Guardrails",
    "agents": "Agents",
}


def summary(section: str, entry: Any) -> str:
    """One line about an entry, for the overview."""
    entry = entry if isinstance(entry, dict) else {}
    if section == "llms":
        parts = [entry.get("provider") or "auto", entry.get("model") or "default model"]
        if entry.get("base_url"):
            parts.append(entry["base_url"])
        return " · ".join(str(p) for p in parts)
    if section == "tools":
        where = entry.get("url") or entry.get("command") or entry.get("handler") or ""
        return " · ".join(str(p) for p in (entry.get("type"), where) if p)
    if section == "guardrails":
        checks = [
            f"{scope}.{name}"
            for scope in ("input", "output", "tool")
            for name in (entry.get(scope) or {})
        ]
        if entry.get("moderation"):
            checks.append("moderation")
        return ", ".join(checks) or "no checks"
    kind = entry.get("type") or "llm"
    return " · ".join(str(p) for p in (kind, entry.get("llm"), entry.get("description")) if p)


@studio_view
@require_GET
def resources_view(request: HttpRequest) -> HttpResponse:
    lean = services.lean_config(request.tenant)  # type: ignore[attr-defined]
    sections = [
        {
            "key": section,
            "title": TITLES[section],
            "singular": services.SECTIONS[section],
            "entries": [
                (name, summary(section, entry)) for name, entry in (lean.get(section) or {}).items()
            ],
        }
        for section in FORMS
    ]
    return render(request, "studio/resources.html", {"sections": sections})


def _form_page(
    request: HttpRequest, form: EntryForm, section: str, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "section": section,
        "title": TITLES[section],
        "singular": services.SECTIONS[section],
        "name": form.entry_name,
        "entry_yaml": services.to_yaml({form.entry_name: form.entry}) if form.entry_name else "",
    }
    return render(request, "studio/resource_form.html", context, status=status)


@studio_view
@require_http_methods(["GET", "POST"])
def resource_view(request: HttpRequest, section: str, name: str | None = None) -> HttpResponse:
    if section not in FORMS:
        return render(request, "studio/not_found.html", {"message": "Unknown section"}, status=404)
    app = request.tenant  # type: ignore[attr-defined]
    lean = services.lean_config(app)
    entries = lean.get(section) or {}
    if name is not None and name not in entries:
        message = f'{services.SECTIONS[section].capitalize()} "{name}" not found'
        return render(request, "studio/not_found.html", {"message": message}, status=404)
    form = FORMS[section](
        request.POST or None,
        name=name,
        entry=entries.get(name) if name is not None else None,
        config=lean,
    )
    if request.method == "GET" or not form.is_valid():
        return _form_page(request, form, section, status=200 if request.method == "GET" else 400)
    entry_name = name or form.cleaned_data["name"]
    try:
        app = services.put_entry(
            app=app, section=section, name=entry_name, body=form.body(), is_new=name is None
        )
    except HectorError as error:
        form.add_config_errors(
            error.details or [{"path": "", "message": error.message}], entry_name
        )
        return _form_page(request, form, section, status=error.status)
    messages.success(
        request,
        f'Saved {services.SECTIONS[section]} "{entry_name}" as revision {app.active_revision}.',
    )
    return HttpResponseRedirect(f"/studio/resources/{section}/{entry_name}/")


@studio_view
@require_POST
def delete_resource_view(request: HttpRequest, section: str, name: str) -> HttpResponse:
    try:
        app = services.delete_entry(app=request.tenant, section=section, name=name)  # type: ignore[attr-defined]
    except HectorError as error:
        messages.error(request, f"Not deleted: {error.message}")
        return HttpResponseRedirect(f"/studio/resources/{section}/{name}/")
    messages.success(
        request, f'Deleted {services.SECTIONS[section]} "{name}" (revision {app.active_revision}).'
    )
    return HttpResponseRedirect("/studio/resources/")
