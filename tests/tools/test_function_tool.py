"""FunctionTool: JSON Schema from hints and docstrings, sync/async calls, errors as results."""

from __future__ import annotations

import asyncio
import threading
import time
from enum import StrEnum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from agents.sessions import InMemorySessionService
from tools import FunctionTool, Tool, tool
from tools.base import ToolContext, ToolOutput, parse_docstring, run_tool, timeout_of


async def make_context(**state: Any) -> ToolContext:
    store = InMemorySessionService()
    session = await store.create(user_id="u1", agent="assistant")
    return ToolContext(
        agent="assistant",
        user_id="u1",
        session=session,
        invocation_id="inv-1",
        store=store,
        call_id="call_1",
        state=state,
    )


def get_weather(city: str, days: int = 3, units: str | None = None) -> str:
    """Current weather and forecast for a city.

    Uses the public forecast service.

    Args:
        city: The city name,
            e.g. Paris.
        days: How many days of forecast.
        units: metric or imperial; the city's default when absent.

    Returns:
        A sentence about the weather.
    """
    return f"{city}: sunny for {days} days ({units or 'metric'})"


class Address(BaseModel):
    street: str
    city: str = Field(description="City name")


class Priority(StrEnum):
    LOW = "low"
    HIGH = "high"


class Node(BaseModel):
    value: int
    children: list[Node] = []


class Customer(BaseModel):
    name: str
    title: str | None = None  # a property called "title" must survive title stripping
    address: Address
    tags: list[str] = []


# --- schema ---------------------------------------------------------------------------------


def test_schema_comes_from_type_hints_and_docstring() -> None:
    weather = FunctionTool(get_weather)
    assert weather.name == "get_weather"
    assert weather.description == (
        "Current weather and forecast for a city.\n\nUses the public forecast service."
    )
    assert weather.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city name, e.g. Paris."},
            "days": {"type": "integer", "default": 3, "description": "How many days of forecast."},
            "units": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "default": None,
                "description": "metric or imperial; the city's default when absent.",
            },
        },
        "required": ["city"],
        "additionalProperties": False,
    }


def test_name_and_description_can_be_given() -> None:
    weather = FunctionTool(get_weather, name="weather", description="Weather now.")
    assert (weather.name, weather.description) == ("weather", "Weather now.")


def test_nested_models_are_inlined_without_refs_or_titles() -> None:
    def save_customer(customer: Customer, priority: Priority = Priority.LOW) -> str:
        """Store a customer."""
        return customer.address.city

    parameters = FunctionTool(save_customer).parameters
    assert "$defs" not in parameters
    assert "$ref" not in str(parameters)
    assert "'title': '" not in str(parameters)  # no title keywords left
    customer = parameters["properties"]["customer"]
    assert customer["type"] == "object"
    assert set(customer["properties"]) == {"name", "title", "address", "tags"}
    address = customer["properties"]["address"]
    assert address["properties"]["city"] == {"type": "string", "description": "City name"}
    assert address["required"] == ["street", "city"]
    assert parameters["properties"]["priority"] == {
        "type": "string",
        "enum": ["low", "high"],
        "default": "low",
    }


def test_recursive_models_keep_their_defs() -> None:
    def walk(tree: Node) -> int:
        """Sum a tree."""
        return tree.value

    parameters = FunctionTool(walk).parameters
    assert "Node" in parameters["$defs"]


def test_annotated_fields_and_literals() -> None:
    def search(
        query: Annotated[str, Field(min_length=1, description="What to look for")],
        mode: Literal["fast", "deep"] = "fast",
    ) -> list[str]:
        """Search."""
        return [query]

    properties = FunctionTool(search).parameters["properties"]
    assert properties["query"] == {
        "type": "string",
        "minLength": 1,
        "description": "What to look for",
    }
    assert properties["mode"] == {"type": "string", "enum": ["fast", "deep"], "default": "fast"}


def test_context_parameter_is_hidden_from_the_model() -> None:
    def remember(fact: str, context: ToolContext) -> str:
        """Remember a fact."""
        return fact

    assert list(FunctionTool(remember).parameters["properties"]) == ["fact"]


def test_unresolvable_annotations_accept_anything_and_keep_the_rest() -> None:
    class Local(BaseModel):
        x: int

    def use(item: Local, count: int) -> int:
        """Use a local class."""
        return count

    properties = FunctionTool(use).parameters["properties"]
    assert properties["item"] == {}
    assert properties["count"] == {"type": "integer"}


def test_untyped_parameters_accept_anything() -> None:
    def echo(value):  # type: ignore[no-untyped-def]
        """Echo."""
        return value

    assert FunctionTool(echo).parameters["required"] == ["value"]


@pytest.mark.parametrize(
    "doc",
    [
        "Do it.\n\nArgs:\n    a: The a.\n    b (int): The b\n        continued.\n",
        "Do it.\n\n:param a: The a.\n:param int b: The b\n    continued.\n:returns: x\n",
        "Do it.\n\nParameters\n----------\na : str\n    The a.\n"
        "b : int\n    The b\n    continued.\n",
    ],
    ids=["google", "sphinx", "numpy"],
)
def test_docstring_styles(doc: str) -> None:
    assert parse_docstring(doc) == ("Do it.", {"a": "The a.", "b": "The b continued."})


# --- calling --------------------------------------------------------------------------------


