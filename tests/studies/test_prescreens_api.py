"""The prescreens: volume calibration, headphone and vocabulary checks, and their sounds."""

import io
import json
import time
from unittest import mock

import numpy as np
import pytest
from django.core import signing
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from moodlab.audio import calibration_wav
from moodlab.audio_codec import audio_decode, wav_to_m4a
from moodlab.studies.models import Participant, PrescreenResult
from moodlab.studies.services.participants import participant_finish
from moodlab.studies.services.prescreens import (
    AUDIO_SALT,
    headphone_positions,
    vocabulary_items_for,
)
from moodlab.studies.services.studies import study_add_locale
from moodlab.studies.vocabulary import default_vocabulary
from tests.studies.conftest import client_for, enter

pytestmark = pytest.mark.django_db

ME = reverse("v1:participant-state")
CONSENT = reverse("v1:participant-consent")
VOLUME = reverse("v1:participant-volume")
HEADPHONES = reverse("v1:participant-headphones")
VOCABULARY = reverse("v1:participant-vocabulary")
TRIAL = reverse("v1:rating-trial-current")


def post(client, url, payload):
    return client.post(url, payload, format="json")


@pytest.fixture
def consented(participant_client):
    assert post(participant_client, CONSENT, {"agree": True}).status_code == 200
    return participant_client


@pytest.fixture
def calibrated(consented):
    assert post(consented, VOLUME, {"level": 0.6}).status_code == 200
    return consented


@pytest.fixture
def headphones_passed(calibrated, participant):
    response = post(calibrated, HEADPHONES, {"answers": headphone_positions(participant)})
    assert response.json()["passed"] is True
    return calibrated


def wrong(positions):
    return [position % 3 + 1 for position in positions]


def vocabulary_answers(participant, *, right: int):
    """Answers with the first `right` items classed correctly and the rest wrongly."""
    return [
        {"id": item.id, "is_word": item.real if index < right else not item.real}
        for index, item in enumerate(vocabulary_items_for(participant))
    ]


def test_prescreens_wait_for_consent(participant_client):
    for url in (VOLUME, HEADPHONES, VOCABULARY):
        response = participant_client.get(url)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "steps_pending"
        assert "consent" in response.json()["error"]["message"]
    assert post(participant_client, VOLUME, {"level": 0.5}).status_code == 403
    assert not PrescreenResult.objects.exists()


def test_a_later_check_cannot_be_taken_before_an_earlier_one(consented, participant):
    response = post(consented, HEADPHONES, {"answers": headphone_positions(participant)})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "Complete these steps first: volume_calibration."
    )
    assert post(consented, VOCABULARY, {"answers": []}).status_code == 403
    assert not PrescreenResult.objects.exists()


def test_trials_stay_closed_until_every_prescreen_is_passed(headphones_passed, participant):
    response = headphones_passed.get(TRIAL)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "steps_pending"
    assert "vocabulary_check" in response.json()["error"]["message"]


def test_the_volume_step_plays_a_signed_calibration_noise(consented):
    response = consented.get(VOLUME)
    assert response.status_code == 200
    audio = APIClient().get(response.json()["audio_url"])  # an <audio> element sends no token
    assert audio.status_code == 200
    assert audio["Content-Type"] == "audio/mp4"
    assert audio["Cache-Control"] == "private, max-age=3600, immutable"
    assert b"".join(audio.streaming_content) == wav_to_m4a(calibration_wav())


def test_the_chosen_volume_is_recorded_once(consented, participant):
    state = post(consented, VOLUME, {"level": 0.6}).json()
    assert state["next_step"] == "headphone_check"
    result = PrescreenResult.objects.get(participant=participant)
    assert (result.kind, result.passed, result.details) == ("volume", True, {"level": 0.6})

    assert post(consented, VOLUME, {"level": 0.6}).json() == state
    conflict = post(consented, VOLUME, {"level": 0.9})
    assert conflict.status_code == 409
    assert PrescreenResult.objects.get(participant=participant).details == {"level": 0.6}


def test_the_volume_level_comes_with_the_session_to_a_new_browser(consented, participant):
    assert consented.get(ME).json()["volume"] is None
    post(consented, VOLUME, {"level": 0.35})
    new_browser = client_for(participant)
    assert new_browser.get(ME).json()["volume"] == 0.35


@pytest.mark.parametrize("level", [-0.1, 1.5, "loud", None])
def test_a_volume_outside_zero_to_one_is_refused(consented, level):
    response = post(consented, VOLUME, {"level": level})
    assert response.status_code == 400
    assert "level" in response.json()["error"]["fields"]
    assert not PrescreenResult.objects.exists()


