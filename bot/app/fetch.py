"""Fetch a web page (or a document) for `/add`: http(s) only, every address checked,
size and time limited.

Every hop, the address given and each redirect, is resolved and refused if an address it
resolves to is private, loopback, link-local, reserved or multicast, unless the caller
allows private addresses (ALLOW_PRIVATE_URLS: an intranet, a test server). The request
then goes to the checked address itself, with the host name kept for the Host header and
TLS, so a second DNS answer cannot swap in another address. Proxies from the environment
are not used, for the same reason. The body is streamed and dropped as soon as it passes
the size limit (after decompression, so a gzip bomb stops there too); the whole fetch,
redirects included, has one deadline.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

import httpx

from bot.errors import FetchError
from bot.retrieval.formats import FORMATS

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
USER_AGENT = "quote-bot/0.1"
CONTENT_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "text/plain": ".txt",
    "text/markdown": ".md",
}
"""Content types that are documents, and the suffix each is stored with."""

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressCheck = Callable[[Address], bool]


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched document: the address it came from after redirects, its bytes, its suffix."""

    url: str
    data: bytes
    suffix: str


def public(address: Address) -> bool:
    """True for a globally routable unicast address (not private, loopback, link-local …)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return address.is_global and not address.is_multicast


async def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    allow_private: bool = False,
    allowed: AddressCheck | None = None,
    max_redirects: int = MAX_REDIRECTS,
) -> Fetched:
    """Fetch `url`, following up to `max_redirects` redirects, each one checked again.

    Args:
        url: an http or https address.
        max_bytes: the largest body accepted (after decompression).
        timeout: seconds for the whole fetch, redirects included.
        allow_private: also fetch from private, loopback and link-local addresses.
        allowed: which resolved addresses may be fetched from (default: public ones,
            or all of them with `allow_private`).
        max_redirects: how many redirects to follow.

    Raises:
        FetchError: the address is refused or unreachable, the server answers with an
            error or with something that is not a document, the body is too large, or
            the time is up; `reason` says which.
    """
    check = allowed or ((lambda address: True) if allow_private else public)
    try:
        async with asyncio.timeout(timeout):
            async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
                return await _follow(client, url, check, max_bytes, max_redirects)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise FetchError(
            f"{url} did not arrive within {timeout:g} s", "timeout", seconds=f"{timeout:g}"
        ) from exc
    except httpx.HTTPError as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise FetchError(f"cannot fetch {url}: {detail}", "failed", detail=detail) from exc


async def _follow(
    client: httpx.AsyncClient, url: str, check: AddressCheck, max_bytes: int, max_redirects: int
) -> Fetched:
    for _ in range(max_redirects + 1):
        target = parse_url(url)
        address = await checked_address(target.host, target.port or _port(target), check)
        request = client.build_request(
            "GET",
            target.copy_with(host=str(address)),
            headers={"Host": _host_header(target), "User-Agent": USER_AGENT},
            # TLS checks the certificate against the host name, not against the address.
            extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
        )
        response = await client.send(request, stream=True)
        try:
            if response.is_redirect and "location" in response.headers:
                url = str(target.join(response.headers["location"]))
                logger.info("%s redirects to %s", target, url)
                continue
            return await _document(target, response, max_bytes)
        finally:
            await response.aclose()
    raise FetchError(
        f"{url}: more than {max_redirects} redirects", "redirects", limit=max_redirects
    )


def parse_url(url: str) -> httpx.URL:
    """`url` as an httpx URL, if it is an http or https address with a host.

    Raises:
        FetchError: another scheme, no host, or not an address at all.
    """
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchError(f"{url!r} is not a web address", "scheme", url=url) from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError(
            f"{url!r} is not an http or https address", "scheme", url=url
        )  # fmt: skip
    return parsed


async def checked_address(host: str, port: int, check: AddressCheck) -> Address:
    """The address to connect to for `host`, if every address it resolves to passes `check`.

    Raises:
        FetchError: the host does not resolve, or resolves to a refused address.
    """
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"{host} cannot be resolved ({exc})", "unresolvable", host=host) from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in found]
    for address in addresses:
        if not check(address):
            raise FetchError(
                f"{host} is at {address}, a private, loopback, link-local or reserved address",
                "blocked", host=host, address=str(address),
            )  # fmt: skip
    return addresses[0]


async def _document(target: httpx.URL, response: httpx.Response, max_bytes: int) -> Fetched:
    """The body of a 200 response that is a document, read up to `max_bytes`."""
    if response.status_code != 200:
        raise FetchError(
            f"{target} answered {response.status_code}", "status", status=response.status_code
        )
    suffix = _suffix(target, response.headers.get("content-type", ""))
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(target, max_bytes)
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(target, max_bytes)
    return Fetched(str(target), bytes(body), suffix)


def _suffix(target: httpx.URL, content_type: str) -> str:
    """The document suffix a content type stands for, or the address's own suffix."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in CONTENT_TYPES:
        return CONTENT_TYPES[kind]
    suffix = PurePosixPath(target.path).suffix.lower()
    if kind in ("", "application/octet-stream", "binary/octet-stream") and suffix in FORMATS:
        return suffix
    raise FetchError(
        f"{target} is {kind or 'of no content type'}, not a web page or document",
        "type", content_type=kind or "?",
    )  # fmt: skip


def _too_large(target: httpx.URL, limit: int) -> FetchError:
    return FetchError(f"{target} is larger than {limit:,} bytes", "too_large", limit=limit)


def _port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


def _host_header(url: httpx.URL) -> str:
    host = f"[{url.host}]" if ":" in url.host else url.host
    return host if url.port is None else f"{host}:{url.port}"


def page_name(url: str, suffix: str) -> str:
    """A safe file name for the document fetched from `url`, the same for the same address.

    "https://www.example.org/news/artikel.html?id=3" → "www-example-org-news-artikel-id-3.html".
    """
    parsed = parse_url(url)
    path = PurePosixPath(parsed.path)
    if path.suffix.lower() in (*FORMATS, ".php", ".asp", ".aspx", ".jsp"):
        path = path.with_suffix("")
    query = parsed.query.decode() if parsed.query else ""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{parsed.host} {path} {query}".lower()).strip("-")
    if len(slug) > 80:  # long addresses keep their start and a hash of the whole
        slug = slug[:71].rstrip("-") + "-" + hashlib.sha256(url.encode()).hexdigest()[:8]
    return f"{slug or 'page'}{suffix}"
