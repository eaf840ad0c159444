"""A real local web server for /add and fetch tests, started and stopped by the test itself.

It listens on 127.0.0.1 only and records the paths it was asked for, so a test can tell
that a refused address was never requested.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from samples import html_page, pdf_file

PAGE = html_page(
    [
        "Der Zorblax-Leuchtturm wurde im Jahr 1923 von Mira Kettlewell grün gestrichen. Er "
        "steht auf einer Granitklippe nördlich des Hafens.",
        "Jeden Sommer besuchen ihn mehr als zwölftausend Menschen. Die Treppe im Inneren hat "
        "212 Stufen, und oben weht fast immer ein kräftiger Wind.",
    ]
)
BODY_LIMIT = 100_000  # what /declared and /endless exceed


@dataclass
class Site:
    """The running server's port and the paths (with queries) it was asked for."""

    port: int = 0
    paths: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@contextlib.asynccontextmanager
async def local_site() -> AsyncIterator[Site]:
    """Serve /article (an HTML page with boilerplate), /report.pdf, /redirect?to=…, /endless
    (chunked, past BODY_LIMIT), /declared (a Content-Length past it), /slow (3 s), /image."""
    site = Site()

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html", charset="utf-8")

    async def pdf(request: web.Request) -> web.Response:
        return web.Response(body=pdf_file([["Ein PDF im Netz."]]), content_type="application/pdf")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query.get("to", "/article").replace("PORT", str(site.port)))

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)  # chunked: no Content-Length to go by
        for _ in range(50):
            await response.write(b"<p>" + b"x" * 65_536 + b"</p>")
        return response

    async def declared(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (BODY_LIMIT + 1), content_type="text/html")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return await page(request)

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n", content_type="image/png")

    @web.middleware
    async def record(request: web.Request, handler):  # noqa: ANN001, ANN202
        site.paths.append(request.path_qs)
        return await handler(request)

    app = web.Application(middlewares=[record])
    for path, handler in [
        ("/article", page),
        ("/report.pdf", pdf),
        ("/redirect", redirect),
        ("/endless", endless),
        ("/declared", declared),
        ("/slow", slow),
        ("/image", image),
    ]:
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)  # /slow need not finish after a test
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    site.port = runner.addresses[0][1]
    try:
        yield site
    finally:
        await runner.cleanup()
