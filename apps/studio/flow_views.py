"""Flow view: the app's agents as a graph; drawing an edge saves it into the config."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from apps.studio import services
from apps.studio.decorators import studio_view
from apps.studio.flow import build_graph
from hector_site.errors import HectorError


@studio_view
@require_GET
def flow_view(request: HttpRequest) -> HttpResponse:
    lean = services.lean_config(request.tenant)  # type: ignore[attr-defined]
    context = {
        "graph": build_graph(lean),
        "reference_keys": services.REFERENCE_KEYS,
    }
    return render(request, "studio/flow.html", context)


@studio_view
@require_POST
def edge_view(request: HttpRequest) -> HttpResponse:
    """Add (or, with `remove`, delete) one reference: `agents.<agent>.<key>` gets `target`."""
    agent = request.POST.get("agent", "")
    key = request.POST.get("key", "")
    target = request.POST.get("target", "")
    present = request.POST.get("remove") is None
    try:
        app = services.set_reference(
            app=request.tenant,  # type: ignore[attr-defined]
            agent=agent,
            key=key,
            target=target,
            present=present,
        )
    except HectorError as error:
        messages.error(request, f"Not saved: {error.message}")
    else:
        verb = "Added" if present else "Removed"
        messages.success(
            request, f"{verb} {target} in agents.{agent}.{key} (revision {app.active_revision})."
        )
    return HttpResponseRedirect("/studio/flow/")
