"""The study dashboard draws every locale's figures in the browser and updates by itself."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from moodlab.studies.models import Study
from tests.conftest import build_study
from tests.factories import ParticipantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIVE = ("en-US", "fr-FR", "es-MX", "ko-KR", "ar-EG")


def log_in(page: Page, live_server) -> None:
    UserFactory(username="lead", is_superuser=True)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "lead")
    page.fill("#id_password", "correct horse battery staple")
    page.click("input[type=submit]")


def test_the_dashboard_draws_all_five_languages_and_updates_live(
    page: Page, live_server, screenshot
):
    study: Study = build_study(locales=FIVE, phase="rating")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/studies/study/{study.pk}/dashboard/")
    expect(page.locator("#moodlab-dashboard[data-loaded=true]")).to_be_attached()
    cards = page.locator(".moodlab-locale")
    expect(cards).to_have_count(5)
    for index, code in enumerate(sorted(FIVE)):
        locale = study.locales.get(code=code)
        first_term = locale.terms.filter(is_selected=True).order_by("rank").first()
        label = getattr(first_term, f"label_{locale.language}")
        expect(cards.nth(index).locator("h2")).to_have_text(code)
        expect(cards.nth(index).locator("svg text", has_text=label).first).to_be_attached()
    arabic = cards.nth(0).locator("svg text[direction=rtl]")  # ar-EG comes first
    assert arabic.count() == 20
    screenshot(page, "admin-dashboard-five-locales")

    # A participant arrives: the figures follow without a reload.
    ParticipantFactory(study=study, locale=study.locales.get(code="ko-KR"))
    korean = cards.nth(sorted(FIVE).index("ko-KR"))
    expect(korean.locator(".moodlab-legend")).to_contain_text("Started: 1", timeout=15_000)
