"""The root config document (``HectorConfig``) and the ``agents`` / ``defaults`` sections.

Each domain package owns its section (``agents/llm/config.py``, ``tools/config.py``,
``rag/config.py``, ``guardrails/config.py``); this module composes them (SPEC 2.1).

Defaults are applied in two places, both after the user's values validated: a section fills
what depends only on itself (an LLM's model from its provider), and ``HectorConfig`` fills what
depends on other sections (an agent's LLM from ``defaults.llm``). Cross-references are not
checked here but in ``agents/config_refs.py``, which works on the plain document so that it can
report every broken reference at once, even when some section failed to validate.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from agents.config_base import NonEmptyStr, PositiveInt, StrictModel, UnitFloat, set_defaults
from agents.config_server import (
    DatabaseConfig,
    LoggerConfig,
    ObservabilityConfig,
    RateLimitConfig,
    ServerConfig,
    StorageConfig,
)
from agents.durations import Duration
from agents.llm.config import LLMConfig
from agents.triggers import NotificationConfig, Trigger, WebhookTrigger, default_webhook_path
from guardrails.config import GuardrailsConfig
from rag.config import DocumentStoreConfig, EmbedderConfig, VectorStoreConfig
from tools.config import ToolConfig

__all__ = [
    "AGENT_NAME_PATTERN",
    "AGENT_TYPES",
    "FILE_ONLY_KEYS",
    "WORKFLOW_TYPES",
    "AgentConfig",
    "AgentType",
    "ContextConfig",
    "DefaultsConfig",
    "HectorConfig",
    "ReasoningConfig",
    "RetryConfig",
    "RunnerStep",
    "SkillConfig",
    "Visibility",
]

AGENT_NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$"
#: Top-level keys only the config file may set; the Admin API and Studio refuse them (403).
FILE_ONLY_KEYS: tuple[str, ...] = ("server",)
AgentType = Literal["llm", "sequential", "parallel", "loop", "conditional", "remote", "runner"]
AGENT_TYPES: tuple[str, ...] = (
    "llm",
    "sequential",
    "parallel",
    "loop",
    "conditional",
    "remote",
    "runner",
)
WORKFLOW_TYPES: tuple[str, ...] = ("sequential", "parallel", "loop")
Visibility = Literal["public", "internal", "private"]


class SkillConfig(StrictModel):
    """A2A card skill; one is generated from the agent when none is given."""

    id: NonEmptyStr
    name: NonEmptyStr
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)


class ReasoningConfig(StrictModel):
    max_iterations: PositiveInt = Field(default=100, description="LLM<->tool rounds per turn.")


class RetryConfig(StrictModel):
    """Durable-queue retries of this agent's tasks (SPEC 8): delay(n) = min(initial_delay x
    backoff_factor^(n-1), max_delay), +/- jitter. Unset keys follow the server's --queue-* flags."""

    max_retries: int | None = Field(default=None, ge=0, description="--queue-max-retries")
    initial_delay: Duration | None = Field(default=None, description="--queue-initial-delay")
    max_delay: Duration | None = Field(default=None, description="--queue-max-delay")
    backoff_factor: float = Field(default=2.0, ge=1.0)
    jitter: UnitFloat = Field(default=0.2, description="Fraction of each delay, either way.")


#: Which context strategies use which keys; setting a key the strategy ignores is an error.
_CONTEXT_KEYS: dict[str, tuple[str, ...]] = {
    "window_size": ("buffer_window", "summary_buffer"),
    "budget": ("token_window", "summary_buffer"),
    "preserve_recent": ("token_window",),
    "threshold": ("summary_buffer",),
    "target": ("summary_buffer",),
    "summarizer_llm": ("summary_buffer",),
}


