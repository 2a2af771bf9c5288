import unicodedata

import pytest

from elicitation.models import ChainTag, TagAddition, TagRating, Turn
from elicitation.tasks import expire_turns
from tests.conftest import beat_task_scheduled_by
from tests.elicitation.factories import CLIP_SECONDS, elicitation_study, participant_in

pytestmark = pytest.mark.django_db

TURN_URL = "/api/v1/elicitation/turn/"
SUBMIT_URL = "/api/v1/elicitation/turn/submit/"
TAGS_URL = "/api/v1/elicitation/tags/"


def client_for(api_client, participant):
    api_client.credentials(HTTP_AUTHORIZATION=f"Participant {participant.token}")
    return api_client


def current_turn(api_client, participant):
    response = client_for(api_client, participant).get(TURN_URL)
    assert response.status_code == 200, response.json()
    return response.json()


def submit(api_client, participant, state, **payload):
    body = {"turn": state["turn"]["id"], "audio_played_seconds": CLIP_SECONDS, **payload}
    return client_for(api_client, participant).post(SUBMIT_URL, body, format="json")


def test_the_current_turn_shows_the_song_the_tags_and_the_progress(api_client):
    study = elicitation_study(max_turns_per_chain=10, freeze_min_ratings=1)
    first = participant_in(study)
    state = current_turn(api_client, first)
    assert state["done"] is False and state["progress"] == {"done": 0, "total": 15}
    assert state["turn"]["tags_to_rate"] == [] and state["turn"]["index"] == 0
    assert submit(api_client, first, state, new_tags=["Happy", "dark"]).status_code == 200

    second = participant_in(study)
    state = current_turn(api_client, second)
    turn = state["turn"]
    assert turn["song_external_id"] == Turn.objects.get(participant=second).song.external_id
    assert turn["clip_seconds"] == CLIP_SECONDS and turn["index"] == 1 and turn["deadline"]
    assert sorted(tag["text"] for tag in turn["tags_to_rate"]) == ["dark", "happy"]
    happy = next(tag["id"] for tag in turn["tags_to_rate"] if tag["text"] == "happy")
    dark = next(tag["id"] for tag in turn["tags_to_rate"] if tag["text"] == "dark")
    response = submit(api_client, second, state, ratings={str(happy): 5, str(dark): "flag"})
    assert response.status_code == 200, response.json()
    assert response.json()["done"] is True  # the only song is done for this participant

    third = participant_in(study)
    turn = current_turn(api_client, third)["turn"]
    assert [tag["text"] for tag in turn["frozen_tags"]] == ["happy"]
    assert [tag["text"] for tag in turn["tags_to_rate"]] == ["dark"]


def test_a_turn_carries_its_time_estimate_and_the_sessions(api_client):
    # The study's budgets: 4 s per tag to rate, 5 s for each of three new tags.
    study = elicitation_study(seconds_per_tag_rated=4, seconds_per_new_tag=5)
    first = participant_in(study)
    state = current_turn(api_client, first)
    assert state["turn"]["estimated_seconds"] == 3 * 5  # nothing to rate yet
    assert state["estimated_seconds_remaining"] == 15 * 3 * 5
    finished = submit(api_client, first, state, new_tags=["happy", "dark"]).json()
    assert finished["done"] is True and finished["estimated_seconds_remaining"] == 0

    state = current_turn(api_client, participant_in(study))
    assert state["turn"]["estimated_seconds"] == 2 * 4 + 3 * 5
    assert state["estimated_seconds_remaining"] == 15 * (2 * 4 + 3 * 5)


