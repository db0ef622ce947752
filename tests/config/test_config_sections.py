"""Sections with their own packages: RAG, guardrails, and the process-level sections."""

from __future__ import annotations

import pytest

from rag.config import DirectorySource
from tests.config.helpers import LLM, issue_at, load, problems

# --- RAG --------------------------------------------------------------------------------------


def test_chromem_is_an_alias_of_pgvector() -> None:
    text = LLM + "vector_stores:\n  v: {type: chromem, persist_path: .hector/vectors}\n"
    loaded = load(text)
    assert loaded.config.vector_stores["v"].type == "pgvector"
    assert loaded.lean["vector_stores"]["v"]["type"] == "chromem"
    assert problems(LLM + "vector_stores:\n  v: {type: pgvector, compress: true}\n") == [
        "vector_stores.v: compress is only valid with type chromem"
    ]


def test_external_vector_stores_need_hosts_and_get_default_ports() -> None:
    assert problems(LLM + "vector_stores:\n  q: {type: qdrant}\n") == [
        "vector_stores.q: host is required for qdrant vector store"
    ]
    store = load(LLM + "vector_stores:\n  q: {type: qdrant, host: q.internal}\n").config
    assert store.vector_stores["q"].port == 6333


def test_document_store_defaults() -> None:
    text = LLM + (
        "embedders: {default: {provider: ollama}}\n"
        "vector_stores: {main: {}}\n"
        "document_stores:\n  kb: {source: {path: ./kb}}\n"
    )
    store = load(text).config.document_stores["kb"]
    assert store.source.type == "directory"
    assert isinstance(store.source, DirectorySource)
    assert store.source.exclude == [".git", "node_modules", "__pycache__"]
    assert (store.embedder, store.vector_store) == ("default", "main")
    assert (store.chunking.strategy, store.chunking.size, store.chunking.overlap) == (
        "simple",
        1000,
        0,
    )
    assert (store.search.top_k, store.search.threshold) == (10, 0.0)
    assert (store.indexing.max_concurrency, store.indexing.retry) == (4, 3)
    assert (store.max_context_chars, store.watch, store.watch_interval) == (8000, False, 300)


def test_overlapping_chunking_defaults_to_200_and_checks_sizes() -> None:
    text = LLM + "document_stores:\n  kb: {source: {}, chunking: {strategy: overlapping}}\n"
    assert load(text).config.document_stores["kb"].chunking.overlap == 200
    bad = text.replace("strategy: overlapping", "size: 100, overlap: 100")
    assert problems(bad) == [
        "document_stores.kb.chunking: overlap (100) must be less than size (100)"
    ]


@pytest.mark.parametrize(
    ("source", "path", "start"),
    [
        ("{type: sql}", "source", "sql source requires query or table"),
        ("{type: sql, table: t}", "source", "sql source with table requires content_columns"),
        ("{type: api}", "source.url", "field required"),
        ("{type: api, url: file:///etc}", "source.url", "url must start with http"),
        ("{type: blob, bucket: b}", "source.provider", "field required"),
        ("{type: collection}", "source.collection", "field required"),
        ("{type: git}", "source.type", 'unknown type "git"'),
        ("{path: ./x, recursive: true}", "source.recursive", "unknown field"),
    ],
)
def test_bad_sources(source: str, path: str, start: str) -> None:
    text = LLM + f"document_stores:\n  kb: {{source: {source}}}\n"
    assert issue_at(text, f"document_stores.kb.{path}").startswith(start)


def test_embedder_provider_default_follows_the_openai_key() -> None:
    text = "embedders: {e: {}}\n"
    assert load(text, {}).config.embedders["e"].provider == "ollama"
    openai = load(text, {"OPENAI_API_KEY": "k"}).config.embedders["e"]
    assert (openai.provider, openai.model, openai.api_key) == (
        "openai",
        "text-embedding-3-small",
        "k",
    )


def test_used_hosted_embedder_needs_a_key() -> None:
    text = "embedders: {e: {provider: openai}}\ndocument_stores: {kb: {source: {}}}\n"
    assert issue_at(text, "embedders.e.api_key").startswith(
        "environment variable OPENAI_API_KEY is not set"
    )


# --- guardrails ---------------------------------------------------------------------------------


