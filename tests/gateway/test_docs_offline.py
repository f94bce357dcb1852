"""/docs and /redoc work without internet: every asset comes from the gateway itself.

The pages are checked twice: their asset URLs followed over HTTP, and the pages rendered by
Debian's Chromium (headless, through Playwright) with every request that does not go to the
gateway refused, showing every operation of the OpenAPI document.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from PIL import Image

from beatflow_devtools.network import free_port
from beatflow_gateway.app import create_app
from beatflow_gateway.settings import GatewaySettings

CHROMIUM = "/usr/bin/chromium"
DOC_PAGES = ("/docs", "/redoc")
# Where the docs pages name other resources: HTML attributes and Swagger UI's settings.
_REFERENCES = re.compile(r"""(?:href|src|spec-url)="([^"]+)"|url: '([^']+)'|origin \+ '([^']+)'""")


def _settings() -> GatewaySettings:
    """No backend is needed for the docs; the addresses lead nowhere."""
    down = f"127.0.0.1:{free_port()}"
    return GatewaySettings(vcs_address=down, generator_address=down, separator_address=down)


def _operations(schema: dict) -> list[dict]:
    return [operation for item in schema["paths"].values() for operation in item.values()]


@pytest.mark.parametrize("page", DOC_PAGES)
async def test_doc_pages_name_only_assets_the_gateway_serves(page):
    app = create_app(_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        response = await client.get(page)
        assert "default-src 'self'" in response.headers["content-security-policy"]
        html = response.text
        assert not re.search(r"https?:|=\"//", html), "the page names an external URL"
        references = [next(filter(None, groups)) for groups in _REFERENCES.findall(html)]
        assets = [url for url in references if not url.endswith("oauth2-redirect")]
        assert "/openapi.json" in assets and any(url.endswith(".js") for url in assets)
        for url in references:
            response = await client.get(url)
            assert response.status_code == 200 and response.content, url


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    """The gateway served over HTTP on 127.0.0.1, for the browser."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(_settings()), host="127.0.0.1", port=port, log_config=None, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the gateway did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _non_blank(png: bytes) -> bool:
    """More than 2 % of the pixels are not the background's colour."""
    image = Image.open(io.BytesIO(png)).convert("L")
    histogram = image.histogram()
    return 1 - max(histogram) / sum(histogram) > 0.02


@pytest.mark.parametrize(("page", "rendered"), [("/docs", ".opblock"), ("/redoc", "[data-section-id*='/operation/']")])
def test_chromium_renders_every_operation_offline(gateway_url, tmp_path, page, rendered):
    from playwright.sync_api import sync_playwright

    schema = httpx.get(f"{gateway_url}/openapi.json").json()
    summaries = {operation["summary"] for operation in _operations(schema)}
    elsewhere = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})

            def only_the_gateway(route):
                if route.request.url.startswith(gateway_url + "/"):
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            tab.route("**/*", only_the_gateway)
            tab.goto(gateway_url + page)
            tab.wait_for_selector(rendered, timeout=60_000)
            blocks = tab.locator(rendered).count()
            text = tab.inner_text("body")
            screenshot = tab.screenshot(path=tmp_path / "docs.png")
        finally:
            browser.close()
    assert elsewhere == []
    # Both list an operation under each of its tags.
    assert blocks == sum(len(operation.get("tags", ["default"])) for operation in _operations(schema))
    assert not {summary for summary in summaries if summary not in text}
    assert _non_blank(screenshot)