def test_the_headphone_test_lists_six_signed_trials_whose_sounds_hold_the_answers(
    calibrated, participant
):
    test = calibrated.get(HEADPHONES).json()
    assert (test["choices"], test["pass_mark"]) == (3, 4)
    assert [trial["index"] for trial in test["trials"]] == list(range(6))
    positions = headphone_positions(participant)
    assert sorted(positions) == [1, 1, 2, 2, 3, 3]
    for trial, odd in zip(test["trials"], positions, strict=True):
        # The link's readable payload names neither the participant, the trial nor the answer.
        payload = trial["audio_url"].rstrip("/").rsplit("/", 1)[1].split(":")[0]
        assert set(json.loads(signing.b64_decode(payload.encode()))) == {"k", "n", "c"}
        audio = APIClient().get(trial["audio_url"])
        assert audio.status_code == 200 and audio["Content-Type"] == "audio/mp4"
        assert quietest_sound(b"".join(audio.streaming_content)) == odd


def quietest_sound(m4a: bytes) -> int:
    """Which of an antiphase trial's three sounds (1 s each, 0.5 s apart) is the quietest."""
    samples, rate = audio_decode(io.BytesIO(m4a))
    levels = [
        float(
            np.sqrt(
                np.mean(
                    samples[round((1.5 * k + 0.2) * rate) : round((1.5 * k + 0.8) * rate), 0] ** 2
                )
            )
        )
        for k in range(3)
    ]
    return levels.index(min(levels)) + 1


def test_the_headphone_answers_come_from_the_secret_key_not_only_the_token(panel_study):
    participants = [enter(panel_study) for _ in range(4)]
    drawn = [headphone_positions(p) for p in participants]
    assert len({tuple(positions) for positions in drawn}) > 1
    with override_settings(SECRET_KEY="another-secret-key-" + "x" * 40):
        assert [headphone_positions(p) for p in participants] != drawn


def test_the_right_headphone_answers_pass(calibrated, participant):
    response = post(calibrated, HEADPHONES, {"answers": headphone_positions(participant)})
    assert response.status_code == 200
    body = response.json()
    assert (body["passed"], body["score"]) == (True, 6)
    assert body["state"]["next_step"] == "vocabulary_check"
    result = PrescreenResult.objects.get(participant=participant, kind="headphones")
    assert result.passed and result.score == 6


def test_the_pass_mark_decides_a_partly_right_headphone_test(calibrated, participant):
    positions = headphone_positions(participant)
    answers = positions[:4] + wrong(positions[4:])
    body = post(calibrated, HEADPHONES, {"answers": answers}).json()
    assert (body["passed"], body["score"]) == (True, 4)


def test_wrong_headphone_answers_screen_out_with_the_exit_link(calibrated, participant):
    answers = wrong(headphone_positions(participant))
    response = post(calibrated, HEADPHONES, {"answers": answers})
    assert response.status_code == 200
    body = response.json()
    assert (body["passed"], body["score"]) == (False, 0)
    assert body["state"]["status"] == "screened_out"
    assert body["state"]["next_step"] == "ended"
    assert body["state"]["exit"] == {
        "kind": "screened_out",
        "code": "OUT 7",
        "redirect_url": "https://panel.example/out?cc=OUT%207",
    }
    participant.refresh_from_db()
    assert participant.status == Participant.Status.SCREENED_OUT
    assert participant.status_reason == "failed the headphone check"
    result = PrescreenResult.objects.get(participant=participant, kind="headphones")
    assert not result.passed and result.details["answers"] == answers


def test_a_failed_headphone_test_has_no_second_attempt(calibrated, participant):
    positions = headphone_positions(participant)
    failed = post(calibrated, HEADPHONES, {"answers": wrong(positions)}).json()
    retry = post(calibrated, HEADPHONES, {"answers": wrong(positions)})
    assert retry.status_code == 200 and retry.json() == failed
    second_try = post(calibrated, HEADPHONES, {"answers": positions})
    assert second_try.status_code == 409
    assert PrescreenResult.objects.get(kind="headphones").passed is False
    assert calibrated.get(HEADPHONES).status_code == 403  # the session has ended


@pytest.mark.parametrize(
    "answers", [[1, 2, 3], [1, 2, 3, 1, 2, 3, 1], [0, 1, 2, 3, 1, 2], ["a"] * 6, "123123"]
)
def test_malformed_headphone_answers_are_refused_with_a_field_error(calibrated, answers):
    response = post(calibrated, HEADPHONES, {"answers": answers})
    assert response.status_code == 400
    assert "answers" in response.json()["error"]["fields"]
    assert not PrescreenResult.objects.filter(kind="headphones").exists()
    assert Participant.objects.get().status == Participant.Status.STARTED


