"""The pre-flight checklist of phase moves, enforced by study_set_phase on every path."""

import io

import pytest
from django.core.management import CommandError, call_command

from moodlab.errors import Invalid
from moodlab.studies.models import Study
from moodlab.studies.preflight import phase_preflight
from moodlab.studies.selectors import songs_playable, songs_without_playable_audio
from moodlab.studies.services.studies import PhaseMoveRefused, study_set_phase
from tests.conftest import build_study
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PANEL = "https://panel.example/done?c={code}"


def with_panel_links(study: Study) -> Study:
    study.locales.update(completion_url=PANEL, screenout_url=PANEL)
    return study


def levels(preflight) -> dict[str, str]:
    return {check.title: check.level for check in preflight.checks}


def test_songs_without_playable_audio_block_the_rating_phase():
    study = with_panel_links(build_study(phase="draft", with_audio=False))
    with pytest.raises(PhaseMoveRefused) as refusal:
        study_set_phase(study=study, phase=Study.Phase.RATING, confirm=True)
    assert "59 songs of 59 without playable audio" in str(refusal.value)
    study.refresh_from_db()
    assert study.phase == Study.Phase.DRAFT
    assert study.locales.get().terms_frozen_at is None


def test_a_song_whose_file_is_gone_from_storage_is_not_playable():
    study = build_study(phase="draft")
    song = study.songs.order_by("external_id").first()
    song.audio.storage.delete(song.audio.name)
    assert songs_playable(study=study).filter(pk=song.pk).exists()  # the database still says so
    assert songs_without_playable_audio(study=study) == [song]
    blocker = phase_preflight(study=study, phase=Study.Phase.RATING).blockers[0]
    assert song.external_id in blocker.detail


def test_a_song_with_no_known_duration_is_not_playable():
    study = build_study(phase="draft")
    study.songs.filter(pk=study.songs.first().pk).update(duration_seconds=0)
    assert len(songs_without_playable_audio(study=study)) == 1


def test_warnings_need_an_explicit_confirmation():
    study = build_study(locales=("en-US", "ar-EG"), phase="draft")  # no panel links
    with pytest.raises(PhaseMoveRefused) as refusal:
        study_set_phase(study=study, phase=Study.Phase.RATING)
    assert refusal.value.unconfirmed
    assert "No completion link for ar-EG, en-US" in str(refusal.value)
    assert study_set_phase(study=study, phase=Study.Phase.RATING, confirm=True).phase == "rating"


def test_a_study_with_everything_in_place_moves_without_confirmation():
    study = with_panel_links(build_study(phase="draft"))
    preflight = phase_preflight(study=study, phase=Study.Phase.RATING)
    assert preflight.blockers == [] and preflight.warnings == []
    assert study_set_phase(study=study, phase=Study.Phase.RATING).phase == "rating"


def test_unglossed_terms_of_a_non_english_locale_are_named_before_they_freeze():
    study = with_panel_links(build_study(locales=("ar-EG",), phase="draft"))
    locale = study.locales.get()
    unglossed = locale.terms.filter(is_selected=True).order_by("rank")[:2]
    labels = [term.label_ar for term in unglossed]
    locale.terms.filter(pk__in=[t.pk for t in unglossed]).update(label_en="")
    preflight = phase_preflight(study=study, phase=Study.Phase.RATING)
    (warning,) = preflight.warnings
    assert warning.title == "English glosses, ar-EG"
    assert all(label in warning.detail for label in labels)
    assert any("frozen" in item for item in preflight.final)


def test_fewer_selected_terms_than_the_study_asks_is_a_warning_and_too_few_a_blocker():
    study = with_panel_links(build_study(phase="draft", terms_per_participant=7))
    locale = study.locales.get()
    locale.terms.filter(rank__gt=18).update(is_selected=False)
    assert levels(phase_preflight(study=study, phase="rating"))["Rating terms, en-US"] == "warning"
    locale.terms.filter(rank__gt=5).update(is_selected=False)
    assert levels(phase_preflight(study=study, phase="rating"))["Rating terms, en-US"] == "blocker"


def test_a_quality_rule_turned_off_is_a_warning():
    from analysis.models import QualityRuleSetting

    study = with_panel_links(build_study(phase="draft"))
    QualityRuleSetting.objects.create(study=study, rule="too_fast", enabled=False)
    (warning,) = phase_preflight(study=study, phase="rating").warnings
    assert "Answers faster than the terms can be read" in warning.detail


def test_closing_names_what_becomes_final_and_warns_of_running_sessions():
    from tests.factories import ParticipantFactory

    study = build_study(phase="rating")
    ParticipantFactory(study=study, locale=study.locales.get())
    preflight = phase_preflight(study=study, phase=Study.Phase.CLOSED)
    assert [check.detail for check in preflight.warnings] == [
        "1 session still running will be cut short."
    ]
    assert any("irreversible" in item for item in preflight.final)
    with pytest.raises(Invalid):
        study_set_phase(study=study, phase=Study.Phase.CLOSED)


def test_the_command_prints_the_checklist_and_needs_yes_for_warnings():
    study = build_study(phase="draft")
    out = io.StringIO()
    with pytest.raises(CommandError, match="--yes"):
        call_command("set_phase", study=study.slug, phase="rating", stdout=out)
    assert "[WARNING] Recruiter links" in out.getvalue()
    call_command("set_phase", study=study.slug, phase="rating", yes=True, stdout=out)
    study.refresh_from_db()
    assert study.phase == "rating"


def test_the_api_answers_the_checklist_and_moves_only_with_confirmation(api_client):
    study = build_study(phase="draft")
    user = UserFactory(is_superuser=True)
    api_client.force_authenticate(user)
    url = f"/api/v1/studies/{study.slug}/phase/"
    checklist = api_client.get(url, {"phase": "rating"})
    assert checklist.status_code == 200
    assert checklist.json()["blockers"] == []
    assert checklist.json()["warnings"]
    refused = api_client.post(url, {"phase": "rating"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["preflight"]["warnings"] == checklist.json()["warnings"]
    moved = api_client.post(url, {"phase": "rating", "confirm": True}, format="json")
    assert moved.status_code == 200
    study.refresh_from_db()
    assert study.phase == "rating"