def test_guardrail_defaults() -> None:
    text = (
        LLM
        + "guardrails:\n  g:\n    input: {length: {}, injection: {}, sanitizer: {}}\n"
        + "    output: {pii: {}, content: {}}\n"
        + "    tool: {authorization: {}}\n"
        + "    moderation: {}\n"
    )
    g = load(text).config.guardrails["g"]
    assert g.chain_mode == "fail_fast"
    assert g.enabled
    assert g.input is not None
    assert g.input.length is not None
    assert g.input.injection is not None
    assert (g.input.length.min_length, g.input.length.max_length) == (1, 100_000)
    assert (g.input.injection.action, g.input.injection.severity) == ("block", "high")
    assert g.output is not None
    assert g.output.pii is not None
    assert (g.output.pii.redact_mode, g.output.pii.action) == ("mask", "modify")
    assert g.moderation is not None
    assert (g.moderation.strategy, g.moderation.apply_to, g.moderation.fail_open) == (
        "openai",
        "input",
        False,
    )
    assert (g.moderation.openai.model, g.moderation.openai.threshold) == (
        "omni-moderation-latest",
        0.8,
    )
    assert g.moderation.lakera.threshold == 0.5


def test_guardrail_patterns_must_compile() -> None:
    text = LLM + "guardrails:\n  g:\n    output: {content: {blocked_patterns: ['(unclosed']}}\n"
    assert issue_at(text, "guardrails.g.output.content.blocked_patterns").startswith(
        "invalid regular expression '(unclosed'"
    )


def test_sanitizer_has_no_action() -> None:
    text = LLM + "guardrails:\n  g: {input: {sanitizer: {action: block}}}\n"
    assert problems(text) == ["guardrails.g.input.sanitizer.action: unknown field"]


def test_bad_chain_mode() -> None:
    assert issue_at(LLM + "guardrails: {g: {chain_mode: yolo}}\n", "guardrails.g.chain_mode")


# --- process sections -------------------------------------------------------------------------


def test_grpc_transport_is_rejected_clearly() -> None:
    assert problems("server: {transport: grpc}\n") == [
        "server.transport: transport grpc is not supported; Hector serves A2A over JSON-RPC and "
        "SSE (remove transport or set json-rpc)"
    ]


def test_server_defaults() -> None:
    server = load("").config.server
    assert (server.host, server.port, server.transport) == ("0.0.0.0", 8080, "json-rpc")
    assert server.cors.allowed_origins == ["*"]
    assert server.cors.allow_credentials is False
    assert (server.auth.refresh_interval, server.auth.require_auth) == (900, True)
    assert server.max_body_bytes == 10 * 1024 * 1024
    assert server.approval.timeout == 24 * 3600
    assert server.trust_user_header is False


def test_incomplete_auth_configuration() -> None:
    assert problems("server: {auth: {jwks_url: 'https://idp/jwks'}}\n") == [
        "server.auth: incomplete auth configuration: missing [issuer audience]"
    ]


def test_sqlite_databases_are_refused() -> None:
    assert problems("databases: {d: {dsn: 'sqlite:///hector.db'}}\n") == [
        "databases.d.dsn: SQLite is not supported; omit --database to use the embedded Postgres"
    ]
    assert problems("databases: {d: {host: h}}\n") == [
        "databases.d: database requires dsn, or host and database"
    ]


def test_rate_limiting_needs_limits_when_enabled() -> None:
    assert problems("rate_limiting: {enabled: true}\n") == [
        "rate_limiting: limits are required when rate limiting is enabled"
    ]
    limits = load(
        "rate_limiting: {enabled: true, limits: [{type: count, window: minute, limit: 2}]}\n"
    )
    rate = limits.config.rate_limiting
    assert (rate.scope, rate.backend, rate.ip_headers) == (
        "session",
        "sql",
        ["X-Forwarded-For", "X-Real-IP"],
    )


def test_checkpoint_defaults() -> None:
    checkpoint = load("").config.storage.checkpoint
    assert (checkpoint.enabled, checkpoint.strategy) == (True, "event")
    assert (checkpoint.recovery.auto_resume, checkpoint.recovery.timeout) == (False, 3600)
    assert problems("storage: {checkpoint: {strategy: interval}}\n") == [
        "storage.checkpoint: strategy interval requires interval >= 1"
    ]


def test_logger_and_observability_values() -> None:
    assert issue_at("logger: {level: verbose}\n", "logger.level").startswith("invalid value")
    assert problems("observability: {tracing: {enabled: true}}\n") == [
        "observability.tracing: tracing requires endpoint when enabled"
    ]
