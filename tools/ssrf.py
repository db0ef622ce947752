"""The SSRF policy (SPEC 9.4): outbound HTTP from the server never reaches internal addresses.

Every outbound request a user or a config can aim (the web tool, notifications, A2A push
delivery, remote agents, API sources) goes through one `SSRFPolicy`. Hostnames are judged by
what they resolve to, not by how they are spelled, so `localhost`, `2130706433`, `0x7f.1` and
`[::ffff:127.0.0.1]` are all the loopback address they are. Two layers use it:

- `SSRFPolicy.check_url` resolves and checks a URL; `fetch` calls it on every redirect hop.
- `SSRFPolicy.client()` builds an `httpx.AsyncClient` whose connections go only to addresses the
  policy vetted at connect time, so a DNS answer that changes between check and connect (DNS
  rebinding) cannot slip through, and SDKs that own their request loop (a2a-sdk) are covered too.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from agents.errors import HectorError

__all__ = [
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT_S",
    "ResponseTooLarge",
    "SSRFBlocked",
    "SSRFPolicy",
    "blocked_reason",
    "fetch",
]

#: SPEC 9.4 defaults: 5 redirects, `max_response_size` 5 MiB, timeout 30s.
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_MAX_RESPONSE_BYTES = 5 * 1024 * 1024
DEFAULT_TIMEOUT_S = 30.0

_SCHEMES = frozenset({"http", "https"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class SSRFBlocked(HectorError):
    """The policy refused a URL; the message says why (shown to models and API callers)."""

    code = "ssrf_blocked"

    def __init__(self, reason: str) -> None:
        super().__init__(f"blocked by SSRF policy: {reason}")
        self.reason = reason


class ResponseTooLarge(HectorError):
    """The response body passed the size cap; nothing past the cap was read."""

    code = "response_too_large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"response larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


def blocked_reason(address: IPAddress) -> str | None:
    """Why `address` is not a public destination (None when it is).

    IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4, IPv4-compatible) are judged by
    that IPv4 address too, since that is where the packets end up.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return blocked_reason(address.ipv4_mapped)
        if address in _NAT64:
            return blocked_reason(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        embedded = address.sixtofour
        if embedded is None and address in _IPV4_COMPATIBLE and int(address) > 1:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and (reason := blocked_reason(embedded)):
            return reason
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address in _CGNAT, "carrier-grade NAT"),
        (address in _UNIQUE_LOCAL, "unique-local"),
        (getattr(address, "is_site_local", False), "site-local"),
        (address.is_multicast, "multicast"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "non-public"),
    )
    return next((reason for hit, reason in checks if hit), None)


def _normalise_host(host: str) -> str:
    """Lower case, no trailing root dot, IP literals in canonical form (`0:0::1` -> `::1`)."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    return host


def _matches(host: str, names: frozenset[str]) -> bool:
    """`host` is one of `names` or a subdomain of one (`api.example.com` matches `example.com`)."""
    return any(host == name or host.endswith("." + name) for name in names)


class SSRFPolicy:
    """Which outbound destinations are allowed.

    `allowed_hosts` (hostnames, domain suffixes or IP literals) skip the address check: that is
    how a deployment reaches its own internal services on purpose. `denied_domains` are refused
    whatever they resolve to, and win over `allowed_hosts`. `allow_private=True` turns the
    address check off entirely (single-machine development), keeping schemes and denials.
    """

    def __init__(
        self,
        allowed_hosts: Iterable[str] = (),
        denied_domains: Iterable[str] = (),
        allow_private: bool = False,
    ) -> None:
        self.allowed_hosts = frozenset(_normalise_host(h) for h in allowed_hosts if h.strip())
        self.denied_domains = frozenset(_normalise_host(d) for d in denied_domains if d.strip())
        self.allow_private = allow_private

    def is_allowed_host(self, host: str) -> bool:
        return _matches(_normalise_host(host), self.allowed_hosts)

    def is_denied_host(self, host: str) -> bool:
        return _matches(_normalise_host(host), self.denied_domains)

    def check_target(self, url: str | httpx.URL) -> tuple[str, int]:
        """Scheme and denial checks that need no DNS; returns the (host, port) to resolve."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise SSRFBlocked(f"invalid URL ({exc})") from None
        if parsed.scheme not in _SCHEMES:
            raise SSRFBlocked(f"scheme {parsed.scheme or '(none)'!r} is not allowed")
        host = _normalise_host(parsed.host)
        if not host:
            raise SSRFBlocked("URL has no host")
        if self.is_denied_host(host):
            raise SSRFBlocked(f"domain {host} is denied")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        return host, port

    async def check_url(self, url: str | httpx.URL) -> None:
        """Refuse `url` unless it is http(s) and its host resolves only to public addresses.

        Allowed hosts are not resolved here: the policy has nothing to judge, and a host that
        does not resolve fails later as a connection error, not as a policy refusal.
        """
        host, port = self.check_target(url)
        if not (self.allow_private or self.is_allowed_host(host)):
            await self.vetted_addresses(host, port)

    async def vetted_addresses(self, host: str, port: int) -> list[str]:
        """Resolve `host` and return its addresses, refusing it if any one is not allowed.

        Every address must pass, not just the first: the connection may use any of them.
        """
        host = _normalise_host(host)
        if self.is_denied_host(host):
            raise SSRFBlocked(f"domain {host} is denied")
        addresses = await _resolve(host, port)
        if self.allow_private or self.is_allowed_host(host):
            return addresses
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            reason = blocked_reason(address)
            if reason is None:
                continue
            if host == str(address):
                raise SSRFBlocked(f"address {host} is {reason}")
            raise SSRFBlocked(f"{host} resolves to {address} ({reason})")
        return addresses

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that connects only to addresses this policy vetted."""
        return _PolicyTransport(self)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An `httpx.AsyncClient` bound to this policy. Redirects are off (use `fetch` to follow
        them hop by hop) and proxies from the environment are ignored: a proxy would connect
        on our behalf to addresses the policy never saw.
        """
        return httpx.AsyncClient(
            transport=self.transport(), follow_redirects=False, trust_env=False, **kwargs
        )


