"""The closing questionnaire, and a whole session from the entry to the panel's exit link."""

import pytest
from django.urls import reverse

from moodlab.studies.models import Participant, QuestionnaireResponse
from moodlab.studies.services.participants import participant_finish
from moodlab.studies.services.prescreens import (
    headphone_positions,
    vocabulary_items_for,
)
from tests.conftest import build_study
from tests.elicitation.factories import CLIP_SECONDS, elicitation_study
from tests.studies.conftest import PANEL_EXITS, client_for, enter

pytestmark = pytest.mark.django_db

ME = reverse("v1:participant-state")
QUESTIONNAIRE = reverse("v1:participant-questionnaire")

ANSWERS = {
    "age": 34,
    "gender": "non_binary",
    "country": "KR",
    "native_language": "Korean",
    "musical_training": "3_5",
    "technical_problems": "",
}


def post(client, url, payload=None):
    return client.post(url, payload, format="json")


def completed(participant: Participant) -> Participant:
    return participant_finish(participant=participant, status=Participant.Status.COMPLETED)


def test_the_questionnaire_describes_its_fields_with_labels_in_the_participants_language(
    panel_study,
):
    spec = client_for(enter(panel_study, "ar-EG")).get(QUESTIONNAIRE)
    assert spec.status_code == 200
    fields = {field["name"]: field for field in spec.json()["fields"]}
    assert list(fields) == list(ANSWERS)
    assert fields["age"] == {"name": "age", "type": "integer", "required": False, "choices": None}
    assert fields["gender"]["type"] == "choice" and fields["gender"]["required"] is True
    assert [c["value"] for c in fields["musical_training"]["choices"]] == [
        "none",
        "lt_1",
        "1_3",
        "3_5",
        "5_10",
        "gt_10",
    ]
    assert fields["country"]["type"] == "country"
    egypt = next(c for c in fields["country"]["choices"] if c["value"] == "EG")
    assert egypt["label"] == "مصر"  # django-countries' Arabic name: labels follow the locale
    assert fields["technical_problems"]["required"] is False


def test_the_questionnaire_waits_for_the_trials(participant_client):
    response = post(participant_client, QUESTIONNAIRE, ANSWERS)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "steps_pending"
    assert "trials" in response.json()["error"]["message"]
    assert not QuestionnaireResponse.objects.exists()


def test_a_completed_participant_answers_once_and_then_exits(participant_client, participant):
    completed(participant)
    assert participant_client.get(ME).json()["next_step"] == "questionnaire"
    response = post(participant_client, QUESTIONNAIRE, ANSWERS)
    assert response.status_code == 200
    state = response.json()
    assert state["next_step"] == "complete"
    assert state["exit"] == {
        "kind": "completed",
        "code": "DONE42",
        "redirect_url": "https://panel.example/done?cc=DONE42",
    }
    assert QuestionnaireResponse.objects.get(participant=participant).answers == ANSWERS

    assert post(participant_client, QUESTIONNAIRE, ANSWERS).json() == state
    conflict = post(participant_client, QUESTIONNAIRE, {**ANSWERS, "age": 35})
    assert conflict.status_code == 409
    assert QuestionnaireResponse.objects.get().answers["age"] == 34


def test_optional_questionnaire_answers_may_be_left_out(participant_client, participant):
    completed(participant)
    required_only = {k: v for k, v in ANSWERS.items() if k not in ("age", "technical_problems")}
    assert post(participant_client, QUESTIONNAIRE, required_only).status_code == 200
    answers = QuestionnaireResponse.objects.get().answers
    assert (answers["age"], answers["technical_problems"]) == (None, "")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age", 12),
        ("age", 111),
        ("gender", "robot"),
        ("country", "XX"),
        ("country", "Korea"),
        ("native_language", "x" * 61),
        ("native_language", ""),
        ("musical_training", "lots"),
        ("technical_problems", "x" * 1001),
    ],
)
def test_bad_questionnaire_answers_get_field_errors_and_store_nothing(
    participant_client, participant, field, value
):
    completed(participant)
    response = post(participant_client, QUESTIONNAIRE, {**ANSWERS, field: value})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert not QuestionnaireResponse.objects.exists()


