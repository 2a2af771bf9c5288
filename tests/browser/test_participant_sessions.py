"""Whole participant sessions in a real browser, in English, Korean and Arabic."""

from __future__ import annotations

import csv
import io
import math
import re

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import Page, expect

from elicitation.models import TagAddition, TagRating
from elicitation.services.chains import TurnSubmission, turn_claim, turn_submit
from moodlab.studies.demo import demo_song_rows
from moodlab.studies.models import Participant, QuestionnaireResponse, Study
from moodlab.studies.services.prescreens import (
    headphone_positions,
    vocabulary_items_for,
)
from moodlab.studies.services.studies import study_set_phase
from rating.models import Rating, Trial
from tests.browser.conftest import ShortClips
from tests.conftest import build_study
from tests.factories import ParticipantFactory, ready_for_trials

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PANEL = "https://panel.example"
COUNTRIES = {"en-US": "US", "ko-KR": "KR", "ar-EG": "EG"}
# Tags an earlier listener left, a prefix to find them by, and a tag of the participant's own.
TAGS = {
    "en-US": ("melancholic", "mel", "dreamy"),
    "ko-KR": ("잔잔한", "잔잔", "몽환적인"),
    "ar-EG": ("هادئ", "هاد", "حالم"),
}
LOCALES = ["en-US", "ko-KR", "ar-EG"]


def small_study(phase: str, *, songs: int = 3, **params) -> Study:
    """A few songs with one-second clips, every step of the pages switched on."""
    song_ids = [row["videoID"] for row in csv.DictReader(io.StringIO(demo_song_rows(1)))]
    study = build_study(locales=tuple(LOCALES), phase="draft", audio=ShortClips(song_ids), **params)
    keep = study.songs.order_by("external_id").values_list("pk", flat=True)[:songs]
    study.songs.exclude(pk__in=list(keep)).delete()
    study.locales.update(
        completion_url=f"{PANEL}/complete?code={{code}}",
        completion_code="DONE-123",
        screenout_url=f"{PANEL}/screenout?code={{code}}",
        screenout_code="OUT-9",
    )
    return study_set_phase(study=study, phase=phase)


def open_entry_link(page: Page, live_server, study: Study, locale: str, pid: str) -> Participant:
    page.route(f"{PANEL}/**", lambda route: route.fulfill(body="<h1>panel</h1>"))
    page.goto(f"{live_server.url}/study/{study.slug}/{locale}/?PROLIFIC_PID={pid}&STUDY_ID=s")
    expect(page).to_have_url(re.compile(rf"/study/{study.slug}/{locale}/session/$"))
    return Participant.objects.get(recruiter_identity__recruiter_participant_id=pid)


def step(page: Page, name: str):
    section = page.locator(f'[data-step="{name}"]')
    expect(section).to_be_visible()
    # Laid out for a 360-pixel phone: nothing sticks out sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    return section


def check_direction(page: Page, locale: str) -> None:
    expected = "rtl" if locale == "ar-EG" else "ltr"
    direction = page.evaluate("getComputedStyle(document.documentElement).direction")
    assert direction == expected
    assert page.evaluate("document.documentElement.lang") == locale


# The fonts that must draw each locale's script (Debian's fonts-noto-core and -cjk); text a
# system falls back on with no such font shows as empty boxes ("tofu").
SCRIPT_FONTS = {"ko-KR": "Noto Sans CJK", "ar-EG": "Noto"}


def check_script_font(page: Page, locale: str, selector: str) -> None:
    """Chromium reports which platform fonts drew a node's glyphs: the script's own font."""
    if locale not in SCRIPT_FONTS:
        return
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    drawn = {font["familyName"]: font["glyphCount"] for font in fonts}
    assert drawn, f"no font drew {selector}"
    assert all(name.startswith(SCRIPT_FONTS[locale]) for name in drawn), drawn


def pass_consent_and_prescreens(page: Page, participant: Participant, locale: str, shot) -> None:
    consent = step(page, "consent")
    check_direction(page, locale)
    check_script_font(page, locale, "#consent-title")
    shot(page, f"{locale}-consent")
    consent.locator("[data-consent=agree]").click()

    volume = step(page, "volume_calibration")
    shot(page, f"{locale}-volume")
    volume.locator("[data-play]").click()
    volume.locator("[data-volume-level]").fill("0.6")
    volume.locator("[data-volume-done]").click()

    answer_headphone_check(page, headphone_positions(participant), locale, shot)

    vocabulary = step(page, "vocabulary_check")
    shot(page, f"{locale}-vocabulary")
    for item in vocabulary_items_for(participant):
        choice = "yes" if item.real else "no"
        vocabulary.locator(f'fieldset[data-id="{item.id}"] input[value="{choice}"]').check()
    vocabulary.locator("[type=submit]").click()


