from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from moodlab.studies.models import Participant, Song
from moodlab.studies.services.song_audio import song_audio_url
from rating.models import Rating, Trial
from tests.factories import ParticipantFactory, ready_for_trials
from tests.rating.factories import participant_in, rating_study_with

CURRENT = reverse("v1:rating-trial-current")
FINISH = reverse("v1:rating-finish")


def submit_url(trial_id: int) -> str:
    return reverse("v1:rating-trial-submit", kwargs={"trial_id": trial_id})


def client_for(api_client, participant: Participant):
    api_client.credentials(HTTP_AUTHORIZATION=f"Participant {participant.token}")
    return api_client


def current(client) -> dict:
    response = client.get(CURRENT)
    assert response.status_code == 200, response.json()
    return response.json()


def answer(trial: dict, value: int = 3, **extra) -> dict:
    return {
        "ratings": {str(term["id"]): value for term in trial["terms"]},
        "audio_played_seconds": 30.0,
        **extra,
    }


@pytest.fixture
def client(api_client, small_study):
    return client_for(api_client, participant_in(small_study))


def test_the_current_trial_has_the_song_terms_scale_and_progress(client, small_study):
    body = current(client)
    trial = body["trial"]
    assert trial["position"] == 1
    assert trial["song"]["external_id"] in set(
        small_study.songs.values_list("external_id", flat=True)
    )
    assert len(trial["terms"]) == 7
    assert [p["label"] for p in trial["scale"]] == [
        "Not expressing at all",
        "Slightly",
        "Moderately",
        "Very",
        "Extremely",
    ]
    assert trial["estimated_seconds"] == 21
    assert body["progress"] == {"done": 0, "total": 6}
    assert body["estimated_seconds_remaining"] == 6 * 21
    assert body["finished"] is False


def test_terms_are_labelled_in_the_participants_language(api_client, db):
    study = rating_study_with(locales=("ko-KR",), trials_per_participant=2)
    client = client_for(api_client, participant_in(study, "ko-KR"))
    terms = current(client)["trial"]["terms"]
    assert all(any("\uac00" <= ch <= "\ud7a3" for ch in term["label"]) for term in terms)
    assert all(term["gloss"].isascii() for term in terms)


def test_the_song_carries_its_clip_and_audio_url(client, small_study):
    Song.objects.filter(study=small_study).update(clip_start_seconds=10.0, clip_end_seconds=25.0)
    trial = current(client)["trial"]
    song = trial["song"]
    assert song["clip_start_seconds"] == 10.0
    assert song["clip_end_seconds"] == 25.0
    assert song["clip_seconds"] == 15.0
    assert song["audio_url"] == song_audio_url(Trial.objects.get(pk=trial["id"]).song)


def test_a_whole_session_can_be_rated_and_finished(client, small_study):
    for done in range(6):
        body = current(client)
        assert body["progress"]["done"] == done
        response = client.post(
            submit_url(body["trial"]["id"]), answer(body["trial"]), format="json"
        )
        assert response.status_code == 200, response.json()
    body = current(client)
    assert body["finished"] is True and body["trial"] is None
    assert body["progress"] == {"done": 6, "total": 6}
    response = client.post(FINISH)
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert Rating.objects.count() == 6 * 7


def test_a_submission_answers_with_the_next_trial_as_getting_it_would(client):
    trial = current(client)["trial"]
    body = client.post(submit_url(trial["id"]), answer(trial), format="json").json()
    assert body["next"]["trial"]["position"] == 2
    assert body["next"] == current(client)


def test_a_session_can_be_rated_from_the_submission_answers_alone(client):
    trial = current(client)["trial"]
    positions = []
    while trial is not None:
        positions.append(trial["position"])
        body = client.post(submit_url(trial["id"]), answer(trial), format="json").json()
        trial = body["next"]["trial"]
    assert positions == [1, 2, 3, 4, 5, 6]
    assert body["next"]["finished"] is True
    assert body["next"]["progress"] == {"done": 6, "total": 6}
    assert client.post(FINISH).status_code == 200


