"""A musician's day in BeatFlow Studio, through the page only, in Debian's Chromium against the whole stack.

Alice registers, generates a beat (the procedural engine, six seconds) with live progress, listens to it,
forks her repository, records a new take of two bars of the bass in the fork, looks at the musical diff,
changes another bar at home and merges the fork back (disjoint ranges: spliced, no conflict), comments on
moments, then branches, changes the same bar on both sides and resolves the conflict in the page by taking
theirs. Every step is checked on what the page shows and on the API's state afterwards; the takes are
synthesised (a tone replaces the bars), so where each version's audio must end up is known exactly.

With STUDIO_SCREENSHOTS=docs/studio the panels are saved there as PNG files (at most 150 KB each).
"""

from __future__ import annotations

import asyncio
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright

from beatflow_audio import codec
from tests.e2e.conftest import Api

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "a long studio password"
BPM = 100
BAR = 4 * 60 / BPM  # 2.4 s
SECONDS = 6
SCREENSHOT_LIMIT = 150_000
FADE = 0.01  # merges fade between sources over 10 ms inside the range taken (docs/vcs.md)
# A slow network, so that acting on the view being left fails every run rather than by chance: a view's commit
# read lands after the test could act on the view before it, and a take's upload outlasts that.
LATENCY_SECONDS = {("GET", "/api/vcs/commit/"): 0.5, ("POST", "/api/audio/upload"): 1.0}
COMMIT_URL = re.compile(r"#/repo/([0-9a-f-]{36})/commit/([0-9a-f]{64})$")
# Records every line the job progress shows (the panel is replaced when the result lands).
RECORD_JOB_LINES = """
window.__jobLines = [];
new MutationObserver(() => {
  for (const line of document.querySelectorAll(".job-status")) {
    if (line.textContent && window.__jobLines.at(-1) !== line.textContent) window.__jobLines.push(line.textContent);
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def latency(method: str, path: str) -> float:
    delays = [delay for (m, prefix), delay in LATENCY_SECONDS.items() if m == method and path.startswith(prefix)]
    return max(delays, default=0.0)


def clock(seconds: float) -> str:
    """The page's way of writing a time: 0:02.4."""
    tenths = round(seconds * 10)
    return f"{tenths // 600}:{(tenths % 600) / 10:04.1f}"


def span(start: float, end: float) -> str:
    """The page's way of writing a time range: 0:02.4, an en dash, 0:04.8."""
    return f"{clock(start)}\N{EN DASH}{clock(end)}"


