"""The data users' pages in Chromium at a phone's and a laptop's width: the catalogue shows
what the API lists, nothing overflows sideways, and the token page shows a new key once."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from analysis.services.snapshots import snapshot_export, snapshot_set_published
from tests.analysis.conftest import snapshot_study  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def assert_no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the window"


@pytest.mark.parametrize("width", [360, 1366])
def test_the_catalogue_page_lists_what_the_api_lists(page, live_server, screenshot, request, width):
    study = request.getfixturevalue("snapshot_study")
    for _ in range(2):
        snapshot = snapshot_export(study_id=study.pk)
        snapshot_set_published(snapshot_id=snapshot.pk, published=True)
    page.set_viewport_size({"width": width, "height": 900})
    api = page.request.get(f"{live_server.url}/api/v1/data/snapshots/").json()

    page.goto(f"{live_server.url}/data/")
    page.locator("details").first.evaluate("element => element.open = true")

    entries = page.locator("article.dataset")
    assert entries.count() == api["count"] == 2
    for index, entry in enumerate(api["results"]):
        card = entries.nth(index)
        assert card.locator("h2").inner_text() == f"{entry['title']} v{entry['version']}"
        assert (
            card.get_by_role("link", name="Croissant", exact=True).get_attribute("href")
            == entry["links"]["croissant"]
        )
    screenshot(page, f"data-catalogue-{width}")
    assert_no_sideways_scroll(page)


@pytest.mark.parametrize("width", [360, 1366])
def test_a_data_user_signs_up_and_sees_a_new_token_once(page, live_server, screenshot, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/data/sign-up/")
    page.get_by_label("Username").fill(f"reader{width}")
    page.get_by_label("Email").fill("reader@example.org")
    page.get_by_label("Password").fill("a long and unusual passphrase 42")
    page.get_by_role("button", name="Sign up").click()

    page.get_by_label("Name of a new token").fill("laptop")
    page.get_by_role("button", name="Create token").click()

    key = page.locator("#new-token").inner_text()
    assert key.startswith("mlk_")
    screenshot(page, f"data-tokens-{width}")
    assert_no_sideways_scroll(page)
    page.reload()
    assert page.locator("#new-token").count() == 0
    assert page.get_by_role("button", name="Revoke").count() == 1