def test_a_screened_out_participant_gets_no_questionnaire(participant_client, participant):
    participant_finish(participant=participant, status=Participant.Status.SCREENED_OUT)
    response = post(participant_client, QUESTIONNAIRE, ANSWERS)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "session_ended"


def test_a_study_without_questionnaire_completes_straight_to_the_exit(
    panel_study, participant_client, participant
):
    panel_study.questionnaire = False
    panel_study.save()
    completed(participant)
    assert participant_client.get(QUESTIONNAIRE).status_code == 400
    state = participant_client.get(ME).json()
    assert state["next_step"] == "complete" and state["exit"]["code"] == "DONE42"


def take_steps(client, participant) -> list[str]:
    """Consent and pass every prescreen through the API; the next_step after each."""
    words = [{"id": item.id, "is_word": item.real} for item in vocabulary_items_for(participant)]
    answers = [
        ("participant-consent", {"agree": True}),
        ("participant-volume", {"level": 0.7}),
        ("participant-headphones", {"answers": headphone_positions(participant)}),
        ("participant-vocabulary", {"answers": words}),
    ]
    seen = [client.get(ME).json()["next_step"]]
    for name, payload in answers:
        body = post(client, reverse(f"v1:{name}"), payload).json()
        seen.append(body.get("state", body)["next_step"])
    return seen


STEPS_TO_TRIALS = ["consent", "volume_calibration", "headphone_check", "vocabulary_check", "trials"]


def test_a_rating_session_goes_from_consent_to_the_completion_link():
    study = build_study(trials_per_participant=2, repeat_trials=0)
    study.locales.update(**PANEL_EXITS)
    participant = enter(study)
    client = client_for(participant)
    assert take_steps(client, participant) == STEPS_TO_TRIALS

    while (trial := client.get(reverse("v1:rating-trial-current")).json()["trial"]) is not None:
        ratings = {str(term["id"]): 4 for term in trial["terms"]}
        submitted = post(
            client,
            reverse("v1:rating-trial-submit", kwargs={"trial_id": trial["id"]}),
            {"ratings": ratings, "audio_played_seconds": 60.0},
        )
        assert submitted.status_code == 200, submitted.json()
        assert client.get(ME).json()["next_step"] == "trials"
    assert post(client, reverse("v1:rating-finish")).status_code == 200

    assert client.get(ME).json()["next_step"] == "questionnaire"
    state = post(client, QUESTIONNAIRE, ANSWERS).json()
    assert (state["status"], state["next_step"]) == ("completed", "complete")
    assert state["exit"]["redirect_url"] == "https://panel.example/done?cc=DONE42"


def test_an_elicitation_session_goes_from_consent_to_the_completion_link():
    study = elicitation_study(songs=1, turns_per_participant=1)
    study.locales.update(**PANEL_EXITS)
    participant = enter(study)
    client = client_for(participant)
    assert client.get(ME).json()["phase"] == "elicitation"
    assert take_steps(client, participant) == STEPS_TO_TRIALS

    turn = client.get(reverse("v1:elicitation-turn")).json()["turn"]
    submitted = post(
        client,
        reverse("v1:elicitation-turn-submit"),
        {"turn": turn["id"], "new_tags": ["calm"], "audio_played_seconds": CLIP_SECONDS},
    )
    assert submitted.json()["done"] is True

    assert client.get(ME).json()["next_step"] == "questionnaire"
    state = post(client, QUESTIONNAIRE, ANSWERS).json()
    assert state["next_step"] == "complete"
    assert state["exit"]["kind"] == "completed"
