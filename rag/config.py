"""``embedders``, ``vector_stores`` and ``document_stores`` (SPEC 10).

pgvector (chunks in the app's own schema) is the default vector store; ``type: chromem`` from
upstream configs is accepted and means pgvector (SPEC decision 2), so the validated config only
ever says ``pgvector``. Upstream's chromem persistence keys are accepted with it and ignored,
because there is no separate file to persist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator

from agents.config_base import (
    NonEmptyStr,
    PositiveInt,
    StrictModel,
    UnitFloat,
    context_env,
    set_defaults,
)
from agents.durations import Duration

__all__ = [
    "DEFAULT_EXCLUDES",
    "ApiSource",
    "BlobSource",
    "ChunkingConfig",
    "CollectionSource",
    "DirectorySource",
    "DocumentSearchConfig",
    "DocumentSource",
    "DocumentStoreConfig",
    "EmbedderConfig",
    "IndexingConfig",
    "MCPParserConfig",
    "SqlSource",
    "VectorStoreConfig",
]

MIB = 1024 * 1024
DEFAULT_EXCLUDES = (".git", "node_modules", "__pycache__")

_EMBEDDER_MODEL = {
    "openai": "text-embedding-3-small",
    "ollama": "nomic-embed-text",
    "cohere": "embed-english-v3.0",
}
_EMBEDDER_KEY_ENV = {"openai": "OPENAI_API_KEY", "cohere": "COHERE_API_KEY"}
_EMBEDDER_BASE_URL = {"ollama": "http://localhost:11434"}
_VECTOR_PORT = {"qdrant": 6333, "weaviate": 8080, "milvus": 19530, "chroma": 8000}
_NEEDS_HOST = ("qdrant", "weaviate", "milvus", "chroma")


class EmbedderConfig(StrictModel):
    provider: Literal["openai", "ollama", "cohere"] | None = Field(
        default=None, description="Default: openai when OPENAI_API_KEY is set, else ollama."
    )
    model: str | None = Field(default=None, description="Default per provider.")
    api_key: str | None = None
    base_url: str | None = None
    dimension: PositiveInt | None = Field(default=None, description="Auto-detected when unset.")
    batch_size: PositiveInt = 100
    timeout: Duration = Duration.of("30s")

    @model_validator(mode="after")
    def _provider_defaults(self, info: ValidationInfo) -> Self:
        env = context_env(info)
        provider = self.provider or ("openai" if env.get("OPENAI_API_KEY") else "ollama")
        key_env = _EMBEDDER_KEY_ENV.get(provider)
        set_defaults(
            self,
            provider=provider,
            model=self.model or _EMBEDDER_MODEL[provider],
            base_url=self.base_url or _EMBEDDER_BASE_URL.get(provider),
            api_key=self.api_key or (env.get(key_env) if key_env else None) or None,
        )
        return self


class VectorStoreConfig(StrictModel):
    type: Literal["pgvector", "chromem", "qdrant", "pinecone", "weaviate", "milvus", "chroma"] = (
        Field(default="pgvector", description="chromem is an alias of pgvector.")
    )
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    api_key: str | None = None
    enable_tls: bool = False
    collection: str | None = None
    index_name: str | None = Field(default=None, description="pinecone")
    environment: str | None = Field(default=None, description="pinecone")
    persist_path: str | None = Field(default=None, description="chromem only; ignored.")
    compress: bool | None = Field(default=None, description="chromem only; ignored.")
    enable_persistence: bool | None = Field(default=None, description="chromem only; ignored.")

    @model_validator(mode="after")
    def _per_type(self) -> Self:
        chromem_keys = {"persist_path", "compress", "enable_persistence"} & self.model_fields_set
        if chromem_keys and self.type != "chromem":
            raise ValueError(f"{sorted(chromem_keys)[0]} is only valid with type chromem")
        if self.type in _NEEDS_HOST and not self.host:
            raise ValueError(f"host is required for {self.type} vector store")
        if self.type == "pinecone" and not self.api_key:
            raise ValueError("api_key is required for pinecone vector store")
        set_defaults(
            self,
            type="pgvector" if self.type == "chromem" else self.type,
            port=self.port or _VECTOR_PORT.get(self.type),
        )
        return self


class DirectorySource(StrictModel):
    type: Literal["directory"] = "directory"
    path: NonEmptyStr = Field(default="./docs", description="Relative to the config file.")
    include: list[NonEmptyStr] = Field(default_factory=list, description="Globs; default all.")
    exclude: list[NonEmptyStr] = Field(default_factory=lambda: list(DEFAULT_EXCLUDES))
    max_file_size: PositiveInt = Field(default=10 * MIB, description="Bytes.")


class SqlSource(StrictModel):
    type: Literal["sql"]
    database: str | None = Field(
        default=None, description="Name under databases; default: the app's own database."
    )
    query: str | None = None
    table: str | None = None
    id_column: NonEmptyStr = "id"
    content_columns: list[NonEmptyStr] = Field(default_factory=list)
    metadata_columns: list[NonEmptyStr] = Field(default_factory=list)
    updated_at_column: str | None = Field(default=None, description="For incremental sync.")

    @model_validator(mode="after")
    def _query_or_table(self) -> Self:
        if not self.query and not self.table:
            raise ValueError("sql source requires query or table")
        if self.query and self.table:
            raise ValueError("sql source takes query or table, not both")
        if self.table and not self.content_columns:
            raise ValueError("sql source with table requires content_columns")
        return self


class ApiSource(StrictModel):
    type: Literal["api"]
    url: NonEmptyStr
    method: Literal["GET", "POST"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    items_path: str | None = Field(default=None, description="Dotted path to the item list.")
    id_field: NonEmptyStr = "id"
    content_field: NonEmptyStr = "content"
    next_path: str | None = Field(default=None, description="Dotted path to the next page URL.")

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return url


class BlobSource(StrictModel):
    type: Literal["blob"]
    provider: Literal["s3", "gcs", "azure"]
    bucket: NonEmptyStr
    prefix: str | None = None
    region: str | None = None
    endpoint: str | None = Field(default=None, description="S3-compatible endpoint URL.")
    include: list[NonEmptyStr] = Field(default_factory=list)
    exclude: list[NonEmptyStr] = Field(default_factory=list)
    max_file_size: PositiveInt = 10 * MIB


class CollectionSource(StrictModel):
    type: Literal["collection"]
    collection: NonEmptyStr = Field(description="Pre-populated collection; nothing is indexed.")


def _source_type(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("type", "directory")
        return kind if isinstance(kind, str) else None
    return getattr(value, "type", None)


DocumentSource = Annotated[
    Annotated[DirectorySource, Tag("directory")]
    | Annotated[SqlSource, Tag("sql")]
    | Annotated[ApiSource, Tag("api")]
    | Annotated[BlobSource, Tag("blob")]
    | Annotated[CollectionSource, Tag("collection")],
    Discriminator(_source_type),
]


class ChunkingConfig(StrictModel):
    strategy: Literal["simple", "overlapping", "semantic"] = "simple"
    size: PositiveInt = 1000
    overlap: int | None = Field(default=None, ge=0, description="Default 0; 200 when overlapping.")
    min_size: PositiveInt = 100
    max_size: PositiveInt = 2000
    preserve_words: bool = True

    @model_validator(mode="after")
    def _sizes(self) -> Self:
        overlap = self.overlap
        if overlap is None:
            overlap = min(200, self.size // 2) if self.strategy == "overlapping" else 0
        if overlap >= self.size:
            raise ValueError(f"overlap ({overlap}) must be less than size ({self.size})")
        if self.min_size > self.max_size:
            raise ValueError(f"min_size ({self.min_size}) exceeds max_size ({self.max_size})")
        set_defaults(self, overlap=overlap)
        return self


class DocumentSearchConfig(StrictModel):
    top_k: PositiveInt = 10
    threshold: UnitFloat = Field(default=0.0, description="Cosine similarity, 0-1.")
    enable_hyde: bool = False
    hyde_llm: str | None = Field(default=None, description="Default: the agent's LLM.")
    enable_rerank: bool = False
    rerank_llm: str | None = None
    rerank_max_results: PositiveInt = 20
    enable_multi_query: bool = False
    multi_query_llm: str | None = None
    multi_query_count: PositiveInt = 3


class IndexingConfig(StrictModel):
    max_concurrency: PositiveInt = 4
    retry: int = Field(default=3, ge=0, description="Attempts per document after the first.")


class MCPParserConfig(StrictModel):
    tool_names: list[NonEmptyStr] = Field(min_length=1, description="Tried in order.")
    extensions: list[NonEmptyStr] = Field(
        default_factory=lambda: [".pdf", ".docx", ".pptx", ".xlsx"]
    )
    toolset: str | None = Field(default=None, description="MCP tool (toolset) under tools.")
    prefer_native: bool = False
    path_prefix: str | None = Field(default=None, description="Path seen by a containerised MCP.")

    @field_validator("extensions")
    @classmethod
    def _dotted(cls, extensions: list[str]) -> list[str]:
        return [e if e.startswith(".") else f".{e}" for e in extensions]


class DocumentStoreConfig(StrictModel):
    source: DocumentSource
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    embedder: str | None = Field(default=None, description="Default: defaults.embedder.")
    vector_store: str | None = Field(default=None, description="Default: defaults.vector_store.")
    collection: str | None = Field(default=None, description="Default <app>_<store>.")
    search: DocumentSearchConfig = Field(default_factory=DocumentSearchConfig)
    watch: bool = False
    watch_interval: Duration = Field(
        default=Duration.of("5m"), description="Polling period of sql/api sources."
    )
    incremental_indexing: bool = False
    include_context: bool = False
    max_context_chars: PositiveInt = 8000
    indexing: IndexingConfig = Field(default_factory=IndexingConfig)
    mcp_parsers: MCPParserConfig | None = None
