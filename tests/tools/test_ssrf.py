"""The SSRF policy (SPEC 9.4). Refused destinations are judged before any connection, so no test
here sends a packet anywhere but to its own server on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response
from tools.ssrf import ResponseTooLarge, SSRFBlocked, SSRFPolicy, fetch


class ScriptedServer(FakeHTTPServer):
    """Answers each path with the response the test put in `routes`."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, Callable[[RecordedRequest], Response]] = {}

    def handle(self, request: RecordedRequest) -> Response:
        route = self.routes.get(request.path.split("?", 1)[0])
        return route(request) if route else Response(404, {"error": "no route"})


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as fake:
        yield fake


def redirect(location: str, status: int = 302) -> Callable[[RecordedRequest], Response]:
    return lambda _request: Response(status, None, headers={"Location": location})


def ok(body: object = None) -> Callable[[RecordedRequest], Response]:
    return lambda _request: Response(200, body if body is not None else {"ok": True})


LOCAL = SSRFPolicy(allowed_hosts=["127.0.0.1"])


# --- address ranges -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.255.255.254:8080/admin", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://172.31.255.255/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fc00::1]/", "unique-local"),
        ("http://[fd12:3456:789a::1]/", "unique-local"),
        ("http://[fec0::1]/", "site-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://239.255.255.250/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://240.0.0.1/", "reserved"),
        ("http://255.255.255.255/", "reserved"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://100.127.255.254/", "carrier-grade NAT"),
        ("http://192.0.2.10/", "private"),  # documentation range: not routable either
        # IPv6 spellings of IPv4 addresses are judged by the IPv4 address
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:7f00:1]/", "loopback"),
        ("http://[::ffff:10.1.2.3]/", "private"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://[64:ff9b::7f00:1]/", "loopback"),
        ("http://[2002:7f00:1::]/", "loopback"),
        ("http://[::127.0.0.1]/", "loopback"),
    ],
)
async def test_check_url_refuses_non_public_addresses(url: str, reason: str) -> None:
    with pytest.raises(SSRFBlocked, match=f"^blocked by SSRF policy: .*{reason}") as caught:
        await SSRFPolicy().check_url(url)
    assert caught.value.code == "ssrf_blocked"


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # decimal
        "http://0x7f.0.0.1/",  # hexadecimal
        "http://0x7f000001/",
        "http://127.1/",  # short form
        "http://017700000001/",  # octal, one number
    ],
)
async def test_check_url_refuses_other_spellings_of_loopback(url: str) -> None:
    with pytest.raises(SSRFBlocked, match="loopback"):
        await SSRFPolicy().check_url(url)


async def test_dotted_octal_spelling_is_refused_as_invalid_url() -> None:
    with pytest.raises(SSRFBlocked, match="invalid URL"):
        await SSRFPolicy().check_url("http://0177.0.0.1/")


async def test_hostname_resolving_to_loopback_is_refused_naming_the_address() -> None:
    with pytest.raises(SSRFBlocked) as caught:
        await SSRFPolicy().check_url("http://localhost:8080/admin/apps")
    assert str(caught.value) == (
        "blocked by SSRF policy: localhost resolves to 127.0.0.1 (loopback)"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://8.8.8.8/",
        "https://1.1.1.1:8443/x",
        "http://[2606:4700:4700::1111]/",
        "http://[::ffff:8.8.8.8]/",
    ],
)
async def test_check_url_accepts_public_addresses(url: str) -> None:
    await SSRFPolicy().check_url(url)


@pytest.mark.parametrize(
    "url", ["ftp://8.8.8.8/", "file:///etc/passwd", "gopher://8.8.8.8/", "javascript:alert(1)"]
)
async def test_only_http_and_https_are_allowed(url: str) -> None:
    with pytest.raises(SSRFBlocked, match="scheme"):
        await SSRFPolicy(allow_private=True).check_url(url)


async def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(SSRFBlocked, match=r"cannot resolve host nowhere\.invalid"):
        await SSRFPolicy().check_url("http://nowhere.invalid/")


# --- allow and deny lists -------------------------------------------------------------------------


async def test_allowed_host_skips_the_address_check() -> None:
    policy = SSRFPolicy(allowed_hosts=["localhost", "127.0.0.1"])
    await policy.check_url("http://localhost:8080/")
    await policy.check_url("http://LOCALHOST./")
    await policy.check_url("http://127.0.0.1:9/")
    # the list names hosts, not addresses: another spelling of 127.0.0.1 is still judged
    with pytest.raises(SSRFBlocked, match="loopback"):
        await policy.check_url("http://2130706433/")
    with pytest.raises(SSRFBlocked, match="private"):
        await policy.check_url("http://10.0.0.1/")


async def test_allowed_domain_covers_subdomains_at_label_boundaries_only() -> None:
    policy = SSRFPolicy(allowed_hosts=["corp.test"])
    await policy.check_url("http://corp.test/")
    await policy.check_url("http://agents.eu.corp.test/")
    with pytest.raises(SSRFBlocked):
        await policy.check_url("http://evilcorp.test/")


async def test_allowed_ipv6_literal_matches_any_spelling_of_it() -> None:
    await SSRFPolicy(allowed_hosts=["::1"]).check_url("http://[0:0:0:0:0:0:0:1]:8000/")


async def test_denied_domain_is_refused_even_when_allowed() -> None:
    policy = SSRFPolicy(
        allowed_hosts=["example.com"], denied_domains=["bad.example.com"], allow_private=True
    )
    await policy.check_url("http://example.com/")
    for url in ("http://bad.example.com/", "https://x.bad.example.com/"):
        with pytest.raises(SSRFBlocked, match=r"domain .*bad\.example\.com is denied"):
            await policy.check_url(url)


