"""Fetching pages for /add against a real local HTTP server: redirects, address checks, limits."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from website import BODY_LIMIT, PAGE, Site, local_site

from bot.app.fetch import fetch, page_name, parse_url, public
from bot.errors import FetchError

LIMIT = BODY_LIMIT


@pytest_asyncio.fixture
async def site() -> AsyncIterator[Site]:
    async with local_site() as running:
        yield running


async def get(url: str, **options: object):  # noqa: ANN201
    values = {"max_bytes": LIMIT, "timeout": 5.0, "allow_private": True} | options
    return await fetch(url, **values)


# ---------------------------------------------------------------------------- fetching


async def test_a_page_is_fetched_as_html(site: Site) -> None:
    fetched = await get(site.url("/article"))
    assert (fetched.url, fetched.data, fetched.suffix) == (site.url("/article"), PAGE, ".html")


async def test_a_pdf_on_the_web_keeps_its_format(site: Site) -> None:
    fetched = await get(site.url("/report.pdf"))
    assert fetched.suffix == ".pdf" and fetched.data.startswith(b"%PDF-")


async def test_redirects_are_followed_and_each_hop_is_checked(site: Site) -> None:
    fetched = await get(site.url("/redirect?to=/redirect"))
    assert fetched.url == site.url("/article")
    assert site.paths == ["/redirect?to=/redirect", "/redirect", "/article"]


async def test_a_redirect_to_a_refused_address_is_not_followed(site: Site) -> None:
    # Only 127.0.0.1 is allowed here; the redirect leads to 127.0.0.2 (loopback as well, so
    # even a request that wrongly went out would stay on this machine).
    only_this = ipaddress.ip_address("127.0.0.1")
    with pytest.raises(FetchError, match="127.0.0.2") as caught:
        await get(
            site.url("/redirect?to=http://127.0.0.2:PORT/secret"),
            allowed=lambda address: address == only_this,
        )
    assert caught.value.reason == "blocked"
    assert site.paths == ["/redirect?to=http://127.0.0.2:PORT/secret"]


async def test_too_many_redirects(site: Site) -> None:
    with pytest.raises(FetchError, match="more than 2 redirects") as caught:
        await get(site.url("/redirect?to=/redirect?to=/redirect"), max_redirects=2)
    assert caught.value.reason == "redirects"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_loopback_is_refused_unless_allowed(site: Site, host: str) -> None:
    with pytest.raises(FetchError, match="private, loopback, link-local") as caught:
        await get(site.url("/article", host=host), allow_private=False)
    assert caught.value.reason == "blocked"
    assert site.paths == []  # refused before connecting


async def test_a_body_past_the_limit_is_dropped_while_streaming(site: Site) -> None:
    started = time.perf_counter()
    with pytest.raises(FetchError, match=f"larger than {LIMIT:,} bytes") as caught:
        await get(site.url("/endless"))
    assert caught.value.reason == "too_large" and time.perf_counter() - started < 3
    with pytest.raises(FetchError, match="larger than"):
        await get(site.url("/declared"))


async def test_a_slow_server_runs_into_the_deadline(site: Site) -> None:
    started = time.perf_counter()
    with pytest.raises(FetchError, match="did not arrive within 0.5 s") as caught:
        await get(site.url("/slow"), timeout=0.5)
    assert caught.value.reason == "timeout" and time.perf_counter() - started < 2


async def test_errors_and_other_content_are_refused(site: Site) -> None:
    with pytest.raises(FetchError, match="answered 404") as missing:
        await get(site.url("/nothing-here"))
    assert (missing.value.reason, missing.value.values) == ("status", {"status": 404})
    with pytest.raises(FetchError, match="is image/png, not a web page") as picture:
        await get(site.url("/image"))
    assert picture.value.reason == "type"


async def test_a_closed_port_is_a_failed_fetch(site: Site) -> None:
    with pytest.raises(FetchError, match="cannot fetch") as caught:
        await get("http://127.0.0.1:9/article")  # the discard port: nothing listens
    assert caught.value.reason == "failed"


# ---------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/a.html", "file:///etc/passwd", "javascript:alert(1)", "example.org", ""],
)
async def test_only_http_and_https_addresses(url: str) -> None:
    with pytest.raises(FetchError, match="not an http or https address|not a web address") as e:
        await get(url)
    assert e.value.reason == "scheme"


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.215.14", True),
        ("2606:4700:4700::1111", True),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.178.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),  # cloud metadata: link-local
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("2001:db8::1", False),
    ],
)
def test_only_public_addresses_by_default(address: str, allowed: bool) -> None:
    assert public(ipaddress.ip_address(address)) is allowed


@pytest.mark.parametrize(
    ("url", "suffix", "name"),
    [
        ("https://www.example.org/news/artikel.html?id=3", ".html", "www-example-org-news-artikel-id-3.html"),  # noqa: E501
        ("https://example.org/", ".html", "example-org.html"),
        ("http://127.0.0.1:8080/bericht.pdf", ".pdf", "127-0-0-1-bericht.pdf"),
    ],
)  # fmt: skip
def test_page_names_are_safe_and_stable(url: str, suffix: str, name: str) -> None:
    assert page_name(url, suffix) == name


def test_long_addresses_get_a_short_unique_name() -> None:
    first = page_name("https://example.org/" + "a" * 300, ".html")
    second = page_name("https://example.org/" + "a" * 299 + "b", ".html")
    assert first != second and len(first) <= 85 and first.endswith(".html")
    assert parse_url(" https://example.org/x ").host == "example.org"
