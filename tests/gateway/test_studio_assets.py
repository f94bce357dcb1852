"""The studio's files as the gateway serves them: /studio and everything it loads, followed from the page
through every module import, with the right content types, compressed, under the page's CSP."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import httpx
import pytest

from beatflow_devtools.network import free_port
from beatflow_gateway.app import create_app
from beatflow_gateway.settings import GatewaySettings
from beatflow_gateway.studio import STUDIO_DIR

_HTML_REFERENCES = re.compile(r"""(?:href|src)="([^"]+)\"""")
# Module imports, and files a script names by their absolute path (e.g. a stylesheet it adds).
_SCRIPT_REFERENCES = re.compile(
    r'(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\("([^"]+)"\)|"(/studio/[^"]+\.(?:js|css))"'
)
_EXPECTED_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


@pytest.fixture
async def client():
    down = f"127.0.0.1:{free_port()}"  # no backend is needed for static files
    app = create_app(GatewaySettings(vcs_address=down, generator_address=down, separator_address=down))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        yield client


def _references(url: str, response: httpx.Response) -> list[str]:
    if url.endswith(".js"):
        found = [next(filter(None, groups)) for groups in _SCRIPT_REFERENCES.findall(response.text)]
    else:
        found = [ref for ref in _HTML_REFERENCES.findall(response.text) if not ref.startswith(("data:", "#"))]
    return [urljoin(url, ref) for ref in found]


async def test_the_page_and_everything_it_loads_are_served_with_their_types(client):
    page = await client.get("/studio", follow_redirects=True)
    assert page.status_code == 200
    assert str(page.url).endswith("/studio/")
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"https?:|=\"//", page.text), "the page names an external URL"

    seen: set[str] = set()
    queue = _references("/studio/", page)
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        response = await client.get(url)
        assert response.status_code == 200, url
        suffix = url[url.rfind(".") :]
        assert response.headers["content-type"].startswith(_EXPECTED_TYPES[suffix]), url
        assert "default-src 'self'" in response.headers["content-security-policy"], url
        queue.extend(_references(url, response))

    served = {url.removeprefix("/studio/") for url in seen}
    on_disk = {str(path.relative_to(STUDIO_DIR)) for path in STUDIO_DIR.rglob("*") if path.suffix in (".js", ".css")}
    assert {"studio.css", "js/app.js", "js/api.js", "js/player.js", "js/views/repo.js"} <= served
    # Every module and the panels' too are reached from the page: nothing shipped is dead.
    assert served == on_disk


async def test_assets_are_compressed_and_revalidated(client):
    response = await client.get("/studio/js/api.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < len(response.content) / 2  # httpx decoded it
    assert response.headers["cache-control"] == "no-cache"
    again = await client.get("/studio/js/api.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_files_outside_the_studio_folder_are_not_served(client):
    for path in ("/studio/../pyproject.toml", "/studio/%2e%2e/%2e%2e/app.py", "/studio/missing.js"):
        assert (await client.get(path)).status_code == 404, path
