"""BeatFlow Studio in Debian's Chromium (headless, Playwright) against the whole stack: register and sign in
through the forms, find a repository whose stems were committed over REST, see its graph and stems, play
its mix and mute a stem, see a fork's origin, read it on a phone, and listen as a visitor without an account.
Every request that leaves the gateway's origin is refused and must not happen.

With STUDIO_SCREENSHOTS=docs/studio the screens are saved there (1280x800, and the repository on a phone).
"""

from __future__ import annotations

import io
import os
import re
import uuid
from pathlib import Path

import pretty_midi
import pytest
import soundfile

from beatflow_audio import soundfont
from tests.e2e.conftest import Api

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not soundfont.available(), reason="FluidSynth and its soundfont are installed by setup"),
]
CHROMIUM = "/usr/bin/chromium"
BPM = 120
BARS = 2
SCREENSHOTS = os.environ.get("STUDIO_SCREENSHOTS", "")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# There are waveform canvases, and every one has ink on it.
INKED_WAVEFORMS = """() => [...document.querySelectorAll('canvas.wave')].every((canvas) => canvas.width > 1
    && canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data.some((v) => v))
    && document.querySelectorAll('canvas.wave').length > 0"""
PLAYING = "() => { const audio = document.querySelector('audio'); return !audio.paused && audio.currentTime > 0; }"


def _stems() -> dict[str, bytes]:
    """Drums and a bass line, two bars at 120 bpm, rendered with FluidSynth as WAV files."""
    beat = 60 / BPM
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    bass = pretty_midi.Instrument(program=33)
    for n in range(BARS * 4):
        at = n * beat
        drums.notes.append(pretty_midi.Note(velocity=100, pitch=36 if n % 2 == 0 else 38, start=at, end=at + 0.1))
        drums.notes.append(pretty_midi.Note(velocity=70, pitch=42, start=at + beat / 2, end=at + beat / 2 + 0.05))
        bass.notes.append(pretty_midi.Note(velocity=90, pitch=(45, 45, 48, 43)[n % 4], start=at, end=at + beat * 0.9))
    files = {}
    for name, instrument in (("drums", drums), ("bass", bass)):
        midi = pretty_midi.PrettyMIDI(initial_tempo=BPM)
        midi.instruments.append(instrument)
        buffer = io.BytesIO()
        soundfile.write(buffer, soundfont.render(midi), 44100, format="WAV")
        files[name] = buffer.getvalue()
    return files


async def _commit_two_stems(api: Api, token: str) -> tuple[dict, dict]:
    """A repository with the two stems on main, and a branch with one more commit."""
    headers = {"Authorization": f"Bearer {token}"}
    repo = await api.client.post("/api/repositories/create", json={"name": "Night Drive"}, headers=headers)
    assert repo.status_code == 201, repo.text
    repo_id = repo.json()["repo_id"]
    stems = []
    for name, wav in _stems().items():
        upload = await api.client.post(
            "/api/audio/upload", files={"file": (f"{name}.wav", wav, "audio/wav")}, headers=headers
        )
        assert upload.status_code == 201, upload.text
        stems.append({"name": name, "blob_id": upload.json()["blob_id"]})
    first = await api.client.post(
        f"/api/vcs/commit/{repo_id}",
        json={"message": "Drums and bass", "bpm": BPM, "key_signature": "A minor", "stems": stems},
        headers=headers,
    )
    assert first.status_code == 201, first.text
    branch = await api.client.post(
        f"/api/vcs/repos/{repo_id}/branches", json={"name": "bass-only", "start_point": "main"}, headers=headers
    )
    assert branch.status_code == 201, branch.text
    quieter = await api.client.post(
        f"/api/vcs/commit/{repo_id}",
        json={"message": "Only the bass", "branch": "bass-only", "remove_stems": ["drums"]},
        headers=headers,
    )
    assert quieter.status_code == 201, quieter.text
    return repo.json(), first.json()