class ContextConfig(StrictModel):
    """History management. Keys only apply to the strategies that use them."""

    strategy: Literal["none", "buffer_window", "token_window", "summary_buffer"] = "none"
    window_size: PositiveInt = Field(default=20, description="buffer_window, summary_buffer")
    budget: PositiveInt = Field(default=8000, description="Tokens; token_window, summary_buffer.")
    preserve_recent: int = Field(default=5, ge=0, description="token_window")
    threshold: UnitFloat = Field(default=0.85, description="summary_buffer: summarise above.")
    target: UnitFloat = Field(default=0.7, description="summary_buffer: summarise down to.")
    summarizer_llm: str | None = Field(default=None, description="Default: the agent's LLM.")

    @model_validator(mode="after")
    def _keys_fit_strategy(self) -> Self:
        for key, strategies in _CONTEXT_KEYS.items():
            if key in self.model_fields_set and self.strategy not in strategies:
                raise ValueError(
                    f"{key} does not apply to strategy {self.strategy} "
                    f"(used by: {', '.join(strategies)})"
                )
        if self.target >= self.threshold:
            raise ValueError(f"target ({self.target}) must be below threshold ({self.threshold})")
        return self


class RunnerStep(StrictModel):
    tool: NonEmptyStr
    args: dict[str, Any] = Field(default_factory=dict)
    output_key: str | None = Field(default=None, description="Session state key for the result.")


class AgentConfig(StrictModel):
    type: AgentType = "llm"
    name: str | None = Field(default=None, description="Display name; the key is the id.")
    description: str | None = None
    llm: str | None = Field(default=None, description="Default: defaults.llm.")
    instruction: str | None = Field(default=None, description="Templated every turn (SPEC 4.4).")
    global_instruction: str | None = None
    instruction_file: str | None = Field(
        default=None, description="e.g. a SKILL.md, relative to the config file."
    )
    tools: list[NonEmptyStr] = Field(default_factory=list)
    sub_agents: list[NonEmptyStr] = Field(default_factory=list)
    agent_tools: list[NonEmptyStr] = Field(default_factory=list)
    document_stores: list[NonEmptyStr] | None = Field(
        default=None, description="Omitted: all stores; []: none."
    )
    include_context: bool = False
    guardrails: str | None = Field(default=None, description="Default: defaults.guardrails.")
    streaming: bool = True
    visibility: Visibility = "public"
    input_modes: list[NonEmptyStr] = Field(default_factory=lambda: ["text/plain"])
    output_modes: list[NonEmptyStr] = Field(default_factory=lambda: ["text/plain"])
    skills: list[SkillConfig] | None = Field(default=None, description="Generated when absent.")
    output_key: str | None = Field(default=None, description="Final text written to state.")
    output_schema: dict[str, Any] | None = Field(default=None, description="JSON Schema.")
    reasoning: ReasoningConfig = Field(default_factory=ReasoningConfig)
    context: ContextConfig = Field(default_factory=ContextConfig)
    retry: RetryConfig | None = Field(default=None, description="Durable-queue retries (SPEC 8).")
    timeout: Duration | None = Field(default=None, description="Deadline; remote: 30s.")
    trigger: Trigger | None = None
    notifications: list[NotificationConfig] = Field(default_factory=list)
    # loop / parallel
    max_iterations: PositiveInt | None = Field(default=None, description="loop: default 3.")
    continue_on_error: bool = Field(default=False, description="parallel only.")
    # remote
    url: str | None = None
    agent_card_url: str | None = Field(default=None, description="Default <url>/.well-known/...")
    agent_card_file: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    # conditional
    condition_agent: str | None = None
    condition_field: str | None = Field(default=None, description="Default: safe.")
    condition_value: str | int | float | bool | None = None
    on_true_agent: str | None = None
    on_false_agent: str | None = None
    on_true_response: str | None = None
    on_false_response: str | None = None
    # runner
    steps: list[RunnerStep] = Field(default_factory=list)

    @model_validator(mode="after")
    def _type_defaults(self) -> Self:
        if self.type == "loop" and self.max_iterations is None:
            set_defaults(self, max_iterations=3)
        if self.type == "remote" and self.timeout is None:
            set_defaults(self, timeout=Duration.of("30s"))
        if self.type == "conditional" and self.condition_field is None:
            set_defaults(self, condition_field="safe")
        return self


class DefaultsConfig(StrictModel):
    llm: str | None = Field(default=None, description="Else the llm named default, else the only.")
    embedder: str | None = None
    vector_store: str | None = None
    guardrails: str | None = None
    streaming: bool = True
    visibility: Visibility = "public"
    agent: str | None = Field(default=None, description="Served at /.well-known/agent-card.json.")


