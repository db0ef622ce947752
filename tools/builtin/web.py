"""webtool (SPEC 9.3, 9.4): `web_fetch`, `web_request` and `web_search`.

`web_fetch` and `web_request` go to URLs the model chose, so every request, and every redirect
hop after DNS resolution, goes through `tools.ssrf` (`fetch` on a policy-bound client). The
webtool's `allowed_domains` adds one rule on top: when set, only those domains (and their
subdomains) and `allowed_hosts` may be reached at all; being listed also exempts them from the
internal-address check, as SPEC 9.4 says of both lists.

`web_search` posts to Tavily, a URL the deployment chose, not the model; it is not subject to
the policy (an `allowed_domains` list without api.tavily.com must not break search).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from typing import Any, Literal

import httpx
from pydantic import Field

from tools.base import ToolContext
from tools.builtin.base import Arguments, ToolRefusal
from tools.ssrf import ResponseTooLarge, SSRFBlocked, SSRFPolicy, fetch

__all__ = [
    "TAVILY_SEARCH_URL",
    "WebPolicy",
    "WebTools",
    "html_to_text",
]

TAVILY_SEARCH_URL = "https://api.tavily.com/search"
USER_AGENT = "Hector/1.0 (+webtool)"
_TEXT_TYPES = re.compile(r"^(text/|application/([\w.+-]*\+)?(json|xml|javascript|x-www-form))")
_ERROR_BODY_CHARS = 500


class WebPolicy(SSRFPolicy):
    """The SSRF policy with the webtool's `allowed_domains` restriction."""

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str] = (),
        allowed_domains: Iterable[str] = (),
        denied_domains: Iterable[str] = (),
    ) -> None:
        domains = list(allowed_domains)
        super().__init__(allowed_hosts=[*allowed_hosts, *domains], denied_domains=denied_domains)
        self.is_restricted = bool(domains)

    def check_target(self, url: str | httpx.URL) -> tuple[str, int]:
        host, port = super().check_target(url)
        if self.is_restricted and not self.is_allowed_host(host):
            raise SSRFBlocked(f"domain {host} is not in allowed_domains")
        return host, port


# --- arguments --------------------------------------------------------------------------------


class WebFetchArgs(Arguments):
    url: str = Field(description="http(s) URL of the page to read.")


class WebRequestArgs(Arguments):
    url: str = Field(description="http(s) URL.")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    headers: dict[str, str] | None = Field(default=None, description="Request headers.")
    body: str | None = Field(default=None, description="Request body, sent as given.")


class WebSearchArgs(Arguments):
    query: str = Field(min_length=1)
    max_results: int = Field(default=5, ge=1, le=20)
    topic: Literal["general", "news"] = Field(
        default="general", description="Use news for recent events."
    )
    time_range: Literal["day", "week", "month", "year"] | None = None
    include_domains: list[str] | None = None
    exclude_domains: list[str] | None = None


# --- the tools --------------------------------------------------------------------------------