async def _resolve(host: str, port: int) -> list[str]:
    """All addresses of `host`, via the loop's resolver (a worker thread, never the loop)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise SSRFBlocked(f"cannot resolve host {host} ({exc})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise SSRFBlocked(f"cannot resolve host {host}")
    return addresses


class _VettedBackend(httpcore.AsyncNetworkBackend):
    """Resolves through the policy and connects to the vetted address itself.

    httpcore still starts TLS with the request's hostname (SNI and certificate checks are
    unchanged); only the TCP connect is pinned to an address the policy saw.
    """

    def __init__(self, policy: SSRFPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._policy.vetted_addresses(host, port)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # vetted_addresses never returns an empty list
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise SSRFBlocked("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PolicyTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: SSRFPolicy) -> None:
        super().__init__(trust_env=False)
        self._policy = policy
        # httpx has no public parameter for the network backend, so the pool it built is
        # replaced by the same pool with the vetting backend (nothing was opened yet).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=_LIMITS.max_connections,
            max_keepalive_connections=_LIMITS.max_keepalive_connections,
            keepalive_expiry=_LIMITS.keepalive_expiry,
            network_backend=_VettedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._policy.check_target(request.url)
        return await super().handle_async_request(request)


async def fetch(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    policy: SSRFPolicy,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    **kwargs: Any,
) -> httpx.Response:
    """One request under `policy`: every redirect hop is checked after DNS resolution before it
    is followed, and the body is read up to `max_bytes` (`ResponseTooLarge` past it).

    `kwargs` go to `client.build_request` (headers, content, json, params...). A 303, or a
    301/302 answering a POST, continues as a body-less GET, as browsers do; `Authorization` is
    dropped when a hop leaves the original origin. Raises `SSRFBlocked`, `ResponseTooLarge`,
    `httpx.TooManyRedirects`, `TimeoutError` (the whole exchange took over `timeout_s`) or an
    `httpx.HTTPError`. Returns the final response with its body read.
    """
    async with asyncio.timeout(timeout_s):
        request = client.build_request(method, url, **kwargs)
        for _hop in range(max_redirects + 1):
            await policy.check_url(request.url)
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                location = response.headers.get("location")
                if response.status_code not in _REDIRECT_STATUSES or not location:
                    return await _read_capped(response, max_bytes)
            finally:
                await response.aclose()
            request = _redirect_request(client, request, response.status_code, location)
        raise httpx.TooManyRedirects(f"more than {max_redirects} redirects", request=request)


def _redirect_request(
    client: httpx.AsyncClient, previous: httpx.Request, status: int, location: str
) -> httpx.Request:
    url = previous.url.join(location)
    method = previous.method
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method = "GET"
    keep_body = method == previous.method
    headers = httpx.Headers(previous.headers)
    headers.pop("host", None)
    if url.scheme != previous.url.scheme or url.host != previous.url.host:
        headers.pop("authorization", None)
    if not keep_body:
        for name in ("content-length", "content-type", "transfer-encoding"):
            headers.pop(name, None)
    content = previous.content if keep_body else None
    return client.build_request(method, url, headers=headers, content=content)


async def _read_capped(response: httpx.Response, max_bytes: int) -> httpx.Response:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(max_bytes)
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise ResponseTooLarge(max_bytes)
    # A fresh response carrying the decoded body, so callers use .text / .json() as usual.
    headers = httpx.Headers(response.headers)
    for name in ("content-encoding", "content-length", "transfer-encoding"):
        headers.pop(name, None)
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=bytes(body),
        request=response.request,
        extensions={"http_version": response.extensions.get("http_version", b"HTTP/1.1")},
    )
