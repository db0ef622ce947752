"""Process-level sections: ``databases``, ``storage``, ``rate_limiting``, ``observability``,
``logger`` and ``server`` (SPEC 2.5, 8, 13, 14).

``server`` is file-only: the Admin API and the Studio refuse to change it (403), and CLI flags
override it. Postgres is the only database (SPEC decision 1), so SQLite DSNs are refused here
with the same sentence ``--database`` prints.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from agents.config_base import NonEmptyStr, PositiveInt, StrictModel
from agents.durations import Duration

__all__ = [
    "AuthConfig",
    "CheckpointConfig",
    "CheckpointRecovery",
    "CorsConfig",
    "DatabaseConfig",
    "LoggerConfig",
    "MemoryStorage",
    "MetricsConfig",
    "ObservabilityConfig",
    "RateLimitConfig",
    "RateLimitRule",
    "ServerApprovalConfig",
    "ServerConfig",
    "SessionStorage",
    "StorageConfig",
    "TracingConfig",
]

SQLITE_REFUSED = "SQLite is not supported; omit --database to use the embedded Postgres"


class DatabaseConfig(StrictModel):
    """A Postgres connection: a ``dsn`` or its parts (``${VAR}`` placeholders for passwords)."""

    dsn: str | None = Field(
        default=None, description="postgres://user:pass@host:port/db?sslmode=..."
    )
    host: str | None = None
    port: int = Field(default=5432, ge=1, le=65535)
    database: str | None = None
    user: str | None = None
    password: str | None = None
    ssl_mode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = (
        "prefer"
    )
    max_conns: PositiveInt = 25
    max_idle: int = Field(default=5, ge=0)

    @field_validator("dsn")
    @classmethod
    def _postgres_only(cls, dsn: str | None) -> str | None:
        if dsn is None:
            return dsn
        if dsn.startswith(("sqlite:", "sqlite3:")):
            raise ValueError(SQLITE_REFUSED)
        if not dsn.startswith(("postgres://", "postgresql://")):
            raise ValueError("dsn must start with postgres:// or postgresql://")
        return dsn

    @model_validator(mode="after")
    def _dsn_or_parts(self) -> Self:
        if self.dsn is None and (not self.host or not self.database):
            raise ValueError("database requires dsn, or host and database")
        return self


class SessionStorage(StrictModel):
    backend: Literal["sql", "memory"] = Field(
        default="sql", description="sql = the app's Postgres schema; memory = dev only."
    )
    database: str | None = Field(default=None, description="Name under databases.")


class MemoryStorage(StrictModel):
    backend: Literal["keyword", "vector"] = "keyword"
    embedder: str | None = Field(default=None, description="Required for vector (or default).")


class CheckpointRecovery(StrictModel):
    auto_resume: bool = False
    auto_resume_hitl: bool = False
    timeout: Duration = Field(
        default=Duration.of("1h"), description="Older checkpoints fail as expired."
    )


class CheckpointConfig(StrictModel):
    enabled: bool = Field(default=True, description="On: Postgres is always present.")
    strategy: Literal["event", "interval", "hybrid"] = "event"
    interval: int = Field(default=0, ge=0, description="Every N iterations (interval/hybrid).")
    after_tools: bool = False
    before_llm: bool = False
    recovery: CheckpointRecovery = Field(default_factory=CheckpointRecovery)

    @model_validator(mode="after")
    def _interval_needed(self) -> Self:
        if self.strategy in ("interval", "hybrid") and self.interval < 1:
            raise ValueError(f"strategy {self.strategy} requires interval >= 1")
        return self


class StorageConfig(StrictModel):
    sessions: SessionStorage = Field(default_factory=SessionStorage)
    tasks: SessionStorage = Field(default_factory=SessionStorage)
    memory: MemoryStorage = Field(default_factory=MemoryStorage)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)


class RateLimitRule(StrictModel):
    type: Literal["count", "token"]
    window: Literal["minute", "hour", "day", "week", "month"]
    limit: PositiveInt


class RateLimitConfig(StrictModel):
    enabled: bool = False
    scope: Literal["session", "user"] = "session"
    backend: Literal["sql", "memory"] = Field(
        default="sql", description="sql = Postgres window buckets; memory = one process only."
    )
    limits: list[RateLimitRule] = Field(default_factory=list)
    ip_headers: list[NonEmptyStr] = Field(default_factory=lambda: ["X-Forwarded-For", "X-Real-IP"])

    @model_validator(mode="after")
    def _limits_when_enabled(self) -> Self:
        if self.enabled and not self.limits:
            raise ValueError("limits are required when rate limiting is enabled")
        return self


class MetricsConfig(StrictModel):
    enabled: bool = Field(default=False, description="Expose /metrics (also --metrics).")


class TracingConfig(StrictModel):
    enabled: bool = False
    endpoint: str | None = Field(default=None, description="OTLP gRPC host:port, or http(s) URL.")
    service_name: NonEmptyStr = "hector"
    sampling_rate: float = Field(default=1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _endpoint_when_enabled(self) -> Self:
        if self.enabled and not self.endpoint:
            raise ValueError("tracing requires endpoint when enabled")
        return self


class ObservabilityConfig(StrictModel):
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)


class LoggerConfig(StrictModel):
    level: Literal["debug", "info", "warn", "error"] = "info"
    format: Literal["text", "json"] = "text"
    file: str | None = Field(default=None, description="Default: stderr.")


class CorsConfig(StrictModel):
    allowed_origins: list[NonEmptyStr] = Field(default_factory=lambda: ["*"])
    allowed_methods: list[NonEmptyStr] = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
    )
    allowed_headers: list[NonEmptyStr] = Field(
        default_factory=lambda: ["Content-Type", "Authorization", "A2A-Version", "X-Session-ID"]
    )
    allow_credentials: bool = False


class AuthConfig(StrictModel):
    """External OIDC/JWKS. ``jwks_url``, ``issuer`` and ``audience``: all three or none."""

    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    client_id: str | None = Field(default=None, description="Echoed in /health.")
    refresh_interval: Duration = Duration.of("15m")
    require_auth: bool = True
    excluded_paths: list[NonEmptyStr] = Field(default_factory=list)
    metrics_auth: bool = Field(default=False, description="Require a token for /metrics.")
    studio_roles: list[NonEmptyStr] = Field(default_factory=lambda: ["operator", "admin"])

    @model_validator(mode="after")
    def _complete(self) -> Self:
        given = {"jwks_url": self.jwks_url, "issuer": self.issuer, "audience": self.audience}
        missing = [name for name, value in given.items() if not value]
        if 0 < len(missing) < 3:
            raise ValueError(f"incomplete auth configuration: missing [{' '.join(missing)}]")
        return self


class ServerApprovalConfig(StrictModel):
    timeout: Duration = Field(default=Duration.of("24h"), description="Then treated as deny.")
    webhook_url: str | None = None


class ServerConfig(StrictModel):
    host: NonEmptyStr = "0.0.0.0"  # all interfaces: SPEC 1.2 default
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str | None = Field(default=None, description="Issuer and card URL base.")
    transport: Literal["json-rpc"] = "json-rpc"
    cors: CorsConfig = Field(default_factory=CorsConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    rate_limiting: RateLimitConfig | None = Field(
        default=None, description="Same keys as the top-level rate_limiting."
    )
    trust_user_header: bool = Field(default=False, description="Honour X-User-ID without a JWT.")
    max_body_bytes: PositiveInt = 10 * 1024 * 1024
    approval: ServerApprovalConfig = Field(default_factory=ServerApprovalConfig)
    remote_allowed_hosts: list[NonEmptyStr] = Field(
        default_factory=list, description="Remote agents exempt from the SSRF policy."
    )

    @field_validator("transport", mode="before")
    @classmethod
    def _no_grpc(cls, transport: object) -> object:
        if isinstance(transport, str) and transport.lower() == "grpc":
            raise ValueError(
                "transport grpc is not supported; Hector serves A2A over JSON-RPC and SSE "
                "(remove transport or set json-rpc)"
            )
        return transport