async def _shoot(tab, name: str) -> None:
    """Saves the screen as docs' screenshot `name`.png when STUDIO_SCREENSHOTS names a folder."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await tab.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))


async def test_a_musician_signs_in_finds_a_repository_and_listens(api: Api):
    from playwright.async_api import async_playwright

    name = f"mia-{uuid.uuid4().hex[:8]}"
    password = "mia has a long password"
    origin = api.base_url
    elsewhere: list[str] = []
    renders: list[str] = []

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]
        )
        try:
            tab = await browser.new_page(viewport=DESKTOP)

            async def only_the_gateway(route):
                if route.request.url.startswith(origin + "/"):
                    await route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    await route.abort()

            await tab.route("**/*", only_the_gateway)
            tab.on("request", lambda request: "/render?" in request.url and renders.append(request.url))
            problems: list[str] = []
            tab.on("pageerror", lambda error: problems.append(str(error)))
            tab.on(
                "console", lambda message: "Content Security Policy" in message.text and problems.append(message.text)
            )

            # Signed out, the studio asks to sign in; register, sign out, sign in again.
            await tab.goto(f"{origin}/studio")
            await tab.wait_for_url(re.compile(r"#/signin$"))
            await _shoot(tab, "signin")
            register = tab.locator("form", has=tab.get_by_role("heading", name="New here? Register"))
            await register.get_by_label("Username").fill(name)
            await register.get_by_label("Email").fill(f"{name}@example.com")
            await register.get_by_label("Password").fill(password)
            await register.get_by_role("button", name="Register").click()
            await tab.wait_for_url(re.compile(r"#/repos$"))
            await tab.get_by_role("button", name="Sign out").click()
            await tab.wait_for_url(re.compile(r"#/signin$"))
            sign_in = tab.locator("form", has=tab.get_by_role("heading", name="Sign in"))
            await sign_in.get_by_label("Username or email").fill(name)
            await sign_in.get_by_label("Password").fill(password)
            await sign_in.get_by_role("button", name="Sign in").click()
            await tab.get_by_role("heading", name="Repositories", exact=True).wait_for()

            # The same account over REST commits two stems; the list shows the repository.
            login = await api.client.post("/api/auth/login", json={"username": name, "password": password})
            token = login.json()["tokens"]["access_token"]
            repo, commit = await _commit_two_stems(api, token)
            await tab.reload()
            link = tab.get_by_role("link", name=f"{name}/Night Drive")
            await link.wait_for()
            await _shoot(tab, "repos")
            await link.click()

            # The graph: both commits, the branch's label; the stems of the default branch's head.
            await tab.get_by_role("heading", name="Drums and bass").wait_for()
            rows = tab.locator(".commit-row")
            assert await rows.count() == 2
            assert sorted(stem["name"] for stem in commit["stems"]) == ["bass", "drums"]
            assert await tab.locator(".ref.branch").all_inner_texts() == ["bass-only", "main"]
            assert await tab.locator(".graph-lanes circle").count() == 2
            # The lane layout of a merge: both sides in lanes of their own, joining at the merge and the base.
            lanes = await tab.evaluate(
                """async () => {
                    const { layout } = await import('/studio/js/graph.js');
                    const commit = (id, ...parents) => ({ id, parent_ids: parents });
                    const graph = layout([commit('merge', 'ours', 'theirs'), commit('ours', 'base'),
                                          commit('theirs', 'base'), commit('base')]);
                    return { lanes: graph.lanes, edges: graph.edges.length,
                             placed: Object.fromEntries([...graph.placed].map(([id, p]) => [id, p.lane])) };
                }"""
            )
            assert lanes == {"lanes": 2, "edges": 4, "placed": {"merge": 0, "ours": 0, "theirs": 1, "base": 0}}
            assert await tab.locator(".stem .stem-name").all_inner_texts() == [stem["name"] for stem in commit["stems"]]
            # Waveforms drawn from the analysis' peaks: ink on every canvas.
            await tab.wait_for_function(INKED_WAVEFORMS, timeout=60_000)
            assert "A minor" in await tab.locator(".facts").inner_text()

            # Play: the element plays the mix, as long as the commit.
            length = max(stem["audio"]["duration_seconds"] for stem in commit["stems"])
            await tab.get_by_role("button", name="Play", exact=True).click()
            await tab.wait_for_function(PLAYING, timeout=30_000)
            duration = await tab.evaluate("document.querySelector('audio').duration")
            assert abs(duration - length) <= 0.1
            await _shoot(tab, "repo")

            # Muting the drums asks the render endpoint for another mix and keeps playing from where it was.
            before = await tab.evaluate("document.querySelector('audio').currentTime")
            await tab.get_by_role("button", name="Mute drums", exact=True).click()
            await tab.wait_for_function(
                "() => document.querySelector('audio').dataset.renderUrl.includes('mute=drums')"
                " && !document.querySelector('audio').hasAttribute('aria-busy')",
                timeout=30_000,
            )
            assert any("mute=drums" in url for url in renders)
            assert renders[0] != renders[-1] and "mute=" not in renders[0]
            assert (
                await tab.get_by_role("button", name="Mute drums", exact=True).get_attribute("aria-pressed") == "true"
            )
            after = await tab.evaluate("document.querySelector('audio').currentTime")
            assert after >= before

            # The page's CSP lets job progress through (WebSocket to this host): the server answers for an unknown job.
            closed = await tab.evaluate(
                """async () => (await import('/studio/js/api.js'))
                    .watchJob(crypto.randomUUID(), () => {}).done.then(() => 'ended', (error) => error.status)"""
            )
            assert closed == 404

            # A fork names its origin and marks the commit it was forked at.
            fork = await api.client.post(
                "/api/vcs/fork",
                json={"original_repo_id": repo["repo_id"], "fork_name": "Night Drive remix"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert fork.status_code == 201, fork.text
            await tab.goto(f"{origin}/studio/#/repo/{fork.json()['repo_id']}")
            await tab.get_by_role("heading", name=f"{name}/Night Drive remix").wait_for()
            assert await tab.locator(".fork-origin").inner_text() == (
                f"Forked from {name}/Night Drive at {commit['commit_id'][:8]}"
            )
            marked = tab.locator(".commit-row", has=tab.locator(".ref.fork"))
            assert await marked.get_attribute("data-commit-id") == commit["commit_id"]

            # On a phone's screen the repository reads in one column: nothing wider than the screen.
            await tab.wait_for_function(INKED_WAVEFORMS, timeout=30_000)
            await tab.wait_for_function("() => !document.querySelector('.player button').disabled")
            await tab.set_viewport_size(PHONE)
            overflow = await tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0
            await _shoot(tab, "repo-phone")

            # A visitor without an account hears a public repository; its waveforms are decoded in the page.
            made_public = await api.client.patch(
                f"/api/repositories/{repo['repo_id']}",
                json={"is_public": True},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert made_public.status_code == 200, made_public.text
            await tab.set_viewport_size(DESKTOP)
            await tab.get_by_role("button", name="Sign out").click()
            await tab.wait_for_url(re.compile(r"#/signin$"))
            asked: list[str] = []
            tab.on("request", lambda request: asked.append(request.url))
            await tab.goto(f"{origin}/studio/#/repo/{repo['repo_id']}")
            await tab.get_by_role("link", name="Sign in").wait_for()
            await tab.wait_for_function(INKED_WAVEFORMS, timeout=30_000)
            assert not [url for url in asked if "/api/ai/analyze-audio" in url]
            downloaded = {url.split("/api/audio/download/")[1][:64] for url in asked if "/api/audio/download/" in url}
            assert downloaded >= {stem["blob_id"] for stem in commit["stems"]}
            await tab.get_by_role("button", name="Play", exact=True).click()
            await tab.wait_for_function(PLAYING, timeout=30_000)
        finally:
            await browser.close()

    assert elsewhere == []
    assert problems == []
