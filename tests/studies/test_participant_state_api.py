"""GET /api/v1/participants/me/ and POST me/consent/: where a participant stands, and consent."""

import pytest
from django.urls import reverse

from moodlab.studies.models import Participant
from moodlab.studies.services.participants import participant_finish
from tests.studies.conftest import client_for, enter

pytestmark = pytest.mark.django_db

ME = reverse("v1:participant-state")
CONSENT = reverse("v1:participant-consent")


def test_a_new_participant_sees_every_step_and_starts_with_consent(participant_client, participant):
    response = participant_client.get(ME)
    assert response.status_code == 200
    state = response.json()
    assert state == {
        "public_id": str(participant.public_id),
        "study": participant.study.slug,
        "locale": "en-US",
        "language": "en",
        "direction": "ltr",
        "phase": "rating",
        "status": "started",
        "steps": [
            "consent",
            "volume_calibration",
            "headphone_check",
            "vocabulary_check",
            "trials",
            "questionnaire",
        ],
        "next_step": "consent",
        "consent_text": "",
        "exit": None,
        "volume": None,
    }


def test_the_state_carries_the_locales_direction_and_consent_text(panel_study):
    panel_study.locales.filter(code="ar-EG").update(consent_text="أوافق على المشاركة")
    state = client_for(enter(panel_study, "ar-EG")).get(ME).json()
    assert (state["language"], state["direction"]) == ("ar", "rtl")
    assert state["consent_text"] == "أوافق على المشاركة"


def test_steps_the_study_turns_off_are_not_listed(panel_study, participant_client):
    panel_study.ask_consent = panel_study.headphone_check = panel_study.questionnaire = False
    panel_study.save()
    state = participant_client.get(ME).json()
    assert state["steps"] == ["volume_calibration", "vocabulary_check", "trials"]
    assert state["next_step"] == "volume_calibration"


def test_without_a_token_or_with_an_unknown_one_the_state_is_refused(api_client, participant):
    assert api_client.get(ME).status_code in (401, 403)
    api_client.credentials(HTTP_AUTHORIZATION="Participant not-a-token")
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401


def test_each_token_reads_only_its_own_session(panel_study, participant):
    other = enter(panel_study, "ar-EG")
    assert client_for(other).get(ME).json()["public_id"] == str(other.public_id)
    assert client_for(participant).get(ME).json()["public_id"] == str(participant.public_id)


def test_agreeing_records_consent_and_moves_on(participant_client, participant):
    response = participant_client.post(CONSENT, {"agree": True}, format="json")
    assert response.status_code == 200
    assert response.json()["next_step"] == "volume_calibration"
    participant.refresh_from_db()
    assert participant.consented_at is not None


def test_declining_ends_the_session_and_sends_the_participant_back_by_the_screenout_link(
    participant_client, participant
):
    state = participant_client.post(CONSENT, {"agree": False}, format="json").json()
    assert (state["status"], state["next_step"]) == ("declined", "ended")
    assert state["exit"] == {
        "kind": "declined",
        "code": "OUT 7",
        "redirect_url": "https://panel.example/out?cc=OUT%207",
    }
    participant.refresh_from_db()
    assert participant.status == Participant.Status.DECLINED and participant.finished_at


def test_an_identical_consent_retry_answers_the_same_and_a_different_one_is_a_conflict(
    participant_client, participant
):
    first = participant_client.post(CONSENT, {"agree": True}, format="json")
    consented_at = Participant.objects.get(pk=participant.pk).consented_at
    retry = participant_client.post(CONSENT, {"agree": True}, format="json")
    assert retry.status_code == 200 and retry.json() == first.json()
    assert Participant.objects.get(pk=participant.pk).consented_at == consented_at

    changed = participant_client.post(CONSENT, {"agree": False}, format="json")
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "conflict"
    assert Participant.objects.get(pk=participant.pk).status == Participant.Status.STARTED


def test_a_declined_session_cannot_consent_afterwards(participant_client):
    participant_client.post(CONSENT, {"agree": False}, format="json")
    assert participant_client.post(CONSENT, {"agree": False}, format="json").status_code == 200
    assert participant_client.post(CONSENT, {"agree": True}, format="json").status_code == 409


def test_consent_needs_a_boolean_answer(participant_client):
    response = participant_client.post(CONSENT, {"agree": "perhaps"}, format="json")
    assert response.status_code == 400
    assert "agree" in response.json()["error"]["fields"]
    assert participant_client.post(CONSENT, {}, format="json").status_code == 400


def test_a_study_without_consent_refuses_a_consent_answer(panel_study, participant_client):
    panel_study.ask_consent = False
    panel_study.save()
    response = participant_client.post(CONSENT, {"agree": True}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "step_disabled"


def test_an_ended_session_cannot_consent(participant_client, participant):
    participant_finish(participant=participant, status=Participant.Status.TIMED_OUT)
    response = participant_client.post(CONSENT, {"agree": True}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "session_ended"


def test_an_ended_session_shows_its_exit_and_a_missing_link_is_null(panel_study):
    participant = enter(panel_study, "ar-EG")  # ar-EG has no exit links
    participant_finish(participant=participant, status=Participant.Status.EXCLUDED)
    state = client_for(participant).get(ME).json()
    assert state["next_step"] == "ended"
    assert state["exit"] == {"kind": "excluded", "code": "", "redirect_url": None}


def test_the_state_takes_a_fixed_number_of_queries(
    participant_client, participant, django_assert_max_num_queries
):
    with django_assert_max_num_queries(3):  # the participant, the touch, their prescreens
        assert participant_client.get(ME).json()["next_step"] == "consent"
    participant_finish(participant=participant, status=Participant.Status.COMPLETED)
    with django_assert_max_num_queries(3):  # the participant, the touch, their questionnaire
        assert participant_client.get(ME).json()["next_step"] == "questionnaire"