def test_an_api_retry_returns_the_same_answer_and_stores_nothing_twice(api_client):
    study = elicitation_study(songs=3)
    participant = participant_in(study)
    state = current_turn(api_client, participant)
    first = submit(api_client, participant, state, new_tags=["sad"])
    retry = submit(api_client, participant, state, new_tags=["sad"])
    assert retry.status_code == 200
    assert retry.json()["turn"]["id"] == first.json()["turn"]["id"]
    assert TagAddition.objects.count() == 1
    assert Turn.objects.filter(status=Turn.Status.SUBMITTED).count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"ratings": {"999999": 3}}, "ratings"),
        ({"ratings": {"TAG": 3}}, "ratings"),
        ({"ratings": {"{tag}": 6}}, "ratings"),
        ({"ratings": {"{tag}": 0}}, "ratings"),
        ({"ratings": {"{tag}": True}}, "ratings"),
        ({"ratings": {"{tag}": "meh"}}, "ratings"),
        ({"ratings": {}}, "ratings"),
        ({"ratings": {"{tag}": 3}, "new_tags": ["x" * 201]}, "new_tags"),
        ({"ratings": {"{tag}": 3}, "new_tags": ["tag"] * 11}, "new_tags"),
        ({"ratings": {"{tag}": 3}, "new_tags": ["<script>"]}, "new_tags"),
        ({"ratings": {"{tag}": 3}, "new_tags": ["http://spam.example"]}, "new_tags"),
        ({"ratings": {"{tag}": 3}, "new_tags": ["one two three four"]}, "new_tags"),
        ({"ratings": {"{tag}": 3}, "new_tags": ["  "]}, "new_tags"),
        ({"ratings": {"{tag}": 3}, "audio_played_seconds": -1}, "audio_played_seconds"),
        ({"ratings": {"{tag}": 3}, "audio_played_seconds": 2}, "audio_played_seconds"),
        ({"ratings": {"{tag}": 3}, "turn": "first"}, "turn"),
    ],
)
def test_bad_input_gets_a_400_with_field_errors_and_stores_nothing(api_client, payload, field):
    study = elicitation_study(max_turns_per_chain=10)
    opener = participant_in(study)
    submit(api_client, opener, current_turn(api_client, opener), new_tags=["sad"])
    tag = ChainTag.objects.get()
    participant = participant_in(study)
    state = current_turn(api_client, participant)
    payload = dict(payload)
    if "ratings" in payload:
        payload["ratings"] = {
            key.replace("{tag}", str(tag.pk)): value for key, value in payload["ratings"].items()
        }
    response = submit(api_client, participant, state, **payload)
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not TagRating.objects.exists()
    assert TagAddition.objects.count() == 1
    assert Turn.objects.get(participant=participant).status == Turn.Status.HELD


def test_an_empty_first_turn_is_refused(api_client):
    participant = participant_in(elicitation_study())
    response = submit(api_client, participant, current_turn(api_client, participant))
    assert response.status_code == 400
    assert "new_tags" in response.json()["error"]["fields"]


def test_a_turn_that_is_not_yours_or_timed_out_gets_a_409(api_client):
    study = elicitation_study(songs=2)
    owner, intruder = participant_in(study), participant_in(study)
    state = current_turn(api_client, owner)
    response = submit(api_client, intruder, state, new_tags=["sad"])
    assert (response.status_code, response.json()["error"]["code"]) == (409, "not_your_turn")
    Turn.objects.filter(participant=owner).update(deadline="2000-01-01T00:00:00Z")
    response = submit(api_client, owner, state, new_tags=["sad"])
    assert (response.status_code, response.json()["error"]["code"]) == (409, "turn_expired")


def test_trials_wait_for_consent_and_prescreens(api_client):
    study = elicitation_study()
    from moodlab.studies.services.participants import participant_enter

    participant, _ = participant_enter(
        study=study, locale=study.locales.get(), recruiter_participant_id="p-1"
    )
    response = client_for(api_client, participant).get(TURN_URL)
    assert response.status_code == 403
    assert not Turn.objects.exists()


@pytest.mark.parametrize(
    ("locale", "typed", "typed_again"),
    [
        ("en-US", "Rhythms", "rhythm"),
        ("fr-FR", "rythmé", "Rythmée"),
        ("es-MX", "Tristes", "triste"),
        ("es-MX", "alegría", "alegria"),
        ("ko-KR", "리듬감 있는", "리듬감있는"),
        ("ko-KR", unicodedata.normalize("NFD", "슬픈"), "슬픈"),
        ("ar-EG", "الحزن", "حزن"),
    ],
)
def test_variants_of_a_tag_land_in_one_chain_tag(api_client, locale, typed, typed_again):
    study = elicitation_study(locales=(locale,), hide_flag_count=1, max_turns_per_chain=10)
    opener = participant_in(study)
    assert submit(api_client, opener, current_turn(api_client, opener), new_tags=[typed])
    tag = ChainTag.objects.get()

    flagger = participant_in(study)
    state = current_turn(api_client, flagger)
    response = submit(api_client, flagger, state, ratings={str(tag.pk): "flag"}, new_tags=["x y"])
    assert response.status_code == 200, response.json()

    reviver = participant_in(study)
    state = current_turn(api_client, reviver)
    filler = state["turn"]["tags_to_rate"][0]["id"]
    response = submit(api_client, reviver, state, ratings={str(filler): 3}, new_tags=[typed_again])
    assert response.status_code == 200, response.json()

    tag.refresh_from_db()
    assert tag.state == ChainTag.State.VISIBLE
    assert tag.additions.count() == 2
    assert ChainTag.objects.filter(key=tag.key).count() == 1


