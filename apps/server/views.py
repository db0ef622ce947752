from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from agents.config_schema import config_json_schema


def config_schema(request: HttpRequest) -> JsonResponse:
    """The config JSON Schema, public: editors and CI validate against it."""
    return JsonResponse(config_json_schema())