def answer_headphone_check(page: Page, answers: list[int], locale: str, shot) -> None:
    headphones = step(page, "headphone_check")
    shot(page, f"{locale}-headphones")
    for answer in answers:
        headphones.locator("[data-play]").click()
        headphones.locator(f'[data-headphones-choices] button[value="{answer}"]').click()


def play_clip(section) -> None:
    section.locator("[data-play]").click()
    expect(section.locator("[data-player-status]")).not_to_be_empty(timeout=10_000)


def fill_questionnaire(page: Page, locale: str, shot) -> None:
    form = step(page, "questionnaire")
    shot(page, f"{locale}-questionnaire")
    form.locator("[name=age]").fill("34")
    form.locator("[name=gender]").select_option("female")
    form.locator("[name=country]").select_option(COUNTRIES[locale])
    form.locator("[name=native_language]").fill(locale.split("-")[0])
    form.locator("[name=musical_training]").select_option("1_3")
    form.locator("[type=submit]").click()


def trial_title(page: Page, locale: str, number: int, total: int) -> str:
    """The title the page should show, from the catalogue and the locale's digits."""
    digits = page.evaluate(f"[{number}, {total}].map(new Intl.NumberFormat('{locale}').format)")
    with translation.override(locale.split("-")[0]):
        return gettext("Song {number} of {total}").format(number=digits[0], total=digits[1])


def assert_scale_mirrors(page: Page, locale: str) -> None:
    first = page.locator(".term").first
    one = first.locator('input[value="1"]').bounding_box()
    five = first.locator('input[value="5"]').bounding_box()
    assert (one["x"] > five["x"]) == (locale == "ar-EG")


@pytest.mark.parametrize("locale", LOCALES)
def test_a_rating_session_from_entry_link_to_completion_redirect(
    page, live_server, screenshot, locale
):
    study = small_study(
        "rating", trials_per_participant=2, repeat_trials=1, terms_per_participant=2
    )
    participant = open_entry_link(page, live_server, study, locale, f"pid-rating-{locale}")
    pass_consent_and_prescreens(page, participant, locale, screenshot)

    instructions = step(page, "instructions_rating")
    expect(instructions.locator("[data-instructions-terms] li")).to_have_count(2)
    expect(instructions.locator("[data-instructions-scale] li")).to_have_count(5)
    screenshot(page, f"{locale}-rating-instructions")
    instructions.locator("[data-start]").click()

    for number in (1, 2, 3):
        trial = step(page, "rating")
        submit = trial.locator("[type=submit]")
        title = trial.locator("[data-trial-title]")
        expect(title).to_have_text(trial_title(page, locale, number, 3))
        trial_id = Trial.objects.get(participant=participant, status=Trial.Status.HELD).pk
        if number == 2:
            # A reload mid-trial comes back to the very same trial.
            page.reload()
            trial = step(page, "rating")
            assert (
                Trial.objects.get(participant=participant, status=Trial.Status.HELD).pk == trial_id
            )
            expect(trial.locator("[data-trial-title]")).to_have_text(
                trial_title(page, locale, number, 3)
            )
        play_clip(trial)
        # Keyboard only: a digit answers the focused term, Tab moves to the next one.
        trial.locator(".term").first.locator("input").first.focus()
        page.keyboard.press("4")
        page.keyboard.press("Tab")
        page.keyboard.press("2")
        expect(submit).to_be_enabled()
        if number == 1:
            assert_scale_mirrors(page, locale)
            screenshot(page, f"{locale}-rating-trial")
        submit.click()

    fill_questionnaire(page, locale, screenshot)
    complete = step(page, "complete")
    expect(complete.locator("[data-exit-code]")).to_have_text("DONE-123")
    screenshot(page, f"{locale}-complete")
    page.wait_for_url(f"{PANEL}/complete?code=DONE-123")

    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED
    assert Trial.objects.filter(participant=participant, status=Trial.Status.SUBMITTED).count() == 3
    # The page timed each trial itself: shown to submit, within the server's elapsed time.
    for trial in Trial.objects.filter(participant=participant, status=Trial.Status.SUBMITTED):
        elapsed = (trial.submitted_at - trial.assigned_at).total_seconds()
        assert 0 < trial.response_seconds < elapsed
    assert sorted(
        Rating.objects.filter(trial__participant=participant).values_list("value", flat=True)
    ) == [2, 2, 2, 4, 4, 4]
    assert (
        QuestionnaireResponse.objects.get(participant=participant).answers["country"]
        == COUNTRIES[locale]
    )