def test_a_study_can_ask_for_more_headphone_trials(panel_study, participant, calibrated):
    panel_study.headphone_trials = 9
    panel_study.save()
    test = calibrated.get(HEADPHONES).json()
    assert len(test["trials"]) == 9
    assert sorted(headphone_positions(participant)) == [1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_the_vocabulary_test_shows_the_languages_words_shuffled_without_their_answers(
    headphones_passed, participant, panel_study
):
    body = headphones_passed.get(VOCABULARY).json()
    assert body["pass_ratio"] == 0.5
    assert sorted(item["word"] for item in body["items"]) == sorted(
        item["word"] for item in default_vocabulary("en")
    )
    assert all(set(item) == {"id", "word"} for item in body["items"])
    other = [item.word for item in vocabulary_items_for(enter(panel_study))]
    assert other != [item["word"] for item in body["items"]]  # each participant's own order


def test_an_arabic_participant_gets_arabic_words(panel_study):
    participant = enter(panel_study, "ar-EG")
    words = [item.word for item in vocabulary_items_for(participant)]
    assert all("\u0600" <= ch <= "\u06ff" for word in words for ch in word)


def test_a_locales_own_word_list_replaces_the_default(panel_study, participant):
    own = [{"word": "chair", "real": True}, {"word": "blorf", "real": False}]
    panel_study.locales.filter(code="en-US").update(vocabulary_items=own)
    participant.locale.refresh_from_db()
    assert sorted(item.word for item in vocabulary_items_for(participant)) == ["blorf", "chair"]


def test_enough_right_vocabulary_answers_pass_and_open_the_trials(headphones_passed, participant):
    response = post(
        headphones_passed, VOCABULARY, {"answers": vocabulary_answers(participant, right=6)}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["passed"], body["score"]) == (True, 0.5)
    assert body["state"]["next_step"] == "trials"
    assert headphones_passed.get(TRIAL).status_code != 403


def test_too_few_right_vocabulary_answers_screen_out(headphones_passed, participant):
    answers = vocabulary_answers(participant, right=5)
    body = post(headphones_passed, VOCABULARY, {"answers": answers}).json()
    assert (body["passed"], body["score"]) == (False, pytest.approx(5 / 12))
    assert body["state"]["next_step"] == "ended"
    assert body["state"]["exit"]["redirect_url"] == "https://panel.example/out?cc=OUT%207"
    result = PrescreenResult.objects.get(kind="vocabulary")
    assert result.details["answers"] == {a["id"]: a["is_word"] for a in answers}
    changed = [{**answer, "is_word": not answer["is_word"]} for answer in answers]
    assert post(headphones_passed, VOCABULARY, {"answers": changed}).status_code == 409


def test_every_vocabulary_item_must_be_answered_exactly_once(headphones_passed, participant):
    answers = vocabulary_answers(participant, right=12)
    for bad in (
        answers[:-1],
        answers + answers[:1],
        [*answers[:-1], {"id": "nope", "is_word": True}],
    ):
        response = post(headphones_passed, VOCABULARY, {"answers": bad})
        assert response.status_code == 400
        assert "answers" in response.json()["error"]["fields"]
    response = post(headphones_passed, VOCABULARY, {"answers": [{"id": answers[0]["id"]}]})
    assert response.status_code == 400
    assert not PrescreenResult.objects.filter(kind="vocabulary").exists()


def test_a_study_without_a_check_refuses_its_step(panel_study, consented):
    panel_study.volume_calibration = False
    panel_study.save()
    response = consented.get(VOLUME)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "step_disabled"
    assert consented.get(HEADPHONES).status_code == 200  # the next one is open instead


def test_an_ended_session_gets_no_prescreen(consented, participant):
    participant_finish(participant=participant, status=Participant.Status.TIMED_OUT)
    response = consented.get(VOLUME)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "session_ended"


def test_another_participants_token_cannot_answer_for_you(
    panel_study, headphones_passed, participant
):
    other = client_for(enter(panel_study))
    response = post(other, VOCABULARY, {"answers": vocabulary_answers(participant, right=12)})
    assert response.status_code == 403  # the other one has not consented: their own state
    assert not PrescreenResult.objects.filter(kind="vocabulary").exists()


def test_a_tampered_sound_link_is_not_found(calibrated):
    url = calibrated.get(HEADPHONES).json()["trials"][0]["audio_url"]
    signed = url.rstrip("/").rsplit("/", 1)[1]
    forged = url.replace(signed, signed[:-2] + ("AA" if not signed.endswith("AA") else "BB"))
    response = APIClient().get(forged)
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404
    assert (
        APIClient().get(reverse("v1:participant-prescreen-audio", args=["junk"])).status_code == 404
    )


def test_an_expired_sound_link_is_not_found(consented):
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 3 * 3600):
        url = consented.get(VOLUME).json()["audio_url"]
    assert APIClient().get(url).status_code == 404


def test_a_sound_link_of_another_kind_is_not_found(calibrated, participant):
    signed = signing.TimestampSigner(salt=AUDIO_SALT).sign_object({"k": "vocabulary"})
    url = reverse("v1:participant-prescreen-audio", kwargs={"signed": signed})
    assert APIClient().get(url).status_code == 404


def test_a_locale_added_later_without_a_word_list_gets_a_clear_refusal(panel_study):
    panel_study.ask_consent = panel_study.volume_calibration = panel_study.headphone_check = False
    panel_study.save()
    study_add_locale(study=panel_study, code="de-DE")
    response = client_for(enter(panel_study, "de-DE")).get(VOCABULARY)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_configured"