async def test_allow_private_turns_off_the_address_check_only() -> None:
    policy = SSRFPolicy(allow_private=True)
    await policy.check_url("http://localhost/")
    await policy.check_url("http://169.254.169.254/")
    with pytest.raises(SSRFBlocked, match="scheme"):
        await policy.check_url("file:///etc/passwd")


# --- the policy's own client ----------------------------------------------------------------------


async def test_policy_client_refuses_at_connect_time(server: ScriptedServer) -> None:
    server.routes["/"] = ok()
    async with SSRFPolicy().client() as client:
        with pytest.raises(SSRFBlocked, match="loopback"):
            await client.get(f"http://localhost:{server.port}/")
    assert server.requests == []


async def test_policy_client_connects_to_allowed_hosts(server: ScriptedServer) -> None:
    server.routes["/"] = ok({"hello": "world"})
    async with LOCAL.client() as client:
        response = await client.get(f"{server.url}/")
    assert response.json() == {"hello": "world"}


# --- fetch: redirects, size cap, timeout ----------------------------------------------------------


async def test_fetch_follows_allowed_redirects(server: ScriptedServer) -> None:
    server.routes["/a"] = redirect("/b", 301)
    server.routes["/b"] = redirect(f"{server.url}/c", 307)
    server.routes["/c"] = ok({"done": True})
    async with LOCAL.client() as client:
        response = await fetch(client, "GET", f"{server.url}/a", policy=LOCAL)
    assert response.status_code == 200
    assert response.json() == {"done": True}
    assert [r.path for r in server.requests] == ["/a", "/b", "/c"]


@pytest.mark.parametrize(
    "target",
    [
        "http://localhost:{port}/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:10.0.0.1]/",
        "http://2130706433:{port}/",
    ],
)
async def test_fetch_refuses_a_redirect_hop_to_a_private_address(
    server: ScriptedServer, target: str
) -> None:
    server.routes["/start"] = redirect(target.format(port=server.port))
    async with httpx.AsyncClient() as client:  # a plain client: fetch itself checks each hop
        with pytest.raises(SSRFBlocked):
            await fetch(client, "GET", f"{server.url}/start", policy=LOCAL)
    assert [r.path for r in server.requests] == ["/start"]


async def test_fetch_refuses_the_first_url_before_connecting(server: ScriptedServer) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(SSRFBlocked):
            await fetch(client, "GET", f"{server.url}/", policy=SSRFPolicy())
    assert server.requests == []


async def test_fetch_stops_after_max_redirects(server: ScriptedServer) -> None:
    server.routes["/loop"] = redirect("/loop")
    async with LOCAL.client() as client:
        with pytest.raises(httpx.TooManyRedirects):
            await fetch(client, "GET", f"{server.url}/loop", policy=LOCAL, max_redirects=2)
    assert len(server.requests) == 3


async def test_fetch_turns_post_into_get_on_303_and_keeps_body_on_307(
    server: ScriptedServer,
) -> None:
    server.routes["/see-other"] = redirect("/landing", 303)
    server.routes["/temporary"] = redirect("/landing", 307)
    server.routes["/landing"] = ok()
    async with LOCAL.client() as client:
        await fetch(client, "POST", f"{server.url}/see-other", policy=LOCAL, json={"a": 1})
        await fetch(client, "POST", f"{server.url}/temporary", policy=LOCAL, json={"a": 1})
    landed = [r for r in server.requests if r.path == "/landing"]
    assert [(r.method, r.body) for r in landed] == [("GET", None), ("POST", {"a": 1})]


async def test_fetch_drops_authorization_when_leaving_the_origin(server: ScriptedServer) -> None:
    policy = SSRFPolicy(allowed_hosts=["127.0.0.1", "localhost"])
    server.routes["/here"] = redirect(f"http://localhost:{server.port}/there")
    server.routes["/there"] = ok()
    async with policy.client() as client:
        await fetch(
            client,
            "GET",
            f"{server.url}/here",
            policy=policy,
            headers={"Authorization": "Bearer secret"},
        )
    first, second = server.requests
    assert first.headers["authorization"] == "Bearer secret"
    assert "authorization" not in second.headers


async def test_fetch_caps_the_response_size(server: ScriptedServer) -> None:
    server.routes["/big"] = lambda _r: Response(200, "x" * 2000)
    server.routes["/streamed"] = lambda _r: Response(
        200, stream=[b"y" * 600, b"y" * 600], content_type="text/plain"
    )
    async with LOCAL.client() as client:
        with pytest.raises(ResponseTooLarge, match="larger than 1000 bytes"):
            await fetch(client, "GET", f"{server.url}/big", policy=LOCAL, max_bytes=1000)
        with pytest.raises(ResponseTooLarge):  # no Content-Length: counted while reading
            await fetch(client, "GET", f"{server.url}/streamed", policy=LOCAL, max_bytes=1000)
        response = await fetch(client, "GET", f"{server.url}/streamed", policy=LOCAL)
    assert response.text == "y" * 1200


async def test_fetch_gives_up_after_timeout(server: ScriptedServer) -> None:
    def slow(_request: RecordedRequest) -> Response:
        time.sleep(1.0)  # the server's own thread, not the test's event loop
        return Response(200, {})

    server.routes["/slow"] = slow
    async with LOCAL.client() as client:
        with pytest.raises(TimeoutError):
            await fetch(client, "GET", f"{server.url}/slow", policy=LOCAL, timeout_s=0.2)