def test_autocomplete_offers_tags_of_the_study_and_locale_by_prefix(api_client):
    study = elicitation_study(songs=3, locales=("es-MX", "fr-FR"))
    for tag in ("alegría", "alegre", "triste"):
        participant = participant_in(study, "es-MX")
        submit(api_client, participant, current_turn(api_client, participant), new_tags=[tag])
    french = participant_in(study, "fr-FR")
    submit(api_client, french, current_turn(api_client, french), new_tags=["allègre"])

    participant = participant_in(study, "es-MX")
    response = client_for(api_client, participant).get(TAGS_URL, {"q": "ALE"})
    assert response.status_code == 200
    assert sorted(row["text"] for row in response.json()) == ["alegre", "alegría"]
    assert client_for(api_client, participant).get(TAGS_URL, {"q": ""}).json() == []


def test_the_turn_endpoints_use_a_bounded_number_of_queries(
    api_client, django_assert_max_num_queries
):
    study = elicitation_study(songs=3, max_turns_per_chain=20)
    for _ in range(2):
        opener = participant_in(study)
        state = current_turn(api_client, opener)
        submit(api_client, opener, state, new_tags=[f"tag{n}" for n in "abcdefgh"])
    participant = participant_in(study)
    with django_assert_max_num_queries(22):
        state = current_turn(api_client, participant)
    ratings = {str(tag["id"]): 4 for tag in state["turn"]["tags_to_rate"]}
    assert len(ratings) == 8
    with django_assert_max_num_queries(32):
        response = submit(api_client, participant, state, ratings=ratings, new_tags=["new one"])
    assert response.status_code == 200


def test_beat_runs_the_expiry_task_every_minute():
    task = beat_task_scheduled_by(
        "elicitation.migrations.0002_schedule_turn_expiry", "elicitation.expire_turns"
    )
    assert (task.interval.every, task.interval.period, task.enabled) == (1, "minutes", True)
    assert expire_turns.delay().get() == 0


def test_a_participant_hammering_submissions_is_throttled(api_client, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    # DRF reads the rates into the class once, at import: patch the class attribute so the
    # strict limit is undone after this test instead of leaking into the ones that follow.
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {**SimpleRateThrottle.THROTTLE_RATES, "participant_submit": "3/minute"},
    )
    cache.clear()
    participant = participant_in(elicitation_study())
    state = current_turn(api_client, participant)
    statuses = [
        submit(api_client, participant, state, new_tags=["calm"]).status_code for _ in range(4)
    ]
    assert statuses[:3] == [200, 200, 200]  # the first stores the turn, the retries replay it
    assert statuses[3] == 429


def test_a_retry_of_the_last_turn_gets_the_same_answer_after_it_completed_the_session(api_client):
    participant = participant_in(elicitation_study())
    state = current_turn(api_client, participant)
    first = submit(api_client, participant, state, new_tags=["calm"])
    participant.refresh_from_db()
    assert first.json()["done"] is True and participant.status == "completed"

    retry = submit(api_client, participant, state, new_tags=["calm"])
    assert (retry.status_code, retry.json()) == (200, first.json())
    assert TagAddition.objects.count() == 1

    changed = submit(api_client, participant, state, new_tags=["something else"])
    assert changed.status_code == 409
    assert client_for(api_client, participant).get(TURN_URL).status_code == 403


def test_a_rating_participant_gets_no_elicitation_turn(api_client):
    participant = participant_in(elicitation_study())
    participant.phase = "rating"
    participant.save(update_fields=["phase"])
    response = client_for(api_client, participant).get(TURN_URL)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_phase"
    assert not Turn.objects.exists()


def test_autocomplete_matches_unfinished_words_and_finished_inflected_ones(api_client):
    study = elicitation_study(songs=3)
    for tag in ("calm", "happy", "very calming"):
        participant = participant_in(study)
        state = current_turn(api_client, participant)
        earlier = {str(tag["id"]): 3 for tag in state["turn"]["tags_to_rate"]}
        response = submit(api_client, participant, state, ratings=earlier, new_tags=[tag])
        assert response.status_code == 200, response.json()

    participant = participant_in(study)

    def suggested(prefix: str) -> list[str]:
        response = client_for(api_client, participant).get(TAGS_URL, {"q": prefix})
        assert response.status_code == 200
        return sorted(row["text"] for row in response.json())

    # Lemmatised as words, "ca" and "cal" would become "can" and "calorie" and find nothing.
    assert suggested("ca") == ["calm"]
    assert suggested("Cal") == ["calm"]
    assert suggested("happier") == ["happy"]
    assert suggested("very cal") == ["very calming"]