def test_a_retried_last_submission_after_finishing_serves_nothing_new(client):
    trial = current(client)["trial"]
    while True:
        last = client.post(submit_url(trial["id"]), answer(trial), format="json").json()
        if last["next"]["trial"] is None:
            break
        trial = last["next"]["trial"]
    client.post(FINISH)
    again = client.post(submit_url(trial["id"]), answer(trial), format="json")
    assert again.status_code == 200
    assert again.json()["next"]["finished"] is True
    assert Trial.objects.count() == 6


def test_submitting_stores_one_rating_per_term_with_the_timing(client):
    trial = current(client)["trial"]
    response = client.post(submit_url(trial["id"]), answer(trial, 4), format="json")
    body = response.json()
    stored = Trial.objects.get(pk=trial["id"])
    assert stored.status == Trial.Status.SUBMITTED
    assert stored.audio_played_seconds == 30.0
    assert 0 <= stored.response_seconds < 60
    assert body["ratings"] == {str(term["id"]): 4 for term in trial["terms"]}
    ratings = Rating.objects.filter(trial=stored)
    assert ratings.count() == 7
    assert set(ratings.values_list("participant", "song")) == {
        (stored.participant_id, stored.song_id)
    }


def test_a_retried_submission_is_stored_once_and_answered_the_same(client):
    trial = current(client)["trial"]
    first = client.post(submit_url(trial["id"]), answer(trial), format="json")
    again = client.post(submit_url(trial["id"]), answer(trial), format="json")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Rating.objects.count() == 7


def test_resubmitting_other_values_is_a_conflict_and_changes_nothing(client):
    trial = current(client)["trial"]
    client.post(submit_url(trial["id"]), answer(trial, 2), format="json")
    response = client.post(submit_url(trial["id"]), answer(trial, 5), format="json")
    assert response.status_code == 409
    assert set(Rating.objects.values_list("value", flat=True)) == {2}


def test_a_participant_cannot_rate_another_participants_trial(client, api_client, small_study):
    other = participant_in(small_study)
    theirs = current(client_for(api_client, other))["trial"]
    mine = client_for(api_client, participant_in(small_study))
    response = mine.post(submit_url(theirs["id"]), answer(theirs), format="json")
    assert response.status_code == 404
    assert not Rating.objects.exists()