def seed_earlier_listener(study: Study, locale: str, tag: str, *, songs: int) -> None:
    """Someone who tagged some songs before: on those the participant has a tag to rate."""
    earlier = ready_for_trials(
        ParticipantFactory(
            locale=study.locales.get(code=locale), phase=Participant.Phase.ELICITATION
        )
    )
    for _song in range(songs):
        turn = turn_claim(participant=earlier)
        turn_submit(
            participant=earlier,
            turn_id=turn.pk,
            submission=TurnSubmission(ratings={}, new_tags=[tag], audio_played_seconds=2.0),
        )


def add_tag(turn, text: str) -> None:
    field = turn.locator("[data-new-tag]")
    field.fill(text)
    field.press("Enter")


def minutes(page: Page, locale: str, count: int) -> str:
    """A number of minutes as the page writes it in the locale."""
    return page.evaluate(
        "([locale, count]) => new Intl.NumberFormat(locale, "
        "{style: 'unit', unit: 'minute', unitDisplay: 'long'}).format(count)",
        [locale, count],
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_an_elicitation_session_rates_earlier_tags_and_adds_new_ones(
    page, live_server, screenshot, locale
):
    # A turn is budgeted 3 s per tag to rate and 20 s for each of three new tags.
    study = small_study("elicitation", songs=3, turns_per_participant=3, seconds_per_new_tag=20)
    earlier_tag, prefix, own_tag = TAGS[locale]
    seed_earlier_listener(study, locale, earlier_tag, songs=2)
    participant = open_entry_link(page, live_server, study, locale, f"pid-elicit-{locale}")
    pass_consent_and_prescreens(page, participant, locale, screenshot)

    instructions = step(page, "instructions_elicitation")
    screenshot(page, f"{locale}-elicitation-instructions")
    instructions.locator("[data-start]").click()

    # The least-advanced chain comes first: nobody has described its song yet.
    turn = step(page, "elicitation")
    submit = turn.locator("[type=submit]")
    expect(turn.locator("[data-first-listener]")).to_be_visible()
    # Three turns of 60 s left, as the turn API estimates them.
    expect(page.locator("[data-progress-time]")).to_contain_text(minutes(page, locale, 3))
    expect(turn.locator(".tag-rating")).to_have_count(0)
    play_clip(turn)
    expect(submit).to_be_disabled()  # something to say about the song is required
    add_tag(turn, earlier_tag)
    screenshot(page, f"{locale}-elicitation-first-listener")
    submit.click()

    for number, stars in enumerate(["4", "flag"], start=2):
        expect(turn.locator("[data-trial-title]")).to_have_text(
            trial_title(page, locale, number, 3)
        )
        expect(turn.locator(".tag-rating legend")).to_contain_text(earlier_tag)
        # One tag to rate: 63 s a turn, for the turns left.
        left = minutes(page, locale, math.ceil(63 * (4 - number) / 60))
        expect(page.locator("[data-progress-time]")).to_contain_text(left)
        expect(submit).to_be_disabled()
        play_clip(turn)
        turn.locator(f'.tag-rating input[value="{stars}"]').check(force=True)
        if number == 2:
            turn.locator("[data-new-tag]").fill(prefix)
            expect(turn.locator(f'#tag-suggestions option[value="{earlier_tag}"]')).to_have_count(1)
            add_tag(turn, own_tag)
            expect(turn.locator("[data-new-tags] li")).to_have_count(1)
            screenshot(page, f"{locale}-elicitation-turn")
        expect(submit).to_be_enabled()
        submit.click()

    fill_questionnaire(page, locale, screenshot)
    complete = step(page, "complete")
    check_direction(page, locale)
    complete.locator("[data-exit-link]").click()
    page.wait_for_url(f"{PANEL}/complete?code=DONE-123")

    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED
    ratings = TagRating.objects.filter(turn__participant=participant).order_by("turn__submitted_at")
    assert [(rating.value, rating.flagged) for rating in ratings] == [(4, False), (None, True)]
    added = TagAddition.objects.filter(turn__participant=participant).order_by("turn__submitted_at")
    assert [addition.text for addition in added] == [earlier_tag, own_tag]


@pytest.mark.parametrize("locale", ["en-US", "ar-EG"])
def test_failing_the_headphone_check_ends_with_the_screen_out_redirect(
    page, live_server, screenshot, locale
):
    study = small_study("rating", trials_per_participant=2, terms_per_participant=2)
    participant = open_entry_link(page, live_server, study, locale, f"pid-deaf-{locale}")
    step(page, "consent").locator("[data-consent=agree]").click()
    volume = step(page, "volume_calibration")
    volume.locator("[data-play]").click()
    volume.locator("[data-volume-done]").click()
    wrong = [position % 3 + 1 for position in headphone_positions(participant)]
    answer_headphone_check(page, wrong, locale, lambda *args: None)

    ended = step(page, "ended")
    expect(ended.locator('[data-kind="screened_out"]')).to_be_visible()
    expect(ended.locator("[data-exit-code]")).to_have_text("OUT-9")
    check_direction(page, locale)
    screenshot(page, f"{locale}-screened-out")
    page.wait_for_url(f"{PANEL}/screenout?code=OUT-9")
    participant.refresh_from_db()
    assert participant.status == Participant.Status.SCREENED_OUT


def test_a_failed_clip_and_a_lost_answer_are_retried_without_doubling(
    page, page_errors, live_server, screenshot
):
    study = small_study(
        "rating",
        trials_per_participant=1,
        repeat_trials=0,
        terms_per_participant=2,
        ask_consent=False,
        volume_calibration=False,
        headphone_check=False,
        vocabulary_check=False,
        questionnaire=False,
    )
    audio_down = True
    page.route(
        "**/audio/**",
        lambda route: route.abort() if audio_down else route.continue_(),
    )
    submissions: list[str | None] = []

    def lose_the_first_answer(route) -> None:
        # The server stores the answer, but the browser never hears back.
        submissions.append(route.request.post_data)
        if len(submissions) == 1:
            route.fetch()
            route.abort()
        else:
            route.continue_()

    page.route("**/api/v1/rating/trials/*/submit/", lose_the_first_answer)
    participant = open_entry_link(page, live_server, study, "en-US", "pid-flaky")

    step(page, "instructions_rating").locator("[data-start]").click()
    trial = step(page, "rating")
    expect(trial.locator("[data-retry]")).to_be_visible()
    expect(trial.locator("[data-player-status]")).to_have_text(
        "The sound could not be loaded. Check your connection and try again."
    )
    expect(trial.locator("[data-play]")).to_be_disabled()
    screenshot(page, "en-US-audio-failed")
    audio_down = False
    trial.locator("[data-retry]").click()
    play_clip(trial)
    for term in trial.locator(".term").all():
        term.locator('input[value="3"]').check()
    trial.locator("[type=submit]").click()

    step(page, "complete")
    page.wait_for_url(f"{PANEL}/complete?code=DONE-123")
    assert len(submissions) == 2 and submissions[0] == submissions[1]
    assert Rating.objects.filter(trial__participant=participant).count() == 2
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED
    assert all("Failed to load resource" in error for error in page_errors)
    page_errors.clear()


def test_declining_consent_ends_politely_with_the_panels_return_link(page, live_server, screenshot):
    study = small_study("rating", trials_per_participant=1, repeat_trials=0)
    participant = open_entry_link(page, live_server, study, "ko-KR", "pid-no")
    step(page, "consent").locator("[data-consent=decline]").click()

    ended = step(page, "ended")
    expect(ended.locator('[data-kind="declined"]')).to_be_visible()
    expect(ended.locator('[data-kind="screened_out"]')).to_be_hidden()
    screenshot(page, "ko-KR-declined")
    ended.locator("[data-exit-link]").click()
    page.wait_for_url(f"{PANEL}/screenout?code=OUT-9")
    participant.refresh_from_db()
    assert participant.status == Participant.Status.DECLINED