class WebTools:
    """Handlers of one webtool toolset."""

    def __init__(
        self,
        policy: WebPolicy,
        *,
        timeout_s: float,
        max_response_bytes: int,
        max_redirects: int,
        api_key: str | None,
        search_url: str = TAVILY_SEARCH_URL,
    ) -> None:
        self.policy = policy
        self.timeout_s = timeout_s
        self.max_response_bytes = max_response_bytes
        self.max_redirects = max_redirects
        self.api_key = api_key
        self.search_url = search_url

    async def web_fetch(self, args: WebFetchArgs, context: ToolContext) -> dict[str, Any]:
        headers = {"User-Agent": USER_AGENT, "Accept": "text/html,text/plain;q=0.9,*/*;q=0.5"}
        response = await self._send("GET", args.url, headers=headers)
        if not response.is_success:
            detail = response.text[:_ERROR_BODY_CHARS] if _is_text(response) else ""
            raise ToolRefusal(
                f"HTTP {response.status_code} {response.reason_phrase} from {response.url}"
                + (f": {detail}" if detail else "")
            )
        content_type = response.headers.get("content-type", "")
        result: dict[str, Any] = {"url": str(response.url), "content_type": content_type}
        if "html" in content_type.lower():
            title, text = html_to_text(response.text)
            result["title"] = title
            result["content"] = text
        elif _is_text(response):
            result["content"] = response.text
        else:
            raise ToolRefusal(
                f"{response.url} returned {content_type or 'an unknown type'} "
                f"({len(response.content)} bytes), which is not text"
            )
        return result

    async def web_request(self, args: WebRequestArgs, context: ToolContext) -> dict[str, Any]:
        headers = {"User-Agent": USER_AGENT, **(args.headers or {})}
        content = args.body.encode() if args.body is not None else None
        response = await self._send(args.method, args.url, headers=headers, content=content)
        if _is_text(response) or not response.content:
            body: str = response.text
        else:
            body = f"<{len(response.content)} bytes of {response.headers.get('content-type')}>"
        return {
            "url": str(response.url),
            "status_code": response.status_code,
            "headers": dict(response.headers),
            "content": body,
        }

    async def web_search(self, args: WebSearchArgs, context: ToolContext) -> dict[str, Any]:
        if not self.api_key:
            raise ToolRefusal(
                "web_search needs a Tavily API key: set api_key on the webtool or the "
                "TAVILY_API_KEY environment variable"
            )
        payload: dict[str, Any] = {
            "query": args.query,
            "max_results": args.max_results,
            "topic": args.topic,
            "search_depth": "basic",
            "include_answer": True,
        }
        optional = {
            "time_range": args.time_range,
            "include_domains": args.include_domains,
            "exclude_domains": args.exclude_domains,
        }
        payload.update({key: value for key, value in optional.items() if value})
        # Building a client loads the CA bundle from disk: not on the event loop.
        client = await asyncio.to_thread(httpx.AsyncClient, timeout=self.timeout_s)
        try:
            async with client:
                response = await client.post(
                    self.search_url,
                    json=payload,
                    headers={"Authorization": f"Bearer {self.api_key}"},
                )
        except httpx.HTTPError as exc:
            raise ToolRefusal(f"Tavily search failed: {_describe(exc)}") from None
        if response.status_code != 200:
            raise ToolRefusal(
                f"Tavily search failed: HTTP {response.status_code}: "
                f"{response.text[:_ERROR_BODY_CHARS]}"
            )
        data = response.json()
        results = [
            {key: item.get(key) for key in ("title", "url", "content", "score")}
            for item in data.get("results") or []
            if isinstance(item, Mapping)
        ]
        return {"answer": data.get("answer"), "results": results, "count": len(results)}

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request under the policy; every failure becomes a refusal the model can read.

        The URL is checked once before a client is built (building one loads CA certificates,
        ~40 ms; a refusal should not pay that), and again by `fetch` on every hop.
        """
        try:
            await self.policy.check_url(url)
            client = await asyncio.to_thread(self.policy.client)
            async with client:
                return await fetch(
                    client,
                    method,
                    url,
                    policy=self.policy,
                    max_redirects=self.max_redirects,
                    max_bytes=self.max_response_bytes,
                    timeout_s=self.timeout_s,
                    **kwargs,
                )
        except (SSRFBlocked, ResponseTooLarge) as exc:
            raise ToolRefusal(str(exc)) from None
        except httpx.TooManyRedirects:
            raise ToolRefusal(f"more than {self.max_redirects} redirects from {url}") from None
        except TimeoutError:
            raise ToolRefusal(f"request timed out after {self.timeout_s:g}s: {url}") from None
        except httpx.HTTPError as exc:
            raise ToolRefusal(f"request to {url} failed: {_describe(exc)}") from None


def _is_text(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    return bool(_TEXT_TYPES.match(content_type))


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


# --- HTML to text -----------------------------------------------------------------------------

_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object"})
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tr",
        "ul",
    }
)


class _TextExtractor(HTMLParser):
    """Visible text with line breaks at block elements; `<pre>` keeps its line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skipping = 0
        self._in_title = False
        self._in_pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag == "title":
            self._in_title = True
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("- ")
            elif tag == "pre":
                self._in_pre += 1
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
            if tag == "pre":
                self._in_pre = max(0, self._in_pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._in_title:
            self.title.append(data)
        elif self._in_pre:
            self.parts.append(data)
        else:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> tuple[str, str]:
    """(title, text) of an HTML document, for a model to read."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return " ".join("".join(parser.title).split()), text