class Studio:
    """The page, with the API client and the signed-in user's token for checking what it did."""

    def __init__(self, page, api: Api, shots: Path | None):
        self.page, self.api, self.shots = page, api, shots
        self.token = ""
        self.username = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str, **params) -> dict:
        response = await self.api.client.get(path, params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def audio(self, blob_id: str) -> tuple[np.ndarray, int]:
        response = await self.api.client.get(f"/api/audio/download/{blob_id}", headers=self.headers)
        return codec.decode(response.content)

    def panel(self, name: str):
        return self.page.locator(f"#panel-{name}")

    async def settled_on(self, place: str) -> None:
        """Waits until the page shows the view of `place` (a hash): until then the previous view stays on screen."""
        await self.page.locator(f"#main[data-shows='{place}']:not([aria-busy])").wait_for()

    async def open(self, base_url: str, repo_name: str, repo_id: str, commit_id: str) -> None:
        """Goes to a commit of a repository and waits until the view shows it (a new hash re-renders the page)."""
        place = f"#/repo/{repo_id}/commit/{commit_id}"
        await self.page.goto(f"{base_url}/studio/{place}")
        await self.settled_on(place)
        await self.page.get_by_role("heading", name=f"{self.username}/{repo_name}", exact=True).wait_for()
        await self.page.locator(f".commit code[title='{commit_id}']").wait_for()
        await self.page.locator("#panel-change form", has_text="Merge into").wait_for()

    async def shown_commit(self, leaving: str = "") -> tuple[str, str]:
        """(repo id, commit id) of the commit the page shows once it has moved to one (other than `leaving`)."""
        try:
            await self.page.wait_for_url(lambda url: COMMIT_URL.search(url) and not (leaving and leaving in url))
        except PlaywrightTimeout:
            said = await self.page.locator(".form-status:not(:empty)").all_inner_texts()
            raise AssertionError(f"the page did not move to a new commit; the forms say {said}") from None
        repo_id, commit_id = COMMIT_URL.search(self.page.url).groups()
        await self.settled_on(f"#/repo/{repo_id}/commit/{commit_id}")
        await self.page.locator(f".commit code[title='{commit_id}']").wait_for()
        await self.page.locator(".player button.play:not([disabled])").wait_for()
        return repo_id, commit_id

    async def stems(self, commit_id: str) -> dict[str, str]:
        commit = await self.get(f"/api/vcs/commit/{commit_id}")
        return {stem["name"]: stem["blob_id"] for stem in commit["stems"]}

    async def take(self, commit_id: str, stem: str, start: float, end: float, frequency: float, path: Path) -> Path:
        """The stem of the commit with [start, end) replaced by a tone, written as a WAV file."""
        samples, rate = await self.audio((await self.stems(commit_id))[stem])
        first, last = round(start * rate), round(end * rate)
        t = np.arange(last - first) / rate
        samples[first:last] = 0.25 * np.sin(2 * np.pi * frequency * t)[:, None]
        path.write_bytes(codec.encode(samples, rate, "WAV"))
        return path

    async def commit_take(self, stem: str, take: Path, message: str) -> str:
        _, shown = COMMIT_URL.search(self.page.url).groups()
        form = self.panel("change").locator("form", has_text="Commit a new take")
        await form.get_by_label("Stem", exact=True).fill(stem)
        await form.get_by_label("Take", exact=True).set_input_files(take)
        await form.get_by_label("Message").fill(message)
        await form.get_by_role("button", name="Commit the take").click()
        _, commit_id = await self.shown_commit(leaving=shown)
        return commit_id

    async def pick_branch(self, name: str) -> None:
        await self.page.get_by_label("Branch", exact=True).select_option(name)
        await self.page.locator("#panel-change form", has_text=f"Commit a new take on {name}").wait_for()

    async def screenshot(self, name: str, locator) -> None:
        """The element as docs/studio/<name>.png (palette PNG when the full-colour one is too large)."""
        if not self.shots:
            return
        image = Image.open(io.BytesIO(await locator.screenshot()))
        path = self.shots / f"{name}.png"
        image.save(path, optimize=True)
        if path.stat().st_size > SCREENSHOT_LIMIT:
            image.convert("RGB").quantize(colors=64).save(path, optimize=True)
        assert path.stat().st_size <= SCREENSHOT_LIMIT, f"{path} is too large"


def same_audio(left: np.ndarray, right: np.ndarray) -> bool:
    return left.shape == right.shape and np.allclose(left, right, atol=2e-3)


def inside(start: float, end: float, rate: int) -> slice:
    """The samples of [start, end) but the merge's fades at its edges."""
    return slice(round((start + FADE) * rate), round((end - FADE) * rate))


async def register_and_create_repository(studio: Studio, base_url: str) -> str:
    page = studio.page
    await page.goto(f"{base_url}/studio/")
    register = page.locator("form", has=page.get_by_role("heading", name="New here? Register"))
    username = studio.username = f"alice-{os.urandom(3).hex()}"
    await register.get_by_label("Username").fill(username)
    await register.get_by_label("Email").fill(f"{username}@example.com")
    await register.get_by_label("Password").fill(PASSWORD)
    await register.get_by_role("button", name="Register").click()
    await page.get_by_role("heading", name="Repositories", exact=True).wait_for()
    studio.token = await page.evaluate("JSON.parse(sessionStorage.getItem('beatflow.session')).tokens.access_token")
    assert (await studio.get("/api/auth/me"))["username"] == username

    await page.get_by_label("Name", exact=True).fill("Night Drive")
    await page.get_by_role("button", name="Create repository").click()
    await page.wait_for_url(re.compile(r"#/repo/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[1]


async def generate(studio: Studio, repo_id: str) -> str:
    """Generates a beat from the create panel; the page follows the job and moves to the commit it lands as."""
    form = studio.panel("create").locator("form", has_text="Generate from a prompt")
    await form.get_by_label("Prompt").fill("warm beat with piano")
    await form.get_by_label("Style").fill("lofi")
    await form.get_by_label("BPM").fill(str(BPM))
    await form.get_by_label("Key").fill("A minor")
    await form.get_by_label("Seed").fill("7")
    await form.get_by_label("Duration (seconds)").fill(str(SECONDS))
    await form.get_by_label("Engine").select_option("procedural")
    await studio.screenshot("create", studio.panel("create"))
    await form.get_by_role("button", name="Generate").click()
    shown_repo, commit_id = await studio.shown_commit()
    assert shown_repo == repo_id

    lines = await studio.page.evaluate("window.__jobLines")
    # Queued or running lines (a watch may coalesce quick stages), then the end.
    assert lines[-1] == "Done" and lines[:-1], lines
    assert all(re.match(r"Queued: |\d+ % · ", line) for line in lines[:-1]), lines
    history = await studio.get(f"/api/vcs/history/{repo_id}")
    assert [c["id"] for c in history["commits"]] == [commit_id]
    assert {b["name"]: b["commit_id"] for b in history["branches"]} == {"main": commit_id}
    commit = await studio.get(f"/api/vcs/commit/{commit_id}")
    assert commit["bpm"] == BPM and commit["key_signature"] == "A minor"
    assert commit["generation_params"]["spec"]["prompt"] == "lofi warm beat with piano"
    assert commit["generation_params"]["seed"] == "7"
    names = sorted(stem["name"] for stem in commit["stems"])
    assert sorted(await studio.page.locator(".stems .stem-name").all_inner_texts()) == names
    return commit_id


async def listen(studio: Studio) -> None:
    page = studio.page
    await page.locator(".player button.play").click()
    await page.wait_for_function(
        "() => { const a = document.querySelector('.player audio'); return !a.paused && a.currentTime > 0; }"
    )
    duration = await page.evaluate("document.querySelector('.player audio').duration")
    assert abs(duration - SECONDS) <= 0.1
    await page.locator(".player button.play").click()  # pause


async def fork(studio: Studio, repo_id: str, generated: str) -> str:
    form = studio.panel("change").locator("form", has_text="Fork this repository")
    await form.get_by_label("Fork name").fill("Night Drive remix")
    await form.get_by_role("button", name="Fork").click()
    await studio.page.wait_for_url(re.compile(r"#/repo/[0-9a-f-]{36}$"))
    fork_id = studio.page.url.rsplit("/", 1)[1]
    assert fork_id != repo_id
    await studio.page.get_by_role("heading", name=re.compile("Night Drive remix")).wait_for()
    assert "Forked from" in await studio.page.locator(".repo-head").inner_text()
    forked = await studio.get(f"/api/repositories/{fork_id}")
    assert forked["forked_from"]["repo_id"] == repo_id and forked["forked_from"]["commit_id"] == generated
    return fork_id


async def diff(studio: Studio, repo_id: str, base: str, head: str) -> None:
    """The diff panel's default (parent against the shown commit): the changed range, its loudness, both versions."""
    panel = studio.panel("diff")
    await panel.get_by_role("button", name="Compare").click()
    bass = panel.locator(".diff-stem[data-stem='bass']")
    await bass.locator(".diff-range").first.wait_for()
    expected = await studio.get(f"/api/vcs/repos/{repo_id}/diff", base=base, head=head)
    assert [c["name"] for c in expected["stem_changes"]] == ["bass"]
    ranges = expected["stem_changes"][0]["ranges"]
    assert ranges and all(
        r["head_start_seconds"] >= BAR - 0.05 and r["head_end_seconds"] <= 2 * BAR + 0.05 for r in ranges
    )
    shown = await bass.locator(".diff-range").all_inner_texts()
    assert len(shown) == len(ranges)
    for text, changed in zip(shown, ranges, strict=True):
        assert f"{span(changed['head_start_seconds'], changed['head_end_seconds'])} changed" in text
        assert f"{changed['loudness_change_db']:+.1f} dB" in text
    await studio.page.wait_for_function("() => document.querySelector('.diff-picture')?.naturalWidth > 0")
    await bass.get_by_role("button", name=re.compile("^Play after")).first.click()
    await studio.page.wait_for_function("() => !document.querySelector('audio[data-clip=after]').paused")
    await bass.get_by_role("button", name=re.compile("^Stop after")).first.click()
    await studio.screenshot("diff", panel)


async def merge_from(studio: Studio, source_repo: str, branch: str) -> None:
    form = studio.panel("change").locator("form", has_text="Merge into")
    await form.get_by_label("From repository").select_option(source_repo)
    await form.locator(f"select[name=source] option[value='{branch}']").wait_for(state="attached")
    await form.get_by_label("Branch to merge").select_option(branch)
    await form.get_by_role("button", name=re.compile("^Merge into")).click()


async def comment(studio: Studio, stem: str, at: float, text: str) -> None:
    """A comment on `stem` from the playhead (moved there with the position slider) for a bar."""
    await studio.page.get_by_label("Position").evaluate(
        "(slider, at) => { slider.value = at; slider.dispatchEvent(new Event('input')); }", at
    )
    form = studio.panel("comments").locator("form", has_text="Comment on a moment")
    await form.get_by_role("button", name="Set from the playhead").click()
    assert float(await form.get_by_label("From (seconds)").input_value()) == pytest.approx(at, abs=0.05)
    assert float(await form.get_by_label("To (seconds)").input_value()) == pytest.approx(at + BAR, abs=0.05)
    await form.get_by_label("Stem").select_option(stem)
    await form.get_by_label("Comment", exact=True).fill(text)
    await form.get_by_role("button", name="Comment", exact=True).click()
    await studio.panel("comments").locator(".thread", has_text=text).wait_for()


async def hum_and_separate(studio: Studio, repo_id: str) -> None:
    """Hums into the microphone for a beat, then splits its melody into stems committed beside it.

    Chromium's fake microphone plays a sung tune in a loop (see `hummed_tune`): its default device
    only beeps, 20 ms every half second, too little pitch for a melody when the machine is busy.
    """
    _, shown = COMMIT_URL.search(studio.page.url).groups()
    form = studio.panel("create").locator("form", has_text="Hum a melody")
    await form.get_by_role("button", name="Record", exact=True).click()
    await form.get_by_text("Recording…").wait_for()
    await studio.page.wait_for_timeout(2500)
    await form.get_by_role("button", name="Stop recording").click()
    await form.get_by_text("Recorded: listen, then make a beat from it").wait_for()
    await form.get_by_label("Duration (seconds)").fill("5")
    seen = len(await studio.page.evaluate("window.__jobLines"))
    await form.get_by_role("button", name="Make a beat from the recording").click()
    _, hummed = await studio.shown_commit(leaving=shown)
    lines = (await studio.page.evaluate("window.__jobLines"))[seen:]
    assert lines[-1] == "Done" and any(re.match(r"\d+ % · ", line) for line in lines), lines
    commit = await studio.get(f"/api/vcs/commit/{hummed}")
    assert commit["parent_ids"] == [shown] and commit["generation_params"]["hum_blob_id"]
    assert {"drums", "bass", "chords", "melody"} <= {stem["name"] for stem in commit["stems"]}
    hum_job = (await studio.get("/api/jobs", kind="generator.hum_to_beat"))["jobs"][0]
    heard = {note["pitch"] % 12 for note in hum_job["result"]["detail"]["transcription"]["notes"]}
    assert heard and heard <= {0, 2, 4, 7}, heard  # the tune's C, D, E and G, through the browser's codec

    form = studio.panel("create").locator("form", has_text="Split a track into stems")
    await form.get_by_label("Or a stem of this commit").select_option("melody")
    await form.get_by_role("button", name="Separate and commit").click()
    _, separated = await studio.shown_commit(leaving=hummed)
    before, after = await studio.stems(hummed), await studio.stems(separated)
    parts = {"melody-drums", "melody-bass", "melody-vocals", "melody-other"}
    assert set(after) == set(before) | parts and all(after[name] == before[name] for name in before)
    jobs = (await studio.get("/api/jobs", kind="separator.separate"))["jobs"]
    artifacts = {f"melody-{a['name']}": a["blob"]["blob_id"] for a in jobs[0]["result"]["artifacts"]}
    assert artifacts == {name: after[name] for name in parts}
    branches = (await studio.get(f"/api/vcs/history/{repo_id}"))["branches"]
    assert {b["name"]: b["commit_id"] for b in branches}["main"] == separated
    assert sorted(await studio.page.locator(".stems .stem-name").all_inner_texts()) == sorted(after)


def hummed_tune(directory: Path) -> Path:
    """A sung tune as 16-bit PCM WAV, the format Chromium's fake microphone reads."""
    from tests.generator.test_hum import TUNE, sung

    path = directory / "hum.wav"
    path.write_bytes(sung(TUNE, 0.5))
    return path


async def test_a_musicians_day_in_the_studio(api: Api, tmp_path: Path):
    shots = Path(os.environ["STUDIO_SCREENSHOTS"]) if os.environ.get("STUDIO_SCREENSHOTS") else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    elsewhere: list[str] = []
    page_errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={hummed_tune(tmp_path)}",
            ],
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(60_000)
            page.on("pageerror", lambda error: page_errors.append(str(error)))

            async def only_the_gateway(route):
                if route.request.url.startswith(api.base_url + "/"):
                    await asyncio.sleep(latency(route.request.method, route.request.url[len(api.base_url) :]))
                    await route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    await route.abort()

            await page.route("**/*", only_the_gateway)
            await page.add_init_script(RECORD_JOB_LINES)
            studio = Studio(page, api, shots)
            await run_the_day(studio, api.base_url, tmp_path)
        finally:
            await browser.close()
    assert elsewhere == [] and page_errors == []


async def run_the_day(studio: Studio, base_url: str, tmp_path: Path) -> None:
    page = studio.page
    repo_id = await register_and_create_repository(studio, base_url)
    generated = await generate(studio, repo_id)
    await listen(studio)

    # In a fork, bar 2 of the bass becomes a new take.
    fork_id = await fork(studio, repo_id, generated)
    await studio.open(base_url, "Night Drive remix", fork_id, generated)
    fork_take = await studio.take(generated, "bass", BAR, 2 * BAR, 220.0, tmp_path / "fork-bass.wav")
    remixed = await studio.commit_take("bass", fork_take, "New bass line in bar 2")
    await studio.screenshot("change", studio.panel("change"))
    fork_commit = await studio.get(f"/api/vcs/commit/{remixed}", repo_id=fork_id)
    assert fork_commit["parent_ids"] == [generated]
    before, after = await studio.stems(generated), await studio.stems(remixed)
    assert {name for name in before if before[name] != after[name]} == {"bass"}
    assert same_audio((await studio.audio(after["bass"]))[0], codec.decode(fork_take.read_bytes())[0])
    await diff(studio, fork_id, generated, remixed)

    # At home, the first half of bar 1 changes; the fork's bar 2 merges in beside it.
    await studio.open(base_url, "Night Drive", repo_id, generated)
    home_take = await studio.take(generated, "bass", 0.0, BAR / 2, 330.0, tmp_path / "home-bass.wav")
    home = await studio.commit_take("bass", home_take, "Bass intro")
    await merge_from(studio, fork_id, "main")
    _, merged = await studio.shown_commit(leaving=home)
    merge_commit = await studio.get(f"/api/vcs/commit/{merged}")
    assert merge_commit["parent_ids"] == [home, remixed]
    spliced, rate = await studio.audio((await studio.stems(merged))["bass"])
    home_audio, fork_audio = codec.decode(home_take.read_bytes())[0], codec.decode(fork_take.read_bytes())[0]
    intro, bar_two = inside(0.0, BAR / 2, rate), inside(BAR, 2 * BAR, rate)
    assert same_audio(spliced[intro], home_audio[intro]) and same_audio(spliced[bar_two], fork_audio[bar_two])

    # Comments on moments of the merge: one on the drums, one on bar 2 of the bass.
    await comment(studio, "drums", 0.0, "Love this groove")
    await comment(studio, "bass", BAR, "Bar 2 could be busier")
    thread = studio.panel("comments").locator(".thread", has_text="Bar 2 could be busier")
    await thread.get_by_label("Your reply").fill("On it, in a branch")
    await thread.get_by_role("button", name="Reply", exact=True).click()
    await thread.locator(".comment", has_text="On it, in a branch").wait_for()
    assert clock(BAR) in await thread.locator(".moment").inner_text()
    listed = (await studio.get(f"/api/vcs/repos/{repo_id}/commits/{merged}/comments"))["comments"]
    bass_comment = next(c for c in listed if c["body"] == "Bar 2 could be busier")
    assert bass_comment["stem"] == "bass" and bass_comment["start_seconds"] == pytest.approx(BAR, abs=0.05)
    assert bass_comment["end_seconds"] == pytest.approx(2 * BAR, abs=0.05)
    assert [c["parent_id"] for c in listed if c["body"] == "On it, in a branch"] == [bass_comment["comment_id"]]

    # A branch and main both change bar 2 of the bass: the conflict view plays both and takes theirs.
    branch_form = studio.panel("change").locator("form", has_text="Start a branch here")
    await branch_form.get_by_label("Branch name").fill("idea/busy-bass")
    await branch_form.get_by_role("button", name="Create branch").click()
    await page.locator("#branch-menu option[value='idea/busy-bass']").wait_for(state="attached")
    await studio.pick_branch("idea/busy-bass")
    theirs_take = await studio.take(merged, "bass", BAR, 2 * BAR, 440.0, tmp_path / "theirs.wav")
    theirs = await studio.commit_take("bass", theirs_take, "Busier bar 2")
    await studio.pick_branch("main")
    ours_take = await studio.take(merged, "bass", BAR + BAR / 2, 2 * BAR, 110.0, tmp_path / "ours.wav")
    ours = await studio.commit_take("bass", ours_take, "Low end in bar 2")
    await merge_from(studio, repo_id, "idea/busy-bass")
    conflict = studio.panel("change").locator(".conflict[data-stem='bass']")
    await conflict.wait_for()
    start, end = float(await conflict.get_attribute("data-start")), float(await conflict.get_attribute("data-end"))
    assert start <= BAR + BAR / 2 and end >= 2 * BAR - 0.05
    assert f"changed on both sides in {span(start, end)}" in await conflict.inner_text()
    for side in ("ours", "theirs"):
        await conflict.get_by_role("button", name=re.compile(f"^Play {side}")).click()
        await page.wait_for_function(f"() => !document.querySelector('audio[data-clip={side}]').paused")
    await conflict.get_by_role("button", name=re.compile("^Stop theirs")).click()
    await conflict.get_by_label("Take theirs (merged in)").check()
    await studio.screenshot("merge-conflict", studio.panel("change").locator("form", has_text="Merge into"))
    await studio.panel("change").get_by_role("button", name="Commit the merge with these choices").click()
    _, resolved = await studio.shown_commit(leaving=ours)
    assert (await studio.get(f"/api/vcs/commit/{resolved}"))["parent_ids"] == [ours, theirs]
    result, rate = await studio.audio((await studio.stems(resolved))["bass"])
    ours_audio, theirs_audio = codec.decode(ours_take.read_bytes())[0], codec.decode(theirs_take.read_bytes())[0]
    taken, before_it = inside(start, end, rate), slice(0, round((start - FADE) * rate))
    assert same_audio(result[taken], theirs_audio[taken]) and same_audio(result[before_it], ours_audio[before_it])
    branches = {b["name"]: b["commit_id"] for b in (await studio.get(f"/api/vcs/history/{repo_id}"))["branches"]}
    assert branches == {"main": resolved, "idea/busy-bass": theirs}

    # On the resolved commit the drums comment still holds; the bass one is outdated (bar 2 changed).
    threads = studio.panel("comments").locator(".thread")
    await threads.first.wait_for()
    drums = threads.filter(has_text="Love this groove")
    busier = threads.filter(has_text="Bar 2 could be busier")
    assert "outdated" not in await drums.inner_text() and f"from {merged[:8]}" in await drums.inner_text()
    assert "outdated: this moment changed since" in await busier.inner_text()
    await studio.screenshot("comments", studio.panel("comments"))
    listed = (await studio.get(f"/api/vcs/repos/{repo_id}/commits/{resolved}/comments"))["comments"]
    outdated = {c["body"]: c["outdated"] for c in listed if not c["parent_id"]}
    assert outdated == {"Love this groove": False, "Bar 2 could be busier": True}

    # Back in the fork, a hummed idea and its melody split into stems.
    await studio.open(base_url, "Night Drive remix", fork_id, remixed)
    await hum_and_separate(studio, fork_id)
