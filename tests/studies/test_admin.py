import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from moodlab.studies.models import Participant, RecruiterIdentity, Song, Study
from moodlab.studies.services.participants import participant_enter
from tests.conftest import GLOBALMOOD, build_study
from tests.factories import SongFactory, StudyFactory, StudyLocaleFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_for(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def superuser():
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def staff_researcher():
    user = UserFactory(username="staff")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="studies").exclude(
            codename="view_recruiter_id"
        )
    )
    return user


def test_a_researcher_creates_a_study_and_becomes_one_of_its_researchers(
    admin_client_for, staff_researcher
):
    client = admin_client_for(staff_researcher)
    response = client.post(
        reverse("admin:studies_study_add"),
        {
            "title": "Lullabies",
            "slug": "lullabies",
            "licence": "CC-BY-4.0",
            "chains_per_song": 1,
            "max_turns_per_chain": 5,
            "turns_per_participant": 15,
            "freeze_min_ratings": 3,
            "freeze_min_mean": 3.0,
            "hide_flag_count": 2,
            "complete_frozen_tags": 2,
            "turn_timeout_seconds": 300,
            "seconds_per_tag_rated": 3,
            "seconds_per_new_tag": 6,
            "max_tag_length": 40,
            "max_tag_words": 3,
            "terms_per_locale": 20,
            "terms_per_participant": 7,
            "trials_per_participant": 65,
            "repeat_trials": 1,
            "target_ratings_per_cell": 8,
            "seconds_per_term": 3,
            "adaptive_min_ratings": 4,
            "adaptive_max_standard_error": 0.35,
            "allocation": "balanced",
            "max_excluded_share": 0.5,
            "audio_target_lufs": -16.0,
            "first_response_timeout_minutes": 3,
            "inactivity_timeout_minutes": 15,
            "session_timeout_minutes": 120,
            "headphone_trials": 6,
            "headphone_pass_count": 4,
            "vocabulary_pass_ratio": 0.5,
            "require_recruiter_id": "on",
            "ask_consent": "on",
            "locales-TOTAL_FORMS": 1,
            "locales-INITIAL_FORMS": 0,
            "locales-0-code": "de-DE",
            "locales-0-name": "Deutsch",
            "locales-0-direction": "ltr",
            "locales-0-is_active": "on",
            "locales-0-recruiter_id_param": "RID",
            "locales-0-vocabulary_items": "[]",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    study = Study.objects.get(slug="lullabies")
    assert list(study.researchers.all()) == [staff_researcher]
    assert study.locales.get().language == "de"
    assert (study.trials_per_participant, study.terms_per_participant) == (65, 7)


def test_the_reference_locales_action_adds_five_locales_once(admin_client_for, superuser):
    study = StudyFactory()
    client = admin_client_for(superuser)
    for _ in range(2):
        client.post(
            reverse("admin:studies_study_changelist"),
            {"action": "add_reference_locales", "_selected_action": [study.pk]},
        )
    assert sorted(study.locales.values_list("code", "direction")) == [
        ("ar-EG", "rtl"),
        ("en-US", "ltr"),
        ("es-MX", "ltr"),
        ("fr-FR", "ltr"),
        ("ko-KR", "ltr"),
    ]


def test_a_phase_move_shows_its_checklist_and_needs_a_confirmation(admin_client_for, superuser):
    study = build_study(locales=("en-US", "ar-EG"), phase="draft")
    study.locales.get(code="ar-EG").terms.filter(rank=1).update(label_en="")
    client = admin_client_for(superuser)
    url = reverse("admin:studies_study_phase", args=[study.pk, "rating"])
    page = client.get(url).content.decode()
    assert "No completion link for ar-EG, en-US" in page
    assert "English glosses, ar-EG" in page
    assert "selected terms are frozen" in page
    refused = client.post(url, {}).content.decode()
    assert "Tick the box to confirm" in refused
    study.refresh_from_db()
    assert study.phase == Study.Phase.DRAFT
    response = client.post(url, {"confirm": "on"}, follow=True)
    assert "is now in the Rating phase" in response.content.decode()
    study.refresh_from_db()
    assert study.phase == Study.Phase.RATING


def test_a_blocked_phase_move_offers_no_button(admin_client_for, superuser):
    study = build_study(phase="draft", with_audio=False)
    client = admin_client_for(superuser)
    url = reverse("admin:studies_study_phase", args=[study.pk, "rating"])
    page = client.get(url).content.decode()
    assert "59 songs of 59 without playable audio" in page
    assert "Fix what blocks the move first" in page
    client.post(url, {"confirm": "on"})
    study.refresh_from_db()
    assert study.phase == Study.Phase.DRAFT


def test_the_study_page_is_a_hub_with_a_phase_stepper_and_links(admin_client_for, superuser):
    study = build_study(phase="rating")
    page = (
        admin_client_for(superuser)
        .get(reverse("admin:studies_study_change", args=[study.pk]))
        .content.decode()
    )
    assert "Current phase" in page
    assert reverse("admin:studies_study_phase", args=[study.pk, "closed"]) in page
    assert "59 of 59 playable" in page
    assert reverse("admin:studies_study_dashboard", args=[study.pk]) in page
    assert reverse("admin:studies_term_import") in page
    assert reverse("admin:elicitation_curationterm_study", args=[study.pk]) in page


def test_the_dashboard_data_has_each_locales_figures(admin_client_for, superuser):
    study = build_study(locales=("en-US", "ko-KR"), phase="rating")
    client = admin_client_for(superuser)
    page = client.get(reverse("admin:studies_study_dashboard", args=[study.pk]))
    assert "dashboard.js" in page.content.decode()
    data = client.get(reverse("admin:studies_study_dashboard_data", args=[study.pk])).json()
    assert [locale["code"] for locale in data["locales"]] == ["en-US", "ko-KR"]
    korean = data["locales"][1]
    assert len(korean["coverage"]["terms"]) == 20 and len(korean["coverage"]["songs"]) == 59
    assert korean["ratings_per_cell"][0] == [0, 59 * 20]  # nothing rated yet
    assert data["target"] == study.target_ratings_per_cell


def test_platform_apps_are_for_superusers_only(admin_client_for, staff_researcher, superuser):
    index = admin_client_for(staff_researcher).get(reverse("admin:index")).content.decode()
    assert "Periodic tasks" not in index and "Access attempts" not in index
    index = admin_client_for(superuser).get(reverse("admin:index")).content.decode()
    assert "Periodic tasks" in index


def test_songs_are_imported_from_the_admin_and_listed_with_filters_and_search(
    admin_client_for, superuser
):
    study = StudyFactory()
    client = admin_client_for(superuser)
    upload = SimpleUploadedFile(
        "songs.csv", (GLOBALMOOD / "songmeta_GlobalMood.csv").read_bytes(), "text/csv"
    )
    response = client.post(
        reverse("admin:studies_song_import"), {"study": study.pk, "csv_file": upload}, follow=True
    )
    assert "1180 created" in response.content.decode()
    assert study.songs.count() == 1180

    listing = client.get(reverse("admin:studies_song_changelist"), {"country": "KR"})
    assert listing.context["cl"].result_count == 20
    searched = client.get(reverse("admin:studies_song_changelist"), {"q": "aCAREwXaU9M"})
    assert [song.external_id for song in searched.context["cl"].result_list] == ["aCAREwXaU9M"]


def test_a_bad_song_file_shows_each_problem_and_imports_nothing(admin_client_for, superuser):
    study = StudyFactory()
    client = admin_client_for(superuser)
    upload = SimpleUploadedFile(
        "songs.csv", b"videoID,iso2,song,artist\na1,ZZ,One,X\na1,FR,Two,Y\n", "text/csv"
    )
    response = client.post(
        reverse("admin:studies_song_import"), {"study": study.pk, "csv_file": upload}
    )
    page = response.content.decode()
    assert "Nothing imported: 2 problems found." in page
    assert "&#x27;ZZ&#x27; is not an ISO 3166 alpha-2 code" in page
    assert "duplicate of row 2" in page
    assert not Song.objects.exists()


def test_a_broken_zip_is_a_form_error_not_a_crash(admin_client_for, superuser):
    study = StudyFactory()
    response = admin_client_for(superuser).post(
        reverse("admin:studies_song_import"),
        {
            "study": study.pk,
            "csv_file": SimpleUploadedFile("s.csv", b"videoID,iso2,song\na1,FR,One\n"),
            "audio_zip": SimpleUploadedFile("audio.zip", b"not a zip"),
        },
    )
    assert response.status_code == 200
    assert "This is not a readable zip file." in response.content.decode()
    assert not Song.objects.exists()


def test_researchers_only_see_their_own_studies_data(admin_client_for, staff_researcher):
    mine, theirs = StudyFactory(title="Mine"), StudyFactory(title="Theirs")
    mine.researchers.add(staff_researcher)
    SongFactory(study=mine, title="My song")
    other_song = SongFactory(study=theirs, title="Their song")
    client = admin_client_for(staff_researcher)

    studies = client.get(reverse("admin:studies_study_changelist"))
    assert [study.title for study in studies.context["cl"].result_list] == ["Mine"]
    songs = client.get(reverse("admin:studies_song_changelist"))
    assert [song.title for song in songs.context["cl"].result_list] == ["My song"]
    assert client.get(reverse("admin:studies_song_change", args=[other_song.pk])).status_code == 302
    assert Song.objects.filter(pk=other_song.pk).exists()


def test_the_recruiter_id_is_shown_only_with_its_own_permission(admin_client_for, staff_researcher):
    locale = StudyLocaleFactory(study=StudyFactory(phase=Study.Phase.RATING))
    locale.study.researchers.add(staff_researcher)
    participant, _ = participant_enter(
        study=locale.study, locale=locale, recruiter_participant_id="PANEL-SECRET-123"
    )
    url = reverse("admin:studies_participant_change", args=[participant.pk])
    client = admin_client_for(staff_researcher)
    assert "PANEL-SECRET-123" not in client.get(url).content.decode()

    staff_researcher.user_permissions.add(Permission.objects.get(codename="view_recruiter_id"))
    client.force_login(staff_researcher)
    assert "PANEL-SECRET-123" in client.get(url).content.decode()
    assert RecruiterIdentity.objects.get().participant == Participant.objects.get()


def test_the_term_list_shows_each_terms_own_wording_beside_its_english_gloss(
    admin_client_for, superuser
):
    build_study(locales=("ar-EG",))
    page = admin_client_for(superuser).get(
        reverse("admin:studies_term_changelist"), {"locale__code": "ar-EG", "o": "1"}
    )
    html = page.content.decode()
    assert "الحزن" in html and "Sadness" in html
    assert "321.1" in html  # scores rounded for reading


def test_the_study_page_shows_each_active_locales_entry_link_ready_to_copy(
    admin_client_for, superuser, settings
):
    settings.ALLOWED_HOSTS = ["moodlab.example.org"]
    study = StudyFactory(slug="lullabies")
    StudyLocaleFactory(study=study, code="en-US")
    StudyLocaleFactory(study=study, code="ko-KR", recruiter_id_param="RID")
    StudyLocaleFactory(study=study, code="fr-FR", is_active=False)
    page = admin_client_for(superuser).get(
        reverse("admin:studies_study_change", args=[study.pk]), HTTP_HOST="moodlab.example.org"
    )
    html = page.content.decode()
    prolific_link = (
        "http://moodlab.example.org/study/lullabies/en-US/?PROLIFIC_PID={{%PROLIFIC_PID%}}"
        "&amp;STUDY_ID={{%STUDY_ID%}}&amp;SESSION_ID={{%SESSION_ID%}}"
    )
    lucid_link = "http://moodlab.example.org/study/lullabies/ko-KR/?RID=TEST-1"
    assert html.count(f'value="{prolific_link}"') == 2  # the study's list and the locale's row
    assert html.count(f'value="{lucid_link}"') == 2
    assert html.count("/study/lullabies/fr-FR/") == 1  # inactive: only on its own row


def test_the_song_list_counts_each_songs_audio_failures(admin_client_for, superuser):
    from rating.models import Trial
    from rating.services import trial_report_audio_failure, trial_serve
    from tests.factories import ParticipantFactory

    study = build_study(terms_per_locale=7, trials_per_participant=2, repeat_trials=0)
    participant = ParticipantFactory(locale=study.locales.get())
    broken = trial_serve(participant=participant)
    trial_report_audio_failure(participant=participant, trial_id=broken.pk)
    assert Trial.objects.get(pk=broken.pk).status == Trial.Status.NO_AUDIO

    page = admin_client_for(superuser).get(
        reverse("admin:studies_song_changelist") + f"?q={broken.song.external_id}"
    )

    html = page.content.decode()
    assert "Audio failures" in html
    assert '<td class="field-audio_failures">1</td>' in html


def test_the_study_page_shows_why_a_locales_recruitment_closed(admin_client_for, superuser):
    study = StudyFactory(slug="filled")
    locale = StudyLocaleFactory(study=study, code="en-US")
    from moodlab.studies.services.recruitment import (
        REASON_RATING_TARGET,
        locale_recruitment_set,
    )

    locale_recruitment_set(locale=locale, reason=REASON_RATING_TARGET)
    html = (
        admin_client_for(superuser)
        .get(reverse("admin:studies_study_change", args=[study.pk]))
        .content.decode()
    )
    assert REASON_RATING_TARGET in html
    assert 'name="locales-0-no_places_url"' in html


def test_terms_are_imported_from_the_admin_with_a_per_row_report(admin_client_for, superuser):
    study = build_study(locales=("ko-KR",), phase="draft")
    locale = study.locales.get()
    client = admin_client_for(superuser)
    url = reverse("admin:studies_term_import")
    bad = SimpleUploadedFile("terms.csv", "label,gloss\n슬픈,sad\n,calm\n".encode(), "text/csv")
    page = client.post(url, {"locale": locale.pk, "csv_file": bad}).content.decode()
    assert "Nothing imported: 1 problem found." in page and "is empty" in page
    good = SimpleUploadedFile("terms.csv", "label,gloss\n슬픈,sad\n".encode(), "text/csv")
    response = client.post(url, {"locale": locale.pk, "csv_file": good}, follow=True)
    assert "Terms imported into ko-KR: " in response.content.decode()
    assert locale.terms.get(label_ko="슬픈").label_en == "sad"


def test_the_admin_has_no_view_site_link_to_a_missing_page(admin_client_for, superuser):
    index = admin_client_for(superuser).get(reverse("admin:index")).content.decode()
    assert "View site" not in index
