"""A researcher runs a whole study from the admin, in Chromium at 1366 × 900 (issue 17).

Create a study with two locales, upload songs (a CSV with one bad row, then CSV + zip),
run elicitation with simulated participants, curate (merge, rename, gloss, choose N), pass
the rating pre-flight, simulate raters, watch the dashboard, exclude a participant with a
reason, run the jobs, publish a snapshot, run and open the analysis report. Every screen is
saved under var/test-artifacts/screenshots/researcher-*.png, and none may scroll sideways
or show an empty content area.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from analysis.models import Snapshot
from moodlab.audio import song_clip_wav
from moodlab.studies.demo import demo_song_rows
from moodlab.studies.models import Participant, Study
from tests.browser.conftest import SCREENSHOTS
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "moods-two-locales"
PANEL = "https://panel.example"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def researcher_page(browser: Browser, page_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    # The admin names no icon; the browser's own request for one is not the page's error.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on(
        "console",
        lambda message: page_errors.append(message.text) if message.type == "error" else None,
    )
    yield page
    context.close()
    assert not page_errors, f"the admin pages reported errors: {page_errors}"


class Screens:
    """Saves each screen and checks it fits 1366 px: no sideways scroll, content visible."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.count = 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str, *, min_width: int = 600) -> None:
        self.count += 1
        self.page.wait_for_load_state("networkidle")
        layout = self.page.evaluate(
            """() => {
                const content = document.querySelector('#content') || document.body;
                const changelist = document.querySelector('#changelist');
                const results = document.querySelector('#changelist .results');
                return {
                    clipped: results ? results.scrollWidth > results.clientWidth + 1 : false,
                    scroll: document.documentElement.scrollWidth,
                    viewport: document.documentElement.clientWidth,
                    content: content.getBoundingClientRect().width,
                    changelist: changelist ? changelist.getBoundingClientRect().width : null,
                };
            }"""
        )
        self.page.screenshot(
            path=SCREENSHOTS / f"researcher-{self.count:02d}-{name}.png", full_page=True
        )
        assert layout["scroll"] <= layout["viewport"], f"{name} scrolls sideways: {layout}"
        assert layout["content"] > min_width, f"{name} has a squeezed content area: {layout}"
        assert layout["changelist"] is None or layout["changelist"] > 600, f"{name}: {layout}"
        assert not layout["clipped"], f"{name}: the list is wider than its column: {layout}"


def songs_csv(rows: str, *, bad_row: bool) -> bytes:
    """Four GlobalMood songs as `import_songs` reads them; optionally one row without title."""
    songs = list(csv.DictReader(io.StringIO(rows)))[:4]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["external_id", "title", "artist", "iso2"])
    writer.writeheader()
    for index, song in enumerate(songs):
        title = "" if bad_row and index == 2 else song["song"]
        writer.writerow(
            {
                "external_id": song["videoID"],
                "title": title,
                "artist": song.get("artist", ""),
                "iso2": song["iso2"],
            }
        )
    return out.getvalue().encode()