def test_a_released_trial_cannot_be_submitted(client):
    trial = current(client)["trial"]
    Trial.objects.filter(pk=trial["id"]).update(status=Trial.Status.RELEASED)
    response = client.post(submit_url(trial["id"]), answer(trial), format="json")
    assert response.status_code == 409
    assert not Rating.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body, ids: body["ratings"].pop(str(ids[0])), "ratings"),
        (lambda body, ids: body["ratings"].update({"999999": 3}), "ratings"),
        (lambda body, ids: body["ratings"].update({"abc": 3}), "ratings"),
        (lambda body, ids: body["ratings"].update({str(ids[0]): 0}), "ratings"),
        (lambda body, ids: body["ratings"].update({str(ids[0]): 6}), "ratings"),
        (lambda body, ids: body["ratings"].update({str(ids[0]): "high"}), "ratings"),
        (lambda body, ids: body["ratings"].update({str(ids[0]): None}), "ratings"),
        (lambda body, ids: body.update({"ratings": {}}), "ratings"),
        (lambda body, ids: body.pop("ratings"), "ratings"),
        (lambda body, ids: body.pop("audio_played_seconds"), "audio_played_seconds"),
        (lambda body, ids: body.update({"audio_played_seconds": -1}), "audio_played_seconds"),
        (lambda body, ids: body.update({"audio_played_seconds": "x"}), "audio_played_seconds"),
    ],
    ids=[
        "missing term",
        "extra term",
        "key not a term id",
        "below 1",
        "above 5",
        "not a number",
        "null",
        "no ratings",
        "ratings absent",
        "play time absent",
        "negative play time",
        "play time not a number",
    ],
)
def test_bad_submissions_get_field_errors_and_store_nothing(client, change, field):
    trial = current(client)["trial"]
    body = answer(trial)
    change(body, [term["id"] for term in trial["terms"]])
    response = client.post(submit_url(trial["id"]), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Rating.objects.exists()
    assert Trial.objects.get(pk=trial["id"]).status == Trial.Status.HELD


def test_answering_before_the_clip_could_play_once_is_refused(client, small_study):
    Song.objects.filter(study=small_study).update(duration_seconds=20.0)
    trial = current(client)["trial"]
    response = client.post(
        submit_url(trial["id"]), answer(trial, audio_played_seconds=12.0), format="json"
    )
    assert response.status_code == 400
    assert "audio_played_seconds" in response.json()["error"]["fields"]
    assert not Rating.objects.exists()
    response = client.post(
        submit_url(trial["id"]), answer(trial, audio_played_seconds=19.8), format="json"
    )
    assert response.status_code == 200


def test_a_retried_finish_gets_the_same_answer(client, small_study):
    while (trial := current(client)["trial"]) is not None:
        client.post(submit_url(trial["id"]), answer(trial), format="json")
    first = client.post(FINISH)
    again = client.post(FINISH)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()


def test_finishing_with_trials_left_is_refused(client):
    current(client)
    response = client.post(FINISH)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "trials_remain"


def test_trials_wait_for_consent_and_prescreens(api_client, db):
    study = rating_study_with(trials_per_participant=2, ask_consent=True, headphone_check=True)
    participant = participant_in(study)
    client = client_for(api_client, participant)
    response = client.get(CURRENT)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "steps_pending"
    ready_for_trials(participant)
    assert client.get(CURRENT).status_code == 200


def test_an_elicitation_participant_gets_no_rating_trials(api_client, small_study):
    participant = ParticipantFactory(
        locale=small_study.locales.get(), phase=Participant.Phase.ELICITATION
    )
    response = client_for(api_client, participant).get(CURRENT)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_phase"


def test_an_ended_session_gets_no_trials(client, small_study):
    Participant.objects.update(status=Participant.Status.TIMED_OUT)
    assert client.get(CURRENT).status_code == 403


def test_the_trial_endpoints_make_a_bounded_number_of_queries(
    client, django_assert_max_num_queries
):
    trial = current(client)["trial"]
    # Fixed counts, whatever the number of terms, songs or trials already done. The
    # submission's count includes allocating and showing the next trial; both take the
    # allocation locks before reading the session's trials (a held one is served as it is).
    with django_assert_max_num_queries(8):
        client.get(CURRENT)
    with django_assert_max_num_queries(20):
        client.post(submit_url(trial["id"]), answer(trial), format="json")


def test_a_submission_reads_the_session_terms_once(client):
    """Validation, allocation and the next trial's view share one read of the terms."""
    trial = current(client)["trial"]
    with CaptureQueriesContext(connection) as queries:
        response = client.post(submit_url(trial["id"]), answer(trial), format="json")
    assert response.status_code == 200
    assert response.json()["next"]["trial"]["terms"] == trial["terms"]
    term_reads = [q for q in queries.captured_queries if 'FROM "rating_sessionterm"' in q["sql"]]
    assert len(term_reads) == 1


def test_the_rating_endpoints_are_in_the_openapi_schema(api_client, db):
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert {"/api/v1/rating/trial/", "/api/v1/rating/finish/"} <= set(paths)
    submit = paths["/api/v1/rating/trials/{trial_id}/submit/"]["post"]
    assert {"200", "400", "404", "409"} <= set(submit["responses"])


def test_the_schema_documents_the_next_trial_in_the_submission_answer(api_client, db):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    submit = schema["paths"]["/api/v1/rating/trials/{trial_id}/submit/"]["post"]
    answer_ref = submit["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    answer = schema["components"]["schemas"][answer_ref.rsplit("/", 1)[1]]
    next_ref = (
        answer["properties"]["next"].get("$ref") or answer["properties"]["next"]["allOf"][0]["$ref"]
    )
    assert {"trial", "progress", "finished"} <= set(
        schema["components"]["schemas"][next_ref.rsplit("/", 1)[1]]["properties"]
    )