def _implicit(names: list[str], explicit: str | None) -> str | None:
    """``explicit``, else the entry named ``default``, else the only entry, else None."""
    if explicit:
        return explicit
    if "default" in names:
        return "default"
    return names[0] if len(names) == 1 else None


def _config_version(value: object) -> str:
    """``version: 2`` (a YAML number) means ``"2"``; only version 2 exists."""
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    if text != "2":
        raise ValueError(f'unsupported config version {value!r} (expected "2")')
    return text


ConfigVersion = Annotated[
    str, BeforeValidator(_config_version), WithJsonSchema({"enum": ["2", 2], "default": "2"})
]


class HectorConfig(StrictModel):
    version: ConfigVersion = "2"
    name: str | None = None
    description: str | None = None
    databases: dict[str, DatabaseConfig] = Field(default_factory=dict)
    llms: dict[str, LLMConfig] = Field(default_factory=dict)
    embedders: dict[str, EmbedderConfig] = Field(default_factory=dict)
    vector_stores: dict[str, VectorStoreConfig] = Field(default_factory=dict)
    document_stores: dict[str, DocumentStoreConfig] = Field(default_factory=dict)
    tools: dict[str, ToolConfig] = Field(default_factory=dict)
    guardrails: dict[str, GuardrailsConfig] = Field(default_factory=dict)
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    rate_limiting: RateLimitConfig = Field(default_factory=RateLimitConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    logger: LoggerConfig = Field(default_factory=LoggerConfig)
    server: ServerConfig = Field(default_factory=ServerConfig, description="File-only.")

    def default_llm_name(self) -> str | None:
        return _implicit(list(self.llms), self.defaults.llm)

    def default_embedder_name(self) -> str | None:
        return _implicit(list(self.embedders), self.defaults.embedder)

    def default_vector_store_name(self) -> str | None:
        return _implicit(list(self.vector_stores), self.defaults.vector_store)

    def default_agent_name(self) -> str | None:
        """SPEC 7.1: ``defaults.agent``, else the first agent in config order."""
        return self.defaults.agent or next(iter(self.agents), None)

    @model_validator(mode="after")
    def _cross_section_defaults(self) -> Self:
        set_defaults(
            self,
            agents={name: self._agent_defaults(name, a) for name, a in self.agents.items()},
            document_stores={
                name: self._store_defaults(store) for name, store in self.document_stores.items()
            },
        )
        memory = self.storage.memory
        if memory.backend == "vector" and memory.embedder is None:
            embedder = self.default_embedder_name()
            if embedder:
                storage = self.storage.model_copy(
                    update={"memory": memory.model_copy(update={"embedder": embedder})}
                )
                set_defaults(self, storage=storage)
        return self

    def _agent_defaults(self, name: str, agent: AgentConfig) -> AgentConfig:
        update: dict[str, Any] = {}
        if agent.llm is None and agent.type == "llm":
            update["llm"] = self.default_llm_name()
        if "streaming" not in agent.model_fields_set:
            update["streaming"] = self.defaults.streaming
        if "visibility" not in agent.model_fields_set:
            update["visibility"] = self.defaults.visibility
        if agent.guardrails is None and self.defaults.guardrails:
            update["guardrails"] = self.defaults.guardrails
        if agent.skills is None:
            display = agent.name or name
            update["skills"] = [
                SkillConfig(
                    id=name,
                    name=display,
                    description=agent.description or f"{display} ({agent.type} agent)",
                    tags=[agent.type],
                )
            ]
        trigger = agent.trigger
        if isinstance(trigger, WebhookTrigger) and trigger.path is None:
            update["trigger"] = trigger.model_copy(update={"path": default_webhook_path(name)})
        return agent.model_copy(update=update) if update else agent

    def _store_defaults(self, store: DocumentStoreConfig) -> DocumentStoreConfig:
        update: dict[str, Any] = {}
        if store.embedder is None:
            update["embedder"] = self.default_embedder_name()
        if store.vector_store is None:
            update["vector_store"] = self.default_vector_store_name()
        return store.model_copy(update=update)
