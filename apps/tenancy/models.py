"""Public-schema rows: the apps (tenants), their domains, the admin secret and the signing keys."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

APP_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
DEFAULT_APP_ID = "default"


class AppQuerySet(models.QuerySet):
    def tenants(self) -> AppQuerySet:
        """Real apps: never the public pseudo-tenant."""
        return self.exclude(schema_name="public")


class App(TenantMixin):
    """One tenant. Its rows live in schema `schema_name`; this row is its entry in the registry.

    `config_json` is the active (lean) config so listing apps needs no per-schema query; the
    immutable revision history lives in the app's own schema (`configs.ConfigRevision`).
    """

    id = models.CharField(
        primary_key=True, max_length=63, validators=[RegexValidator(APP_ID_PATTERN)]
    )
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    config_json = models.TextField(default="{}")
    active_revision = models.PositiveIntegerField(null=True, blank=True)
    token_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Schemas are cloned from the migrated template by services.create_app, never migrated per app.
    auto_create_schema = False
    auto_drop_schema = True

    objects = AppQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.id

    @property
    def is_default(self) -> bool:
        return self.id == DEFAULT_APP_ID


class Domain(DomainMixin):
    """Optional hostname routing (django-tenants); tokens and path prefixes come first."""


class AdminCredential(models.Model):
    """The auto-generated admin secret: a hash to compare with, an encrypted copy for `hector
    secret`.

    A secret given with --auth-secret is never stored.
    """

    secret_hash = models.CharField(max_length=64)
    secret_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"admin secret created {self.created_at:%Y-%m-%d}"


class SigningKey(models.Model):
    """A key that signs app tokens; the private half is encrypted with a SECRET_KEY-derived key."""

    class Algorithm(models.TextChoices):
        RS256 = "RS256"
        EDDSA = "EdDSA"

    kid = models.CharField(primary_key=True, max_length=64)
    algorithm = models.CharField(max_length=16, choices=Algorithm.choices)
    private_key_encrypted = models.TextField()
    public_jwk = models.JSONField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.algorithm} {self.kid}"
