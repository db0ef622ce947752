"""webtool (SPEC 9.3, 9.4) against real local HTTP servers; refused targets are judged before
any connection, so nothing here sends a packet anywhere but to its own server on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.sessions import InMemorySessionService
from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response
from tools.base import ToolContext, ToolOutput
from tools.builtin import BuiltinEnvironment, BuiltinTool, build_builtin_tools
from tools.config import WebToolConfig

PAGE = b"""<!doctype html><html><head><title>The  Page</title>
<style>body { color: red }</style><script>alert("no")</script></head>
<body><h1>Heading</h1><p>First   paragraph with <a href="/x">a link</a>.</p>
<ul><li>one</li><li>two</li></ul><noscript>enable js</noscript>
<pre>keep
  lines</pre></body></html>"""


class ScriptedServer(FakeHTTPServer):
    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, Callable[[RecordedRequest], Response]] = {}

    def handle(self, request: RecordedRequest) -> Response:
        route = self.routes.get(request.path.split("?", 1)[0])
        return route(request) if route else Response(404, {"error": "no route"})


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as fake:
        yield fake  # type: ignore[misc]


def raw(body: bytes, content_type: str, status: int = 200) -> Callable[[RecordedRequest], Response]:
    return lambda _request: Response(status, stream=[body], content_type=content_type)


def redirect(location: str) -> Callable[[RecordedRequest], Response]:
    return lambda _request: Response(302, None, headers={"Location": location})


async def make_context() -> ToolContext:
    store = InMemorySessionService()
    session = await store.create(user_id="u1", agent="assistant")
    return ToolContext(
        agent="assistant", user_id="u1", session=session, invocation_id="inv", store=store
    )


def web_tools(
    tmp_path: Path, environ: dict[str, str] | None = None, search_url: str = "", **config: Any
) -> dict[str, BuiltinTool[Any]]:
    parsed = WebToolConfig.model_validate({"type": "webtool", **config})
    env = BuiltinEnvironment(
        app="default",
        workspace=tmp_path,
        environ=environ or {},
        **({"search_url": search_url} if search_url else {}),
    )
    return {tool.name: tool for tool in build_builtin_tools("web", parsed, env)}


async def call(tools: dict[str, BuiltinTool[Any]], name: str, **arguments: Any) -> ToolOutput:
    return await tools[name].call(arguments, await make_context())


LOCAL = {"allowed_hosts": ["127.0.0.1"]}


# --- web_fetch and web_request ----------------------------------------------------------------


async def test_web_fetch_returns_the_readable_text_of_a_page(
    tmp_path: Path, server: ScriptedServer
) -> None:
    server.routes["/page"] = raw(PAGE, "text/html; charset=utf-8")
    out = await call(web_tools(tmp_path, **LOCAL), "web_fetch", url=f"{server.url}/page")
    assert not out.is_error
    assert out.content["title"] == "The Page"
    assert out.content["content"] == (
        "Heading\n\nFirst paragraph with a link.\n\n- one\n\n- two\n\nkeep\nlines"
    )
    assert out.content["url"] == f"{server.url}/page"
    assert server.requests[0].headers["user-agent"].startswith("Hector")


async def test_web_fetch_returns_text_as_is_and_refuses_binary(
    tmp_path: Path, server: ScriptedServer
) -> None:
    server.routes["/data.json"] = raw(b'{"a": 1}', "application/json")
    server.routes["/img.png"] = raw(b"\x89PNG\r\n", "image/png")
    server.routes["/missing"] = raw(b"no such page", "text/plain", status=404)
    tools = web_tools(tmp_path, **LOCAL)
    text = await call(tools, "web_fetch", url=f"{server.url}/data.json")
    assert text.content["content"] == '{"a": 1}'
    binary = await call(tools, "web_fetch", url=f"{server.url}/img.png")
    assert binary.is_error
    assert "image/png" in binary.content
    missing = await call(tools, "web_fetch", url=f"{server.url}/missing")
    assert missing.is_error
    assert "HTTP 404" in missing.content
    assert "no such page" in missing.content


async def test_web_request_sends_method_headers_and_body(
    tmp_path: Path, server: ScriptedServer
) -> None:
    server.routes["/api"] = lambda request: Response(201, {"got": request.body})
    out = await call(
        web_tools(tmp_path, **LOCAL),
        "web_request",
        url=f"{server.url}/api",
        method="POST",
        headers={"X-Token": "abc", "Content-Type": "application/json"},
        body='{"name": "x"}',
    )
    assert not out.is_error
    assert out.content["status_code"] == 201
    assert out.content["content"] == '{"got": {"name": "x"}}'
    [request] = server.requests
    assert request.method == "POST"
    assert request.headers["x-token"] == "abc"


async def test_web_request_reports_error_statuses_without_failing(
    tmp_path: Path, server: ScriptedServer
) -> None:
    server.routes["/gone"] = lambda _request: Response(410, {"error": "gone"})
    out = await call(web_tools(tmp_path, **LOCAL), "web_request", url=f"{server.url}/gone")
    assert not out.is_error
    assert out.content["status_code"] == 410


async def test_allowed_redirects_are_followed(tmp_path: Path, server: ScriptedServer) -> None:
    server.routes["/old"] = redirect("/new")
    server.routes["/new"] = raw(b"moved here", "text/plain")
    out = await call(web_tools(tmp_path, **LOCAL), "web_fetch", url=f"{server.url}/old")
    assert out.content["content"] == "moved here"
    assert out.content["url"] == f"{server.url}/new"


async def test_responses_over_the_size_cap_are_refused(
    tmp_path: Path, server: ScriptedServer
) -> None:
    server.routes["/big"] = raw(b"x" * 5000, "text/plain")
    tools = web_tools(tmp_path, max_response_size=1000, **LOCAL)
    out = await call(tools, "web_fetch", url=f"{server.url}/big")
    assert out.is_error
    assert "response larger than 1000 bytes" in out.content


async def test_slow_responses_time_out(tmp_path: Path, server: ScriptedServer) -> None:
    def slow(_request: RecordedRequest) -> Response:
        time.sleep(1.0)
        return Response(200, {"late": True})

    server.routes["/slow"] = slow
    started = time.monotonic()
    out = await call(
        web_tools(tmp_path, timeout="200ms", **LOCAL), "web_fetch", url=f"{server.url}/slow"
    )
    assert out.is_error
    assert "timed out after 0.2s" in out.content
    assert time.monotonic() - started < 0.9


# --- the SSRF policy --------------------------------------------------------------------------

SSRF_TARGETS = [
    "http://127.0.0.1:{port}/",
    "http://127.0.0.1/admin",
    "http://[::1]:{port}/",
    "http://0.0.0.0:{port}/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://10.255.255.254:8080/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/router",
    "http://2130706433:{port}/",  # 127.0.0.1 as one decimal number
    "http://0x7f000001:{port}/",  # ... as hexadecimal
    "http://0x7f.0.0.1:{port}/",
    "http://017700000001:{port}/",  # ... as octal
    "http://127.1:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",  # IPv4-mapped IPv6
    "http://[::ffff:169.254.169.254]/",
    "http://localhost:{port}/admin/apps",
    "http://localhost.:{port}/",
    "http://[fd00::1]/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{port}/",
    "ftp://10.0.0.1/",
]


@pytest.mark.parametrize("tool", ["web_fetch", "web_request"])
@pytest.mark.parametrize("target", SSRF_TARGETS)
async def test_internal_targets_are_blocked_by_the_ssrf_policy(
    tmp_path: Path, server: ScriptedServer, tool: str, target: str
) -> None:
    server.routes["/"] = raw(b"internal", "text/plain")
    out = await call(web_tools(tmp_path), tool, url=target.format(port=server.port))
    assert out.is_error
    assert "blocked by SSRF policy" in out.content
    assert server.requests == []


@pytest.mark.parametrize(
    "target",
    [
        "http://localhost:{port}/secret",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/",
        "http://2130706433:{port}/",
        "http://10.0.0.1/",
    ],
)
async def test_a_redirect_from_an_allowed_server_to_a_blocked_one_is_refused(
    tmp_path: Path, server: ScriptedServer, target: str
) -> None:
    server.routes["/start"] = redirect(target.format(port=server.port))
    server.routes["/secret"] = raw(b"internal", "text/plain")
    out = await call(web_tools(tmp_path, **LOCAL), "web_fetch", url=f"{server.url}/start")
    assert out.is_error
    assert "blocked by SSRF policy" in out.content
    assert [r.path for r in server.requests] == ["/start"]


async def test_allowed_domains_restrict_and_exempt(tmp_path: Path, server: ScriptedServer) -> None:
    server.routes["/"] = raw(b"hello", "text/plain")
    tools = web_tools(tmp_path, allowed_domains=["localhost"])
    listed = await call(tools, "web_fetch", url=f"http://localhost:{server.port}/")
    assert listed.content["content"] == "hello"
    unlisted = await call(tools, "web_fetch", url=f"{server.url}/")
    assert unlisted.is_error
    assert "blocked by SSRF policy: domain 127.0.0.1 is not in allowed_domains" in unlisted.content
    public = await call(tools, "web_fetch", url="http://93.184.215.14/")
    assert "not in allowed_domains" in public.content
    assert len(server.requests) == 1


async def test_denied_domains_win_over_allowed_hosts(
    tmp_path: Path, server: ScriptedServer
) -> None:
    tools = web_tools(tmp_path, allowed_hosts=["localhost"], denied_domains=["localhost"])
    out = await call(tools, "web_fetch", url=f"http://localhost:{server.port}/")
    assert out.is_error
    assert "blocked by SSRF policy: domain localhost is denied" in out.content
    assert server.requests == []


# --- web_search -------------------------------------------------------------------------------


async def test_web_search_posts_to_tavily_and_maps_results(
    tmp_path: Path, server: ScriptedServer
) -> None:
    server.routes["/search"] = lambda _request: Response(
        200,
        {
            "answer": "Paris.",
            "results": [
                {
                    "title": "Paris",
                    "url": "https://e.x/p",
                    "content": "Capital",
                    "score": 0.9,
                    "raw_content": None,
                },
            ],
        },
    )
    tools = web_tools(
        tmp_path, environ={"TAVILY_API_KEY": "tvly-env"}, search_url=f"{server.url}/search"
    )
    out = await call(tools, "web_search", query="capital of France", topic="news")
    assert out.content == {
        "answer": "Paris.",
        "results": [{"title": "Paris", "url": "https://e.x/p", "content": "Capital", "score": 0.9}],
        "count": 1,
    }
    [request] = server.requests
    assert request.headers["authorization"] == "Bearer tvly-env"
    assert request.body["query"] == "capital of France"
    assert request.body["topic"] == "news"
    assert request.body["max_results"] == 5


async def test_web_search_prefers_the_configured_key_and_reports_api_errors(
    tmp_path: Path, server: ScriptedServer
) -> None:
    server.routes["/search"] = lambda _request: Response(401, {"detail": "bad key"})
    tools = web_tools(
        tmp_path,
        environ={"TAVILY_API_KEY": "tvly-env"},
        search_url=f"{server.url}/search",
        api_key="tvly-config",
    )
    out = await call(tools, "web_search", query="x")
    assert out.is_error
    assert "HTTP 401" in out.content
    assert server.requests[0].headers["authorization"] == "Bearer tvly-config"


async def test_web_search_without_a_key_says_how_to_set_one(tmp_path: Path) -> None:
    out = await call(web_tools(tmp_path, environ={}), "web_search", query="x")
    assert out.is_error
    assert "TAVILY_API_KEY" in out.content
    assert "api_key" in out.content
