"""Config editor: YAML validated on every save (errors at their line), revisions, diff, rollback.

A save is a new immutable revision that the runtime picks up on the next request (`services`).
Invalid YAML is shown back with its errors and never becomes a revision.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents.config_yaml import YamlSyntaxError, parse_yaml
from apps.configs.models import ConfigRevision
from apps.studio import services
from apps.studio.decorators import studio_view
from hector_site.errors import HectorError

MAX_CONFIG_CHARS = 1_000_000
REVISIONS_SHOWN = 100


def anchors(text: str) -> dict[str, int]:
    """Line of each `<section>.<name>` key: where a link like `#agents.triage` jumps to."""
    try:
        marks = parse_yaml(text).marks
    except YamlSyntaxError:
        return {}
    return {
        ".".join(str(p) for p in path): line
        for path, (line, _column) in marks.items()
        if 1 <= len(path) <= 2 and all(isinstance(p, str) for p in path)
    }


def _issues(error: HectorError) -> list[dict[str, Any]]:
    return error.details or [{"path": "", "message": error.message, "line": None, "column": None}]


def _editor(
    request: HttpRequest,
    text: str,
    *,
    issues: list[dict[str, Any]] | None = None,
    error: str | None = None,
    comment: str = "",
    status: int = 200,
) -> HttpResponse:
    app = request.tenant  # type: ignore[attr-defined]
    context = {
        "text": text,
        "issues": issues or [],
        "error": error,
        "comment": comment,
        "revisions": ConfigRevision.objects.all()[:REVISIONS_SHOWN],
        "active": app.active_revision,
        "file": services.config_file(app),
        "editor": {"anchors": anchors(text), "issues": issues or [], "validate": True},
    }
    return render(request, "studio/config.html", context, status=status)


@studio_view
@require_http_methods(["GET", "POST"])
def config_view(request: HttpRequest) -> HttpResponse:
    app = request.tenant  # type: ignore[attr-defined]
    if request.method == "GET":
        return _editor(request, services.editor_text(app))
    text = request.POST.get("config", "")
    comment = request.POST.get("comment", "")
    if len(text) > MAX_CONFIG_CHARS:
        return _editor(request, "", error="The config is too large.", status=400)
    try:
        app = services.save_config_text(app=app, text=text, comment=comment)
    except HectorError as error:
        return _editor(
            request,
            text,
            issues=_issues(error),
            error=error.message,
            comment=comment,
            status=error.status,
        )
    messages.success(request, f"Saved revision {app.active_revision}; the agents use it now.")
    return HttpResponseRedirect("/studio/config/")


@studio_view
@require_POST
def validate_view(request: HttpRequest) -> JsonResponse:
    """Validate without saving (the editor calls this as you type)."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "Invalid request body"}, status=400)
    text = body.get("config") if isinstance(body, dict) else None
    if not isinstance(text, str) or len(text) > MAX_CONFIG_CHARS:
        return JsonResponse({"error": "config: a YAML string is required"}, status=400)
    try:
        services.validate_text(request.tenant, text)  # type: ignore[attr-defined]
    except HectorError as error:
        return JsonResponse({"valid": False, "errors": _issues(error), "error": error.message})
    return JsonResponse({"valid": True, "errors": [], "anchors": anchors(text)})


def _revision(number: int) -> ConfigRevision | None:
    return ConfigRevision.objects.filter(number=number).first()


@studio_view
@require_GET
def revision_view(request: HttpRequest, number: int) -> HttpResponse:
    revision = _revision(number)
    if revision is None:
        return render(
            request, "studio/not_found.html", {"message": "Revision not found"}, status=404
        )
    context = {
        "revision": revision,
        "text": services.to_yaml(revision.config),
        "active": request.tenant.active_revision,  # type: ignore[attr-defined]
    }
    return render(request, "studio/revision.html", context)


def _number(value: str | None, default: int | None) -> int | None:
    try:
        return int(value) if value else default
    except ValueError:
        return default


@studio_view
@require_GET
def diff_view(request: HttpRequest) -> HttpResponse:
    """Unified diff between two revisions (default: the given one against the active one)."""
    active = request.tenant.active_revision  # type: ignore[attr-defined]
    older_number = _number(request.GET.get("from"), None)
    newer_number = _number(request.GET.get("to"), active)
    older = _revision(older_number) if older_number else None
    newer = _revision(newer_number) if newer_number else None
    if older is None or newer is None:
        return render(
            request, "studio/not_found.html", {"message": "Revision not found"}, status=404
        )
    lines = difflib.unified_diff(
        services.to_yaml(older.config).splitlines(),
        services.to_yaml(newer.config).splitlines(),
        fromfile=f"revision {older.number}",
        tofile=f"revision {newer.number}",
        lineterm="",
        n=3,
    )
    rows = [(_line_kind(line), line) for line in lines]
    context = {
        "older": older,
        "newer": newer,
        "rows": rows,
        "active": active,
        "revisions": ConfigRevision.objects.values_list("number", flat=True)[:REVISIONS_SHOWN],
    }
    return render(request, "studio/diff.html", context)


def _line_kind(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "same")


@studio_view
@require_POST
def rollback_view(request: HttpRequest, number: int) -> HttpResponse:
    try:
        app = services.rollback_config(app=request.tenant, revision=number)  # type: ignore[attr-defined]
    except HectorError as error:
        messages.error(request, f"Rollback refused: {error.message}")
    else:
        messages.success(
            request,
            f"Rolled back to revision {number}: now active as revision {app.active_revision}.",
        )
    return HttpResponseRedirect("/studio/config/")
