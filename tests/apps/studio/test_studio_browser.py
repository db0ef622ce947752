"""The Studio in a real browser (headless Debian Chromium driven by Playwright), against a real
`hector serve` and a fake OpenAI server speaking the Responses wire protocol.

One operator's session, in order: unlock, create an app, add an LLM provider (a bad value first),
add a shell tool (asks for approval) and a todo list, add an agent using them, chat (a todo list
in the side panel, a shell call waiting for approval, Approve, the result and the streamed answer),
break the config and fix it, roll back, look at the flow view, the sessions and the admin. Each
page is saved as a screenshot under test-output/screenshots/ for a person to look at.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import Fake
from tests.fakes.script import Reply, Script, ScriptedToolCall
from tests.live_server import LiveServer, start_live_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-output" / "screenshots"
APP_ID = "browser-demo"
ANSWER = "It is sunny in Oslo today."
FORECAST = "echo sunny in Oslo"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


def plan(*statuses: str) -> dict[str, Any]:
    """A todo_write call's arguments: the two steps of the weather report, in these states."""
    steps = ["Ask the shell for the Oslo forecast", "Report the weather"]
    todos = [
        {"id": str(n), "content": step, "status": status}
        for n, (step, status) in enumerate(zip(steps, statuses, strict=True), start=1)
    ]
    return {"todos": todos, "overwrite": True}


