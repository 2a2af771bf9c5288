"""A real Chromium (Debian's, headless) driven by Playwright against the live test server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from moodlab.studies.demo import ShortClips as SynthesisedClips

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "screenshots"
CLIP_SECONDS = 1.0


class ShortClips(SynthesisedClips):
    """One-second synthesized clips for every song, so a browser session takes seconds."""

    def __init__(self, external_ids: list[str]) -> None:
        super().__init__(external_ids, seconds=CLIP_SECONDS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are still plain synchronous code.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Script errors and failed loads the page reported; a test that provokes some clears it."""
    return []


@pytest.fixture
def page(browser: Browser, page_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 360, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on(
        "console",
        lambda message: page_errors.append(message.text) if message.type == "error" else None,
    )
    yield page
    context.close()
    assert not page_errors, f"the page reported errors: {page_errors}"


@pytest.fixture
def screenshot():
    """Save what the page shows now as an artifact, named by locale and page type."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> None:
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    return take
