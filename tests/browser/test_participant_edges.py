"""The edges of a participant's session in a real browser: a full study, coming back after
completing, a clip that never loads, a reload mid-trial, a form's error on a phone."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from moodlab.studies.demo import demo_song_rows
from moodlab.studies.models import Participant, Study, Term
from moodlab.studies.services.participants import participant_enter, participant_finish
from moodlab.studies.services.studies import study_set_phase
from rating.models import Trial
from rating.services import session_terms, trial_serve, trial_submit
from tests.browser.conftest import SCREENSHOTS, ShortClips
from tests.browser.test_participant_sessions import PANEL, play_clip, step
from tests.conftest import build_study
from tests.factories import ready_for_trials

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1366, "height": 800}
NO_STEPS = {
    "ask_consent": False,
    "volume_calibration": False,
    "headphone_check": False,
    "vocabulary_check": False,
    "questionnaire": False,
}


def tiny_study(*, songs: int = 1, terms: int = 2, **params) -> Study:
    """`songs` one-second clips, `terms` rating terms per locale, ready for rating."""
    song_ids = [row["videoID"] for row in csv.DictReader(io.StringIO(demo_song_rows(1)))]
    defaults = {"terms_per_locale": terms, "terms_per_participant": terms, "repeat_trials": 0}
    study = build_study(
        locales=("en-US", "ar-EG"),
        phase="draft",
        audio=ShortClips(song_ids),
        **{**NO_STEPS, **defaults, **params},
    )
    keep = study.songs.order_by("external_id").values_list("pk", flat=True)[:songs]
    study.songs.exclude(pk__in=list(keep)).delete()
    for locale in study.locales.all():
        selected = locale.terms.filter(is_selected=True).order_by("pk")
        chosen = list(selected.values_list("pk", flat=True)[:terms])
        Term.objects.filter(locale=locale).exclude(pk__in=chosen).update(is_selected=False)
    study.locales.update(
        completion_url=f"{PANEL}/complete?code={{code}}",
        completion_code="DONE-123",
        screenout_url=f"{PANEL}/screenout?code={{code}}",
        screenout_code="OUT-9",
        no_places_url=f"{PANEL}/noplaces?code={{code}}",
        no_places_code="FULL-7",
    )
    return study_set_phase(study=study, phase=Study.Phase.RATING)


def go(page: Page, live_server, study: Study, locale: str, query: str = "") -> None:
    page.route(f"{PANEL}/**", lambda route: route.fulfill(body="<h1>panel</h1>"))
    page.goto(f"{live_server.url}/study/{study.slug}/{locale}/{query}")


def rate_everything(study: Study, locale: str, pid: str) -> Participant:
    """A participant who rated their trials through the services, as another browser would."""
    participant, _ = participant_enter(
        study=study, locale=study.locales.get(code=locale), recruiter_participant_id=pid
    )
    ready_for_trials(participant)
    while (trial := trial_serve(participant=participant)) is not None:
        trial_submit(
            participant=participant,
            trial_id=trial.pk,
            ratings={term.pk: 3 for term in session_terms(participant=participant)},
            audio_played_seconds=5.0,
        )
    return participant


def check_direction(page: Page, locale: str) -> None:
    """The entry link's own pages are in the link's language: lang "ar" is right to left."""
    expected = "rtl" if locale.startswith("ar") else "ltr"
    assert page.evaluate("getComputedStyle(document.documentElement).direction") == expected
    assert page.evaluate("document.documentElement.lang").split("-")[0] == locale.split("-")[0]


def shoot(page: Page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)


@pytest.mark.parametrize("locale", ["en-US", "ar-EG"])
def test_a_study_at_its_target_is_full_for_the_next_participant(
    browser: Browser, page, live_server, locale
):
    study = tiny_study(trials_per_participant=1, target_ratings_per_cell=1)
    rate_everything(study, locale, "first-and-last")

    go(page, live_server, study, locale, "?PROLIFIC_PID=one-too-many")

    check_direction(page, locale)
    card = page.locator("[data-exit-page]")
    expect(card.locator("h1")).to_have_text(
        "This study is full" if locale == "en-US" else "اكتمل عدد المشاركين في هذه الدراسة"
    )
    expect(card.locator("[data-exit-code]")).to_have_text("FULL-7")
    countdown = "5 s" if locale == "en-US" else "٥ ث"
    expect(card.locator("[data-exit-countdown]")).to_contain_text(countdown)
    shoot(page, f"{locale}-full-360")
    page.set_viewport_size(DESKTOP)
    shoot(page, f"{locale}-full-1366")
    page.wait_for_url(f"{PANEL}/noplaces?code=FULL-7")
    assert not Participant.objects.filter(
        recruiter_identity__recruiter_participant_id="one-too-many"
    ).exists()
    locale_row = study.locales.get(code=locale)
    assert locale_row.recruitment_closed_at is not None
    assert "target" in locale_row.recruitment_closed_reason


@pytest.mark.parametrize("locale", ["en-US", "ar-EG"])
def test_coming_back_after_completing_shows_the_completion_code_again(
    browser: Browser, page, live_server, locale
):
    study = tiny_study(songs=2, trials_per_participant=1)
    go(page, live_server, study, locale, "?PROLIFIC_PID=returner")
    expect(page).to_have_url(re.compile(r"/session/$"))
    step(page, "instructions_rating")
    participant = Participant.objects.get()
    participant_finish(participant=participant, status=Participant.Status.COMPLETED)

    # The same browser, by the link without the panel's id: the completion page, no new session.
    go(page, live_server, study, locale)
    complete = step(page, "complete")
    expect(complete.locator("[data-exit-code]")).to_have_text("DONE-123")
    page.wait_for_url(f"{PANEL}/complete?code=DONE-123")

    # Another browser, by the panel's link: the same code and return link.
    context = browser.new_context(viewport=PHONE)
    other = context.new_page()
    go(other, live_server, study, locale, "?PROLIFIC_PID=returner")
    card = other.locator("[data-exit-page]")
    expect(card.locator("[data-exit-code]")).to_have_text("DONE-123")
    expect(card.locator("[data-exit-link]")).to_have_attribute(
        "href", f"{PANEL}/complete?code=DONE-123"
    )
    check_direction(other, locale)
    shoot(other, f"{locale}-completed-again-360")
    other.set_viewport_size(DESKTOP)
    shoot(other, f"{locale}-completed-again-1366")
    other.wait_for_url(f"{PANEL}/complete?code=DONE-123")
    context.close()
    assert Participant.objects.count() == 1


def test_a_clip_that_answers_404_twice_is_skipped_and_the_session_goes_on(
    page, page_errors, live_server
):
    study = tiny_study(songs=2, trials_per_participant=1)
    broken = True
    page.route(
        "**/audio/**",  # the signed song links
        lambda route: route.fulfill(status=404, body="") if broken else route.continue_(),
    )
    go(page, live_server, study, "en-US", "?PROLIFIC_PID=unlucky")
    participant = Participant.objects.get()
    step(page, "instructions_rating").locator("[data-start]").click()
    trial = step(page, "rating")
    expect(trial.locator("[data-retry]")).to_be_visible()
    expect(trial.locator("[data-skip]")).to_be_hidden()  # one failure may be the network
    trial.locator("[data-retry]").click()
    skip = trial.locator("[data-skip]")
    expect(skip).to_be_visible()
    expect(trial.locator("[data-player-status]")).to_contain_text("You can skip it")
    shoot(page, "en-US-audio-skip-360")
    first_song = Trial.objects.get(participant=participant).song_id
    broken = False
    skip.click()

    expect(trial.locator("[data-player-status]")).to_be_empty()
    play_clip(trial)
    for term in trial.locator(".term").all():
        term.locator('input[value="3"]').check()
    trial.locator("[type=submit]").click()
    step(page, "complete")

    failed, rated = Trial.objects.filter(participant=participant).order_by("position")
    assert (failed.song_id, failed.status) == (first_song, Trial.Status.NO_AUDIO)
    assert rated.status == Trial.Status.SUBMITTED and rated.song_id != first_song
    assert all("404" in error or "Failed to load" in error for error in page_errors)
    page_errors.clear()


@pytest.mark.parametrize("locale", ["en-US", "ar-EG"])
def test_a_reload_mid_trial_keeps_the_answers_and_the_listening(page, live_server, locale):
    study = tiny_study(terms=3, trials_per_participant=1)
    go(page, live_server, study, locale, "?PROLIFIC_PID=reloader")
    step(page, "instructions_rating").locator("[data-start]").click()
    trial = step(page, "rating")
    play_clip(trial)
    terms = trial.locator(".term")
    terms.nth(0).locator('input[value="4"]').check()
    terms.nth(1).locator('input[value="2"]').check()

    page.reload()

    trial = step(page, "rating")
    terms = trial.locator(".term")
    expect(terms.nth(0).locator('input[value="4"]')).to_be_checked()
    expect(terms.nth(1).locator('input[value="2"]')).to_be_checked()
    terms.nth(2).locator('input[value="5"]').check()
    # The clip was heard before the reload: the answer goes without playing it again.
    expect(trial.locator("[type=submit]")).to_be_enabled()
    shoot(page, f"{locale}-reloaded-trial-360")
    trial.locator("[type=submit]").click()
    step(page, "complete")
    values = sorted(
        Trial.objects.get(
            participant__recruiter_identity__recruiter_participant_id="reloader"
        ).ratings.values_list("value", flat=True)
    )
    assert values == [2, 4, 5]


@pytest.mark.parametrize("locale", ["en-US", "ar-EG"])
def test_the_vocabulary_error_shows_where_a_phone_user_looks(page, live_server, locale):
    study = tiny_study(trials_per_participant=1, vocabulary_check=True)
    page.set_viewport_size(PHONE)
    go(page, live_server, study, locale, "?PROLIFIC_PID=hasty")
    vocabulary = step(page, "vocabulary_check")
    words = vocabulary.locator("fieldset.word")
    words.nth(0).locator('input[value="yes"]').check()
    vocabulary.locator("[type=submit]").click()

    second = words.nth(1)
    message = second.locator(".field-error")
    expect(message).to_be_visible()
    expect(message).to_be_in_viewport()
    expect(second.locator("input").first).to_be_focused()
    expect(words.nth(0).locator(".field-error")).to_have_count(0)
    expect(second).to_have_attribute("aria-invalid", "true")
    shoot(page, f"{locale}-vocabulary-error-360x740", full_page=False)
    page.set_viewport_size(DESKTOP)
    message.scroll_into_view_if_needed()
    shoot(page, f"{locale}-vocabulary-error-1366", full_page=False)

    # Answering a word takes its message away.
    second.locator('input[value="no"]').check()
    expect(second.locator(".field-error")).to_have_count(0)


def test_a_newcomer_waits_while_every_song_is_held_and_goes_on_once_one_is_free(page, live_server):
    study = tiny_study(trials_per_participant=1, target_ratings_per_cell=1)
    holder, _ = participant_enter(
        study=study, locale=study.locales.get(code="en-US"), recruiter_participant_id="holder"
    )
    ready_for_trials(holder)
    held = trial_serve(participant=holder)

    go(page, live_server, study, "en-US", "?PROLIFIC_PID=patient")
    waiting = step(page, "waiting")
    expect(waiting.locator("[data-waiting-status]")).to_contain_text("Checking again in")
    shoot(page, "en-US-waiting-360")
    newcomer = Participant.objects.get(recruiter_identity__recruiter_participant_id="patient")
    assert newcomer.status == Participant.Status.STARTED

    # The holder leaves: their trial goes back, and the waiting page takes it by itself.
    participant_finish(participant=holder, status=Participant.Status.TIMED_OUT)
    from rating.services import trials_release_abandoned

    assert trials_release_abandoned() == 1
    instructions = page.locator('[data-step="instructions_rating"]')
    expect(instructions).to_be_visible(timeout=25_000)  # the page asks again within 10 s
    instructions.locator("[data-start]").click()
    trial = step(page, "rating")
    assert Trial.objects.get(participant=newcomer).song_id == held.song_id
    expect(trial.locator("[data-trial-title]")).to_have_text("Song 1 of 1")


def test_the_headphone_answers_open_only_once_the_three_sounds_have_played(page, live_server):
    study = tiny_study(trials_per_participant=1, headphone_check=True)
    go(page, live_server, study, "ar-EG", "?PROLIFIC_PID=eager")
    check = step(page, "headphone_check")
    expect(check.locator("[data-headphones-count]")).to_have_text("المحاولة ١ من ٦")
    choices = check.locator("[data-headphones-choices] button")
    check.locator("[data-play]").click()
    expect(check.locator("[data-play]")).to_be_disabled()  # playing
    for index in range(3):
        expect(choices.nth(index)).to_be_disabled()
    expect(check.locator("[data-play]")).to_be_enabled(timeout=15_000)  # played to the end
    for index in range(3):
        expect(choices.nth(index)).to_be_enabled()
