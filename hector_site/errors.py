"""One error base with a stable code and HTTP status, rendered as `{"error": ...}` in one place."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response


class HectorError(Exception):
    """An error a client can act on. `message` is shown verbatim; `details` lists field errors."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(HectorError):
    status, code = 400, "bad_request"


class Unauthorized(HectorError):
    status, code = 401, "unauthorized"


class Forbidden(HectorError):
    status, code = 403, "forbidden"


class NotFound(HectorError):
    status, code = 404, "not_found"


class Conflict(HectorError):
    status, code = 409, "conflict"


def json_error(status: int, message: str, **extra: Any) -> JsonResponse:
    response = JsonResponse({"error": message, **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="hector"'
    return response


def error_response(error: HectorError) -> JsonResponse:
    response = JsonResponse(error.body(), status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="hector"'
    return response


_DRF_MESSAGES: dict[type[drf.APIException], tuple[int, str]] = {
    drf.ParseError: (400, "Invalid request body"),
    drf.UnsupportedMediaType: (400, "Invalid request body"),
    drf.NotAuthenticated: (401, "Unauthorized"),
    drf.AuthenticationFailed: (401, "Unauthorized"),
    drf.PermissionDenied: (403, "Forbidden"),
    drf.MethodNotAllowed: (405, "Method not allowed"),
    drf.NotFound: (404, "Not found"),
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF hook: every API error leaves as `{"error": ...}` with the right status."""
    if isinstance(exc, HectorError):
        response = Response(exc.body(), status=exc.status)
    elif isinstance(exc, drf.ValidationError):
        response = Response(_validation_body(exc.detail), status=400)
    elif isinstance(exc, drf.APIException):
        status, message = _DRF_MESSAGES.get(type(exc), (exc.status_code, str(exc.detail)))
        response = Response({"error": message}, status=status)
    else:
        return None
    if response.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="hector"'
    return response


def _validation_body(detail: Any) -> dict[str, Any]:
    """First error as the message, every error (with its field path) in `details`."""
    details: list[dict[str, Any]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for item in node:
                walk(item, path)
        else:
            details.append({"path": path or "body", "message": str(node)})

    walk(detail, "")
    if not details:
        return {"error": "Invalid request body"}
    first = details[0]
    return {"error": f"{first['path']}: {first['message']}", "details": details}


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error(404, "Not found")


def server_error_view(request: HttpRequest) -> JsonResponse:
    return json_error(500, "Internal server error")