async def test_sync_function_runs_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def where(x: int) -> int:
        """Where am I."""
        seen.append(threading.get_ident())
        return x * 2

    output = await FunctionTool(where).call({"x": 21}, await make_context())
    assert output == ToolOutput(42)
    assert len(seen) == 1
    assert seen[0] != loop_thread


async def test_async_function_is_awaited() -> None:
    async def double(x: int) -> dict[str, int]:
        """Double it."""
        await asyncio.sleep(0)
        return {"result": x * 2}

    assert await FunctionTool(double).call({"x": 2}, await make_context()) == ToolOutput(
        {"result": 4}
    )


async def test_nested_arguments_are_validated_into_models() -> None:
    received: list[Customer] = []

    def save_customer(customer: Customer) -> Customer:
        """Store a customer."""
        received.append(customer)
        return customer

    arguments = {"customer": {"name": "Ada", "address": {"street": "1 Main", "city": "Paris"}}}
    output = await FunctionTool(save_customer).call(arguments, await make_context())
    assert isinstance(received[0], Customer)
    assert received[0].address.city == "Paris"
    # Model results come back as plain JSON, ready to be stored and replayed.
    assert output.content == {
        "name": "Ada",
        "title": None,
        "address": {"street": "1 Main", "city": "Paris"},
        "tags": [],
    }


async def test_invalid_arguments_become_an_error_result() -> None:
    output = await FunctionTool(get_weather).call({"days": "many"}, await make_context())
    assert output.is_error
    assert output.content.startswith('invalid arguments for tool "get_weather": ')
    assert "city: Field required" in output.content
    assert "days: Input should be a valid integer" in output.content


async def test_unexpected_arguments_are_refused() -> None:
    output = await FunctionTool(get_weather).call({"city": "Paris", "x": 1}, await make_context())
    assert output.is_error
    assert "x: Extra inputs are not permitted" in output.content


async def test_exceptions_become_an_error_result() -> None:
    def broken(x: int) -> int:
        """Fails."""
        raise ValueError("boom")

    output = await FunctionTool(broken).call({"x": 1}, await make_context())
    assert output == ToolOutput("ValueError: boom", is_error=True)


async def test_timeout_becomes_an_error_result() -> None:
    @tool(timeout_s=0.05)
    async def slow() -> str:
        """Slow."""
        await asyncio.sleep(5)
        return "late"

    started = time.perf_counter()
    output = await run_tool(slow, {}, await make_context(), timeout_s=timeout_of(slow))
    assert time.perf_counter() - started < 1
    assert output == ToolOutput('tool "slow" timed out after 0.05s', is_error=True)


async def test_run_tool_turns_any_tool_failure_into_a_result() -> None:
    class Exploding:
        name = "exploding"
        description = "Always fails."
        parameters: dict[str, Any] = {"type": "object", "properties": {}}

        async def call(self, arguments: Any, context: ToolContext) -> ToolOutput:
            raise TimeoutError("upstream timed out")

    output = await run_tool(Exploding(), {}, await make_context(), timeout_s=5)
    assert output == ToolOutput("TimeoutError: upstream timed out", is_error=True)


async def test_run_tool_wraps_plain_return_values() -> None:
    class Plain:
        name = "plain"
        description = "Returns a dict, not a ToolOutput."
        parameters: dict[str, Any] = {"type": "object", "properties": {}}

        async def call(self, arguments: Any, context: ToolContext) -> Any:
            return {"ok": True}

    assert await run_tool(Plain(), {}, await make_context(), timeout_s=None) == ToolOutput(
        {"ok": True}
    )


async def test_cancellation_is_not_swallowed() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        """Never ends."""
        started.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(run_tool(tool(forever), {}, await make_context(), timeout_s=None))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_context_carries_state_writes_and_artifacts() -> None:
    @tool
    async def set_language(lang: str, context: ToolContext) -> str:
        """Remember the user's language."""
        previous = context.get_state("user:lang", "none")
        context.state_delta["user:lang"] = lang
        version = await context.save_artifact("user:profile.txt", f"lang={lang}")
        loaded = await context.load_artifact("user:profile.txt")
        assert loaded is not None
        return f"{previous}->{context.get_state('user:lang')} v{version} {loaded.text()}"

    context = await make_context(**{"user:lang": "en"})
    output = await set_language.call({"lang": "fr"}, context)
    assert output.content == "en->fr v1 lang=fr"
    assert context.state_delta == {"user:lang": "fr"}
    assert context.artifact_delta == {"user:profile.txt": 1}
    with pytest.raises(TypeError):
        context.state["x"] = 1  # type: ignore[index]


# --- decorator ------------------------------------------------------------------------------


def test_tool_decorator_forms() -> None:
    @tool
    def plain(x: int) -> int:
        """Plain."""
        return x + 1

    @tool(name="renamed", description="Custom.")
    def configured(x: int) -> int:
        """Ignored docstring."""
        return x - 1

    assert isinstance(plain, FunctionTool)
    assert (plain.name, plain.description) == ("plain", "Plain.")
    assert (configured.name, configured.description) == ("renamed", "Custom.")
    assert plain(1) == 2  # still callable as the function it wraps
    assert configured(1) == 0
    assert plain.__doc__ == "Plain."


def test_function_tools_satisfy_the_tool_protocol() -> None:
    assert isinstance(FunctionTool(get_weather), Tool)
    assert timeout_of(FunctionTool(get_weather)) is None
    assert timeout_of(FunctionTool(get_weather, timeout_s=2)) == 2.0
