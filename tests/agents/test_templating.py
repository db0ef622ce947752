"""Instruction templating, row by row of SPEC 4.4's table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from agents.sessions import Artifact
from agents.templating import TemplateError, placeholders, render_instruction

STATE: dict[str, Any] = {
    "topic": "cats",
    "app:project": "Hector",
    "user:name": "Ada",
    "temp:last_summary": "short",
    "count": 3,
    "prefs": {"units": "metric", "langs": ["fr", "en"]},
    "flag": True,
    "nothing": None,
}


def artifact(name: str, data: bytes, mime_type: str) -> Artifact:
    return Artifact(name, 2, mime_type, data, datetime.now(UTC))


ARTIFACTS = {
    "context.md": artifact("context.md", b"# Context\nAll about cats.", "text/markdown"),
    "notes": artifact("notes", b'{"a": 1}', "application/json"),
    "logo.png": artifact("logo.png", b"\x89PNG\r\n\x1a\n" + bytes(92), "image/png"),
}


async def render(template: str, state: dict[str, Any] | None = None) -> str:
    async def load(name: str) -> Artifact | None:
        return ARTIFACTS.get(name)

    return await render_instruction(
        template, state=STATE if state is None else state, load_artifact=load
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("About {topic}.", "About cats."),
        ("Project {app:project}.", "Project Hector."),
        ("Hello {user:name}!", "Hello Ada!"),
        ("Summary: {temp:last_summary}", "Summary: short"),
        ("Context: {artifact.context.md}", "Context: # Context\nAll about cats."),
        ("Notes: {artifact.notes}", 'Notes: {"a": 1}'),
    ],
)
async def test_each_placeholder_kind_resolves(template: str, expected: str) -> None:
    assert await render(template) == expected


async def test_seed_example_renders_whole() -> None:
    template = (
        "Hello {user:name}, you're working on {app:project}.\n\n"
        "Context: {artifact.context.md}\n\nPrevious summary: {temp:last_summary?}"
    )
    assert await render(template) == (
        "Hello Ada, you're working on Hector.\n\n"
        "Context: # Context\nAll about cats.\n\nPrevious summary: short"
    )


@pytest.mark.parametrize(
    "template",
    [
        "[{missing?}]",
        "[{user:missing?}]",
        "[{app:missing?}]",
        "[{temp:missing?}]",
        "[{artifact.none.md?}]",
    ],
)
async def test_optional_placeholders_render_empty_when_missing(template: str) -> None:
    assert await render(template) == "[]"


async def test_optional_placeholder_still_renders_a_present_value() -> None:
    assert await render("{user:name?} / {artifact.notes?}") == 'Ada / {"a": 1}'


@pytest.mark.parametrize(
    ("template", "key"),
    [
        ("Hi {user:name}!", "user:name"),
        ("{topic2}", "topic2"),
        ("{app:other}", "app:other"),
        ("{temp:x}", "temp:x"),
    ],
)
async def test_missing_state_key_names_the_key(template: str, key: str) -> None:
    with pytest.raises(TemplateError) as caught:
        await render(template, {})
    assert str(caught.value) == f'instruction references missing state key "{key}"'
    assert caught.value.key == key
    assert caught.value.code == "instruction_missing_value"


async def test_missing_artifact_names_the_artifact() -> None:
    with pytest.raises(TemplateError, match=r'^instruction references missing artifact "a.b.md"$'):
        await render("{artifact.a.b.md}")


async def test_ac_4b_optional_user_name() -> None:
    assert await render("Hi {user:name?}!", {}) == "Hi !"
    with pytest.raises(TemplateError, match='"user:name"'):
        await render("Hi {user:name}!", {})


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("count", "3"),
        ("prefs", '{"units":"metric","langs":["fr","en"]}'),
        ("flag", "true"),
        ("nothing", "null"),
    ],
)
async def test_non_string_values_render_as_compact_json(key: str, expected: str) -> None:
    assert await render("{" + key + "}") == expected


async def test_binary_artifact_renders_a_description() -> None:
    assert await render("{artifact.logo.png}") == "[binary artifact logo.png, image/png, 100 bytes]"


@pytest.mark.parametrize(
    "template",
    [
        '{"type": "object", "properties": {}}',
        'Return JSON like {"a": 1}.',
        "{{topic}}",
        "{{.Date}} and {{ .body.number }}",
        "{ topic }",
        "{topic }",
        "{user: name}",
        "{unknown:topic}",
        "{artifact.}",
        "{artifact.a..b}",
        "{}",
        "{topic??}",
        "{top-ic}",
    ],
)
async def test_anything_else_is_left_verbatim(template: str) -> None:
    assert await render(template, {}) == template


async def test_placeholders_inside_json_still_resolve() -> None:
    assert await render('{"subject": "{topic}"}') == '{"subject": "cats"}'
    assert await render('{"n": {count}}') == '{"n": 3}'


async def test_each_artifact_is_loaded_once() -> None:
    loads: list[str] = []

    async def load(name: str) -> Artifact | None:
        loads.append(name)
        return ARTIFACTS.get(name)

    text = "{artifact.notes} {artifact.notes?} {artifact.context.md}"
    await render_instruction(text, state={}, load_artifact=load)
    assert sorted(loads) == ["context.md", "notes"]


async def test_no_placeholder_loads_nothing() -> None:
    async def load(name: str) -> Artifact | None:
        raise AssertionError("should not load")

    assert await render_instruction("plain {{x}}", state={}, load_artifact=load) == "plain {{x}}"


def test_placeholders_lists_what_a_template_uses() -> None:
    assert placeholders("{a} {user:b?} {artifact.c.md} {{d}} {e f}") == [
        "a",
        "user:b",
        "artifact.c.md",
    ]