@pytest.fixture(scope="module")
def llm() -> Iterator[Fake]:
    script = Script.of(
        Reply(
            thinking="The user wants the weather; I will plan, then ask the shell.",
            tool_calls=[ScriptedToolCall("todo_write", plan("in_progress", "pending"), "plan")],
        ),
        Reply(tool_calls=[ScriptedToolCall("execute_command", {"command": FORECAST}, "shell")]),
        Reply(tool_calls=[ScriptedToolCall("todo_write", plan("completed", "completed"), "done")]),
        Reply(text=["It is ", "sunny ", "in Oslo ", "today."], chunk_delay_s=0.15),
    )
    server = Fake(script)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    # Not under pytest's basetemp: pytest keeps /tmp/pytest-of-<user> private (0700), and the
    # embedded Postgres runs as its own user when the tests run as root.
    data_dir = Path(tempfile.mkdtemp(prefix="hector-studio-browser-"))
    live = start_live_server(data_dir / "data")
    try:
        yield live
    finally:
        live.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def page(server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.set_default_timeout(15_000)
        tab = context.new_page()
        tab.on("dialog", lambda dialog: dialog.accept())  # the data-confirm prompts
        yield tab
        browser.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def test_unlock_refuses_a_wrong_secret_then_opens_the_chat(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/")
    assert page.url.endswith("/studio/login/")
    page.fill("#secret", "wrong-secret")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_have_text("That secret is not valid.")
    shot(page, "01-login")

    page.fill("#secret", server.admin_secret())
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/studio/(\?.*)?$"))
    expect(page.locator(".topbar .mainnav a.active")).to_have_text("Chat")
    expect(page.locator("#app-switcher")).to_have_value("default")


def test_create_an_app_and_see_its_token_once(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.click(".mainnav >> text=Apps")
    page.fill("#id_name", "Browser demo")
    page.fill("#id_id", APP_ID)
    page.click("text=Create app")
    expect(page.locator("h1")).to_contain_text(f"App “{APP_ID}” created")
    assert page.locator("#app-token").input_value().count(".") == 2
    shot(page, "02-app-token")
    expect(page.locator("#app-switcher")).to_have_value(APP_ID)


def test_add_a_provider_a_bad_value_names_its_field(
    page: Any, server: LiveServer, llm: Fake
) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/studio/resources/llms/new/")
    page.fill("#id_name", "fake")
    page.select_option("#id_provider", "openai")
    page.fill("#id_model", "gpt-4o-mini")
    page.fill("#id_api_key", "${OPENAI_API_KEY:sk-test}")
    page.fill("#id_base_url", llm.url + "/v1")
    page.fill("#id_temperature", "5")
    page.click(".entry-form button[type=submit]")
    error = page.locator("[data-field=temperature] .field-error")
    expect(error).to_contain_text("Temperature: ")
    expect(error).to_contain_text("less than or equal to 2")
    shot(page, "03-provider-form-error")

    page.fill("#id_temperature", "0.3")
    page.click(".entry-form button[type=submit]")
    expect(page.locator(".message.success")).to_contain_text('Saved LLM provider "fake"')


def test_add_a_gated_shell_and_a_todo_list(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/studio/resources/tools/new/")
    page.fill("#id_name", "shell")
    page.select_option("#id_type", "command")
    page.fill("#id_allowed_commands", "echo")
    page.click(".entry-form button[type=submit]")
    expect(page.locator(".message.success")).to_contain_text('Saved tool "shell"')

    page.goto(server.url + "/studio/resources/tools/new/")
    page.fill("#id_name", "todos")
    page.select_option("#id_type", "todotool")
    page.click(".entry-form button[type=submit]")
    expect(page.locator(".message.success")).to_contain_text('Saved tool "todos"')


def test_add_an_agent(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/studio/resources/agents/new/")
    page.fill("#id_name", "weather")
    page.select_option("#id_llm", "fake")
    page.fill("#id_description", "Reports the weather.")
    page.fill("#id_instruction", "You report the weather. Use tools when you need facts.")
    page.check("input[name=tools][value=shell]")
    page.check("input[name=tools][value=todos]")
    page.click(".entry-form button[type=submit]")
    expect(page.locator(".message.success")).to_contain_text('Saved agent "weather"')


def test_chat_plans_and_asks_for_approval_before_running_the_shell(
    page: Any, server: LiveServer
) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/studio/?agent=weather")
    expect(page.locator("#connection")).to_have_text("connected")
    page.fill("#prompt", "What is the weather in Oslo?")
    page.keyboard.press("Enter")

    widget = page.locator(".approval")
    expect(widget).to_have_count(1)
    expect(widget.locator(".tool-name")).to_have_text("execute_command")
    expect(widget.locator(".args")).to_contain_text(f'"command": "{FORECAST}"')
    expect(widget.locator(".approval-prompt")).not_to_be_empty()
    expect(page.locator(".bubble.streaming")).to_have_count(0)

    todos = page.locator("#todos .todo")
    expect(todos).to_have_count(2)
    expect(todos.first).to_have_class(re.compile(r"\bin_progress\b"))
    expect(page.locator("#todo-count")).to_have_text("0 of 2 done")

    tools = page.locator(".trace-item.tool")
    expect(tools.locator(".tool-name")).to_have_text(["todo_write", "execute_command"])
    expect(tools.first.locator(".author")).to_have_text("weather")  # from the stored trace
    expect(tools.last.locator(".state")).to_have_text("awaiting approval")
    expect(page.locator(".trace-item.thinking")).to_have_count(1)
    assert page.locator(".trace-item.thinking").get_attribute("open") is None  # collapsed
    assert "session=" in page.url
    shot(page, "04-chat-with-trace")


def test_approve_runs_the_shell_and_the_answer_streams_in(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.locator(".approval .approve").click()
    expect(page.locator(".approval .approval-outcome")).to_have_text("✓ Approved")
    expect(page.locator(".trace-item.resume")).to_have_text("↳Approved execute_command")

    answer = page.locator(".bubble.agent .bubble-body").last
    seen: set[str] = set()
    for _ in range(300):  # poll while it streams: the answer must appear in pieces
        text = answer.inner_text().strip()
        if text:
            seen.add(text)
        if text == ANSWER and not page.locator(".bubble.streaming").count():
            break
        page.wait_for_timeout(25)
    expect(answer).to_have_text(ANSWER)
    assert len(seen) > 1, f"the answer arrived in one piece: {seen}"

    shell = page.locator('.trace-item.tool[data-call-id="shell"]')
    expect(shell.locator(".state")).to_have_text("ok")
    expect(shell.locator(".result")).to_contain_text("sunny in Oslo")
    expect(page.locator(".trace-item.tool .tool-name")).to_have_text(
        ["todo_write", "execute_command", "todo_write"]
    )
    expect(page.locator(".trace-item.llm")).to_have_count(4)
    expect(page.locator("#todo-count")).to_have_text("2 of 2 done")
    expect(page.locator(".trace-turn")).to_have_count(1)  # one task, one trace group
    expect(page.locator("#prompt")).to_have_attribute("placeholder", re.compile("^Message"))
    shot(page, "12-approval")

    page.set_viewport_size({"width": 430, "height": 900})
    shot(page, "05-chat-narrow")
    page.set_viewport_size({"width": 1440, "height": 900})


def test_config_error_is_shown_at_its_line_then_fixed(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/studio/config/")
    expect(page.locator("#validity")).to_have_text("valid")
    original = page.evaluate("window.hectorEditor.getValue()")
    assert "weather:" in original
    broken = original.replace("llm: fake", "llm: fast")
    page.evaluate("text => window.hectorEditor.setValue(text)", broken)
    expect(page.locator("#validity")).to_have_text("1 problem")  # validated as you type
    page.click("#save-config")
    expect(page.locator("#config-errors")).to_contain_text('unknown llm "fast"')
    expect(page.locator(".cm-issue-note")).to_contain_text("agents.weather.llm")
    expect(page.locator(".CodeMirror .cm-issue-line")).to_have_count(1)
    shot(page, "06-config-editor-error")

    fixed = original.replace("Reports the weather.", "Reports the weather, briefly.")
    page.evaluate("text => window.hectorEditor.setValue(text)", fixed)
    page.fill("#comment", "shorter description")
    page.click("#save-config")
    expect(page.locator(".message.success")).to_contain_text("Saved revision 6")


def test_diff_and_roll_back(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/studio/config/diff/?from=5&to=6")
    expect(page.locator("pre.diff .add")).to_contain_text("briefly")
    shot(page, "07-config-diff")
    page.click("text=Roll back to revision 5")
    expect(page.locator(".message.success")).to_contain_text("Rolled back to revision 5")
    assert "briefly" not in page.evaluate("window.hectorEditor.getValue()")


def test_flow_view_draws_the_agents(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/studio/flow/")
    node = page.locator('.node[data-id="agent:weather"]')
    expect(node).to_be_visible()
    node.click()
    expect(page.locator("#flow-panel h2")).to_have_text("weather")
    expect(page.locator("#flow-panel a", has_text="Edit YAML")).to_have_attribute(
        "href", "/studio/config/#agents.weather"
    )

    # Draw an edge: weather gets assistant as an agent tool, saved as a new revision.
    page.click("#flow-connect")
    node.click()
    page.locator('.node[data-id="agent:assistant"]').click()
    page.select_option("#edge-key", "agent_tools")
    page.click("#edge-save")
    expect(page.locator(".message.success")).to_contain_text(
        "Added assistant in agents.weather.agent_tools"
    )
    expect(page.locator(".edge.agent_tool")).to_have_count(1)
    shot(page, "08-flow")


def test_sessions_and_admin(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + "/studio/sessions/")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.click("tbody tr a >> nth=0")
    expect(page.locator(".trace-item.tool .tool-name")).to_have_text(
        ["todo_write", "execute_command", "todo_write"]
    )
    shot(page, "09-session-timeline")

    page.click(".mainnav >> text=Admin")
    page.wait_for_url("**/studio/admin/")
    expect(page.locator(".admin-app-note")).to_contain_text(APP_ID)
    shot(page, "10-admin")
    page.goto(server.url + "/studio/admin/tasks/task/")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("Completed")
    shot(page, "11-admin-tasks")

    page.click(".topbar >> text=Log out")
    page.wait_for_url("**/studio/login/")