def audio_zip(rows: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for song in list(csv.DictReader(io.StringIO(rows)))[:4]:
            archive.writestr(f"{song['videoID']}.wav", song_clip_wav(song["videoID"], seconds=1.0))
    return buffer.getvalue()


def hub(page: Page, label: str) -> None:
    """Follow one of the study page's links to the rest of the study."""
    page.locator(".moodlab-links").get_by_role("link", name=label, exact=True).click()


def run_action(page: Page, action: str, *, row_text: str | None = None) -> None:
    """Tick a changelist row (the first, or the one showing row_text) and run an action."""
    rows = page.locator("#result_list tbody tr")
    row = rows.filter(has_text=row_text).first if row_text else rows.first
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def move_phase(page: Page, screens: Screens, study: Study, phase: str) -> None:
    page.goto_study()  # type: ignore[attr-defined]
    page.click(f"a[href$='/phase/{phase}/']")
    expect(page.locator("h2").first).to_have_text("Pre-flight checklist")
    screens.shot(f"preflight-{phase}")
    page.check("input[name=confirm]")
    page.click("input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("is now in the")


def test_a_researcher_runs_a_whole_study_from_the_admin(researcher_page: Page, live_server):
    page = researcher_page
    screens = Screens(page)
    UserFactory(username="lead", is_superuser=True)
    rows = demo_song_rows(1)

    # Sign in.
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "lead")
    page.fill("#id_password", PASSWORD)
    screens.shot("login", min_width=300)  # the login form is narrow by design
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()
    screens.shot("index")

    # Create the study with two locales and their panel links.
    page.goto(f"{live_server.url}/admin/studies/study/add/")
    page.fill("#id_title", "Moods in two locales")
    page.press("#id_title", "Tab")  # the admin fills the slug in from the title
    page.fill("#id_slug", SLUG)
    for name, value in {
        "max_turns_per_chain": "2",
        "turns_per_participant": "4",
        "terms_per_locale": "4",
        "terms_per_participant": "3",
        "trials_per_participant": "4",
        "target_ratings_per_cell": "2",
    }.items():
        page.fill(f"#id_{name}", value)
    page.uncheck("#id_headphone_check")
    for index, (code, name) in enumerate([("en-US", "English (US)"), ("ko-KR", "한국어")]):
        page.click(".add-row a")
        page.fill(f"#id_locales-{index}-code", code)
        page.fill(f"#id_locales-{index}-name", name)
        page.fill(f"#id_locales-{index}-completion_url", f"{PANEL}/done?c={{code}}")
        page.fill(f"#id_locales-{index}-completion_code", "DONE-1")
        page.fill(f"#id_locales-{index}-screenout_url", f"{PANEL}/out?c={{code}}")
        page.fill(f"#id_locales-{index}-screenout_code", "OUT-1")
    screens.shot("study-add")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    study = Study.objects.get(slug=SLUG)
    assert sorted(study.locales.values_list("code", flat=True)) == ["en-US", "ko-KR"]
    study_url = f"{live_server.url}/admin/studies/study/{study.pk}/change/"
    page.goto_study = lambda: page.goto(study_url)  # type: ignore[attr-defined]
    screens.shot("study-hub-draft")

    # Songs: a CSV with one bad row is refused with the row named; then CSV + zip.
    hub(page, "Import songs (CSV + zip)")
    page.set_input_files(
        "#id_csv_file",
        {"name": "songs.csv", "mimeType": "text/csv", "buffer": songs_csv(rows, bad_row=True)},
    )
    page.click("input[type=submit]")
    expect(page.locator(".errornote")).to_contain_text("Nothing imported: 1 problem found.")
    expect(page.locator("#content table")).to_contain_text("title")
    screens.shot("songs-import-bad-row")
    page.set_input_files(
        "#id_csv_file",
        {"name": "songs.csv", "mimeType": "text/csv", "buffer": songs_csv(rows, bad_row=False)},
    )
    page.set_input_files(
        "#id_audio_zip",
        {"name": "audio.zip", "mimeType": "application/zip", "buffer": audio_zip(rows)},
    )
    page.click("input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("Songs imported: 4 created")
    screens.shot("songs-list")

    # Elicitation, with simulated participants.
    move_phase(page, screens, study, "elicitation")
    call_command(
        "simulate_participants",
        study=SLUG,
        locale="all",
        count=3,
        phase="elicitation",
        base_url=live_server.url,
        stdout=io.StringIO(),
    )
    page.goto_study()  # type: ignore[attr-defined]
    hub(page, "Chains")
    screens.shot("chains")
    page.locator("#result_list tbody tr th a").first.click()
    expect(page.locator(".moodlab-timeline")).to_be_visible()
    screens.shot("chain-timeline")
    move_phase(page, screens, study, "curation")

    # Curation: recompute, merge, rename, gloss, choose N, per locale.
    page.goto_study()  # type: ignore[attr-defined]
    hub(page, "Curate terms")
    for code in ("en-US", "ko-KR"):
        page.goto(page.url.split("?")[0] + f"?locale={code}")
        page.click("button[value=recompute]")
        expect(page.locator(".messagelist")).to_contain_text("recomputed from the chains")
        boxes = page.locator("input[name=term]")
        count = boxes.count()
        assert count >= 5, f"{code}: too few elicited terms to curate"
        boxes.nth(count - 2).check()
        boxes.nth(count - 1).check()
        page.click("button[value=merge]")
        expect(page.locator(".messagelist")).to_contain_text("Merged")
        expect(page.locator(".messagelist")).to_contain_text("score")
        labels = page.locator("input[name^=label-]")
        labels.first.fill(f"{code} renamed")
        if code == "ko-KR":
            glosses = page.locator("input[name^=gloss-]")
            for index in range(glosses.count()):
                glosses.nth(index).fill(f"gloss {index}")
        page.click("button[value=save]")
        expect(page.locator(".messagelist")).to_contain_text("renamed or glossed")
        page.fill("input[name=count]", "4")
        page.click("button[value=select_top]")
        expect(page.locator(".messagelist")).to_contain_text("the top 4 terms by score selected")
        screens.shot(f"curation-{code}")

    # The rating pre-flight passes; raters are simulated.
    move_phase(page, screens, study, "rating")
    assert all(locale.terms_frozen_at for locale in study.locales.all())
    call_command(
        "simulate_participants",
        study=SLUG,
        locale="all",
        count=4,
        base_url=live_server.url,
        stdout=io.StringIO(),
    )
    page.goto_study()  # type: ignore[attr-defined]
    screens.shot("study-hub-rating")

    # The dashboard draws its charts from live data.
    hub(page, "Dashboard (live charts)")
    expect(page.locator("#moodlab-dashboard[data-loaded=true]")).to_be_attached()
    expect(page.locator(".moodlab-locale svg").first).to_be_visible()
    assert page.locator(".moodlab-locale").count() == 2
    expect(page.locator(".moodlab-locales")).to_contain_text("Completed")
    screens.shot("dashboard")

    # Exclude a participant, with a reason.
    page.goto_study()  # type: ignore[attr-defined]
    hub(page, "Rating participants (exclude with a reason)")
    screens.shot("rating-participants")
    run_action(page, "exclude_participants")
    page.fill("#id_reason", "Reported a broken headset afterwards")
    screens.shot("exclude-reason")
    page.click("input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("1 participant excluded")
    assert Participant.objects.filter(
        study=study, exclusion__override_reason="Reported a broken headset afterwards"
    ).exists()

    # Run the jobs: each message says it ran.
    page.goto_study()  # type: ignore[attr-defined]
    hub(page, "Run jobs")
    for action, label in [
        ("run_aggregate", "Aggregate ratings"),
        ("run_quality", "Check quality"),
        ("run_export", "Export snapshot"),
    ]:
        run_action(page, action, row_text=SLUG)
        expect(page.locator(".messagelist")).to_contain_text(f"{label} ran for")
    screens.shot("jobs")
    page.goto_study()  # type: ignore[attr-defined]
    hub(page, "Job runs")
    expect(page.locator("#result_list")).to_contain_text("succeeded")
    screens.shot("job-runs")

    # Publish the snapshot.
    page.goto_study()  # type: ignore[attr-defined]
    hub(page, "Snapshots")
    screens.shot("snapshots")
    run_action(page, "publish")
    expect(page.locator(".messagelist")).to_contain_text("published")
    assert Snapshot.objects.get(study=study).published
    page.locator("#result_list tbody tr th a").first.click()
    screens.shot("snapshot-detail")

    # Run the analysis and open its report.
    page.goto_study()  # type: ignore[attr-defined]
    hub(page, "Run the cross-cultural analysis")
    screens.shot("analysis-run")
    page.click("input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("The analysis of")
    page.goto_study()  # type: ignore[attr-defined]
    hub(page, "Analysis report")
    expect(page.locator("#content")).to_contain_text("Cross-cultural report")
    screens.shot("analysis-report")

    # Close the study: the checklist names what becomes final.
    page.goto_study()  # type: ignore[attr-defined]
    page.click("a[href$='/phase/closed/']")
    expect(page.locator(".moodlab-final")).to_contain_text("Closing is irreversible")
    screens.shot("preflight-closed")
