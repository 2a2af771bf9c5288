"""Issue 19.2: each trial names the clip likely to come next, so the page can preload it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from moodlab.studies.services.song_audio import song_audio_url
from rating.models import Trial
from tests.rating.factories import participant_in

pytestmark = pytest.mark.django_db

CURRENT = reverse("v1:rating-trial-current")


def give_every_song_a_file(study) -> None:
    for index, song in enumerate(study.songs.all()):
        song.delivery_audio.name = f"audio/{index:064x}.m4a"
        song.save(update_fields=["delivery_audio"])


def test_the_song_announced_as_upcoming_is_the_next_one_served(api_client, small_study):
    give_every_song_a_file(small_study)
    participant = participant_in(small_study)
    api_client.credentials(HTTP_AUTHORIZATION=f"Participant {participant.token}")
    trial = api_client.get(CURRENT).json()["trial"]

    for _ in range(small_study.trials_per_participant - 1):
        announced = trial["upcoming_audio_url"]
        assert announced is not None
        body = {
            "ratings": {str(term["id"]): 3 for term in trial["terms"]},
            "audio_played_seconds": 30.0,
        }
        submitted = api_client.post(
            reverse("v1:rating-trial-submit", kwargs={"trial_id": trial["id"]}), body, format="json"
        ).json()
        trial = submitted["next"]["trial"]
        assert trial["song"]["audio_url"] == announced

    # The last regular trial announces nothing: the repeat comes from earlier songs.
    assert trial["upcoming_audio_url"] is None
    held = Trial.objects.get(pk=trial["id"])
    assert song_audio_url(held.song) == trial["song"]["audio_url"]
