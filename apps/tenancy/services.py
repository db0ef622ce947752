"""The only code that creates, changes or deletes apps."""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import string
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import schema_context

from apps.configs import services as config_services
from apps.tenancy import auth, schemas
from apps.tenancy.context import public_schema
from apps.tenancy.models import APP_ID_PATTERN, DEFAULT_APP_ID, App
from hector_site.errors import BadRequest, Conflict, Forbidden, NotFound

logger = logging.getLogger(__name__)

_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class CreatedApp:
    app: App
    access_token: str


def access_app(app_id: str) -> App:
    app = App.objects.tenants().filter(pk=app_id).first()
    if app is None:
        raise NotFound("App not found")
    return app


def list_apps(*, after: str | None = None, limit: int = 100) -> list[App]:
    """Apps in creation order; `after` is the id of the last app of the previous page."""
    queryset = App.objects.tenants().order_by("created_at", "id")
    if after:
        anchor = App.objects.filter(pk=after).values_list("created_at", flat=True).first()
        if anchor is None:
            raise BadRequest("Invalid page_token")
        queryset = queryset.filter(created_at__gte=anchor).exclude(created_at=anchor, id__lte=after)
    return list(queryset[:limit])


def _new_app_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def _check_id(app_id: str) -> None:
    if not re.fullmatch(APP_ID_PATTERN, app_id):
        raise BadRequest(
            f"Invalid app id {app_id!r}: use 1-63 lowercase letters, digits and '-', "
            "starting with a letter or digit"
        )


@public_schema
def create_app(
    *,
    name: str,
    issuer: str,
    app_id: str | None = None,
    description: str = "",
    config: dict[str, Any] | None = None,
    source: str = "api",
) -> CreatedApp:
    """Register the app, clone its schema from the template, store config revision 1, issue a token.

    All of it happens in one transaction: a failure leaves no row and no schema behind.
    """
    name = name.strip()
    if not name:
        raise BadRequest("Name is required")
    app_id = app_id or _new_app_id()
    _check_id(app_id)
    lean = config if config is not None else config_services.minimal_config()
    loaded = config_services.validate_config(lean)
    if App.objects.filter(pk=app_id).exists():
        raise Conflict(f'App "{app_id}" already exists')
    if App.objects.filter(name=name).exists():
        raise Conflict(f'An app named "{name}" already exists')
    try:
        with transaction.atomic():
            app = App(
                id=app_id,
                name=name,
                description=description,
                schema_name=schemas.schema_name_for(app_id),
                config_json=json.dumps(lean),
            )
            app.save()
            schemas.clone_template(app.schema_name)
            with schema_context(app.schema_name):
                revision = config_services.store_revision(loaded, source=source)
            app.active_revision = revision.number
            app.save(update_fields=["active_revision", "updated_at"])
    except IntegrityError as exc:
        raise Conflict(f'App "{app_id}" already exists') from exc
    token = auth.issue_app_token(app, issuer=issuer)
    logger.info("app created app=%s", app.id)
    return CreatedApp(app=app, access_token=token)


@public_schema
def update_app(
    *,
    app_id: str,
    name: str | None = None,
    description: str | None = None,
    config: dict[str, Any] | None = None,
    source: str = "api",
    comment: str = "",
) -> App:
    """Rename and/or store a new config revision (agents re-materialised atomically)."""
    loaded = config_services.validate_config(config) if config is not None else None
    with transaction.atomic():
        app = (
            App.objects.select_for_update().filter(pk=app_id).exclude(schema_name="public").first()
        )
        if app is None:
            raise NotFound("App not found")
        fields = ["updated_at"]
        if name is not None:
            name = name.strip()
            if not name:
                raise BadRequest("Name is required")
            if App.objects.filter(name=name).exclude(pk=app_id).exists():
                raise Conflict(f'An app named "{name}" already exists')
            app.name = name
            fields.append("name")
        if description is not None:
            app.description = description
            fields.append("description")
        if loaded is not None and config is not None:
            with schema_context(app.schema_name):
                revision = config_services.store_revision(loaded, source=source, comment=comment)
            app.config_json = json.dumps(config)
            app.active_revision = revision.number
            fields += ["config_json", "active_revision"]
        app.save(update_fields=fields)
    return app


@public_schema
def delete_app(*, app_id: str) -> None:
    """Drop the app's schema (every row it owned) and its registry row; its tokens stop working."""
    if app_id == DEFAULT_APP_ID:
        raise Forbidden("Cannot delete the default app")
    with transaction.atomic():
        app = (
            App.objects.select_for_update().filter(pk=app_id).exclude(schema_name="public").first()
        )
        if app is None:
            raise NotFound("App not found")
        schemas.drop_schema(app.schema_name)
        App.objects.filter(pk=app_id).delete()
    connection.set_schema_to_public()
    shutil.rmtree(settings.DATA_DIR / "apps" / app_id, ignore_errors=True)
    logger.info("app deleted app=%s", app_id)


@public_schema
def regenerate_token(
    *, app_id: str, issuer: str, ttl_s: int | None = None, revoke_previous: bool = True
) -> str:
    """A new token; by default every older token of the app is revoked at once (version bump)."""
    with transaction.atomic():
        app = (
            App.objects.select_for_update().filter(pk=app_id).exclude(schema_name="public").first()
        )
        if app is None:
            raise NotFound("App not found")
        if revoke_previous:
            app.token_version += 1
            app.save(update_fields=["token_version", "updated_at"])
    return auth.issue_app_token(app, issuer=issuer, ttl_s=ttl_s)


@public_schema
def ensure_default_app(*, config: dict[str, Any] | None, sync: bool = False) -> App:
    """The `default` app always exists. A config file seeds it when it has none (or on --sync)."""
    app = App.objects.filter(pk=DEFAULT_APP_ID).first()
    if app is None:
        with transaction.atomic():
            created = create_app(
                name="default",
                app_id=DEFAULT_APP_ID,
                issuer="",
                config=config,
                source="file",
                description="The default app, seeded from the config file.",
            )
        return created.app
    if sync and config is not None and json.loads(app.config_json) != config:
        return update_app(app_id=DEFAULT_APP_ID, config=config, source="file")
    return app
