"""Issue 16, points 1, 7, 11 and 15: what researchers upload, and how participants get audio."""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import tracemalloc
import wave
import zipfile
from unittest import mock

import numpy as np
import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from moodlab.audio import song_clip_wav
from moodlab.studies.csv_import import ImportFailed
from moodlab.studies.models import Song, Study
from moodlab.studies.services.prescreens import headphone_positions
from moodlab.studies.services.song_audio import song_audio_url
from moodlab.studies.services.song_import import AudioZip, songs_import
from moodlab.studies.services.studies import study_add_locale, study_set_phase
from rating.models import Trial
from tests.factories import StudyFactory, UserFactory, ready_for_trials
from tests.security.conftest import researcher_of
from tests.studies.conftest import PANEL_EXITS, client_for, enter

pytestmark = pytest.mark.django_db

SCRIPT = b"fetch('/admin/auth/user/add/', {method: 'POST'})"
PAGE = b"<!doctype html><script src='/media/songs/x.js'></script>"
HEADER = "videoID,iso2,country,song,artist\n"


def add_song(client, study, name: str, content: bytes):
    """The admin's Song form, posting the file under both the old and the new field name."""
    data = {
        "study": study.pk,
        "external_id": "dQw4w9WgXcQ",
        "title": "Song",
        "artist": "",
        "country": "FR",
        "audio": SimpleUploadedFile(name, content),
        "audio_upload": SimpleUploadedFile(name, content),
    }
    return client.post(reverse("admin:studies_song_add"), data)


@pytest.mark.parametrize(
    ("name", "content"), [("x.js", SCRIPT), ("x.html", PAGE), ("innocent.wav", PAGE)]
)
def test_the_song_form_refuses_a_file_that_does_not_decode_as_audio(client, name, content):
    study = StudyFactory()
    client.force_login(researcher_of(study, "limited"))
    response = add_song(client, study, name, content)

    assert response.status_code == 200  # the form again, not a redirect
    assert "not playable audio" in response.content.decode()
    assert not Song.objects.exists()


def test_audio_uploaded_under_any_name_is_stored_under_our_name_and_served_as_audio(client):
    study = StudyFactory()
    client.force_login(researcher_of(study, "limited"))
    wav = song_clip_wav("x", seconds=1.0)
    response = add_song(client, study, "x.html", wav)
    assert response.status_code == 302

    song = Song.objects.get()
    assert song.audio.name == f"audio/original/{hashlib.sha256(wav).hexdigest()}.wav"
    served = APIClient().get(song_audio_url(song))
    assert served.status_code == 200
    assert served["Content-Type"] in ("audio/wav", "audio/mp4")
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"].startswith("sandbox")
    # Nothing a researcher uploads is reachable at a path of its own choosing.
    assert APIClient().get(f"/media/{song.audio.name}").status_code == 404
    assert APIClient().get("/media/songs/x.html").status_code == 404


# --- 16.7: zip import ----------------------------------------------------------------------


def silent_wav(seconds: float) -> bytes:
    """CD-quality silence: valid audio that deflate shrinks about a thousand times."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(44100)
        writer.writeframes(bytes(round(seconds * 44100) * 4))
    return buffer.getvalue()


def zipped(members: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def test_a_zip_bomb_member_is_refused_in_the_row_report_without_inflating_it():
    bomb = zipped({"abc.wav": silent_wav(240), "def.wav": song_clip_wav("def", seconds=2)})
    assert len(bomb.getvalue()) < 200_000  # 42 MB of sound in a few dozen KB
    study = StudyFactory()

    tracemalloc.start()
    with pytest.raises(ImportFailed) as failure:
        songs_import(
            study=study,
            csv_source=HEADER + "abc,FR,France,One,A\ndef,FR,France,Two,B\n",
            audio=AudioZip(bomb),
        )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    errors = failure.value.report.errors
    assert [(error.row, error.field) for error in errors] == [(2, "audio")]
    assert "zip bomb" in errors[0].message
    assert peak < 8 * 1024 * 1024
    assert not Song.objects.exists()


def test_zip_members_are_streamed_to_disk_not_held_in_memory():
    # Random bytes do not compress, so these ~19 MB members pass the ratio check: they are
    # refused as undecodable only after being read, and must never be held in memory whole.
    rng = np.random.default_rng(7)
    members = {f"{name}.wav": rng.bytes(19 * 1024 * 1024) for name in ("abc", "def")}
    archive = zipped(members)
    del members

    tracemalloc.start()
    with pytest.raises(ImportFailed) as failure:
        songs_import(
            study=StudyFactory(),
            csv_source=HEADER + "abc,FR,France,A,A\ndef,FR,France,B,B\n",
            audio=AudioZip(archive),
        )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [error.row for error in failure.value.report.errors] == [2, 3]
    assert peak < 8 * 1024 * 1024


def test_the_archive_total_is_capped_and_reported_per_row():
    members = {f"s{i}.wav": song_clip_wav(f"s{i}", seconds=2) for i in range(3)}
    each = len(members["s0.wav"])
    csv = HEADER + "".join(f"s{i},FR,France,T{i},A\n" for i in range(3))
    with pytest.raises(ImportFailed) as failure:
        songs_import(
            study=StudyFactory(),
            csv_source=csv,
            audio=AudioZip(zipped(members), max_total_bytes=2 * each + 10),
        )
    errors = failure.value.report.errors
    assert [(error.row, error.field) for error in errors] == [(4, "audio")]
    assert "in all" in errors[0].message


# --- 16.11: headphone check ----------------------------------------------------------------


def headphone_links(participant) -> list[str]:
    ready = client_for(participant)
    ready.post(reverse("v1:participant-consent"), {"agree": True}, format="json")
    ready.post(reverse("v1:participant-volume"), {"level": 0.5}, format="json")
    test = ready.get(reverse("v1:participant-headphones")).json()
    return [trial["audio_url"] for trial in test["trials"]]


def payload_of(url: str) -> dict:
    signed = url.rstrip("/").rsplit("/", 1)[1]
    return json.loads(signing.b64_decode(signed.split(":")[0].encode()))


def test_headphone_sounds_differ_per_trial_so_no_hash_gives_the_answer():
    study = StudyFactory(phase=Study.Phase.RATING)
    study_add_locale(study=study, code="en-US", **PANEL_EXITS)
    participant = enter(study)
    links = headphone_links(participant)
    sounds = [b"".join(APIClient().get(link).streaming_content) for link in links]
    positions = headphone_positions(participant)

    # Two trials with the same answer still have different bytes.
    assert len({hashlib.sha256(sound).hexdigest() for sound in sounds}) == len(sounds)
    assert len(set(positions)) < len(positions)
    for link in links:
        # The kind, a random name and the masked answer: nothing names a participant or trial.
        assert set(payload_of(link)) == {"k", "n", "c"}


def test_song_audio_links_carry_no_internal_ids(rating_study_with_audio):
    participant = ready_for_trials(enter(rating_study_with_audio))
    trial_url = reverse("v1:rating-trial-current")
    url = client_for(participant).get(trial_url).json()["trial"]["song"]["audio_url"]
    song = Trial.objects.get(participant=participant).song

    payload = payload_of(url)
    assert set(payload) == {"f", "e"}
    assert re.fullmatch(r"audio/(original/)?[0-9a-f]{64}\.(wav|m4a)", payload["f"])
    assert song.external_id not in url and rating_study_with_audio.slug not in url


# --- 16.15: study audio only by signed, expiring links -------------------------------------


@pytest.fixture
def rating_study_with_audio(db):
    from tests.conftest import build_study

    class Clips:
        def names(self) -> dict[str, str]:
            return {"aCAREwXaU9M": "aCAREwXaU9M.wav"}

        def open(self, name: str):
            return io.BytesIO(song_clip_wav(name, seconds=2.0))

    study = build_study(
        audio=Clips(), songs_per_country=1, terms_per_participant=3, phase=Study.Phase.DRAFT
    )
    study.ask_consent = study.volume_calibration = study.headphone_check = False
    study.vocabulary_check = study.questionnaire = study.require_recruiter_id = False
    study.save()
    # Only the song with audio: the rating phase cannot start with songs nobody could play.
    Song.objects.filter(study=study).exclude(external_id="aCAREwXaU9M").delete()
    return study_set_phase(study=study, phase=Study.Phase.RATING, confirm=True)


def test_study_audio_is_not_at_a_guessable_path_and_links_expire(rating_study_with_audio):
    song = rating_study_with_audio.songs.get()
    assert song.audio
    guessable = f"/media/songs/{rating_study_with_audio.slug}/{song.external_id}.wav"
    assert APIClient().get(guessable).status_code == 404

    url = song_audio_url(song)
    assert APIClient().get(url).status_code == 200
    with mock.patch(
        "moodlab.studies.services.song_audio.time.time", return_value=time.time() + 4 * 3600
    ):
        assert APIClient().get(url).status_code == 404
    forged = url[:-3] + ("xyz" if not url.endswith("xyz") else "abc")
    assert APIClient().get(forged).status_code == 404


def test_audio_is_public_only_where_the_study_publishes_it(rating_study_with_audio):
    from moodlab.studies.services.song_audio import (
        song_audio_deliver,
        song_public_audio_url,
    )

    song = song_audio_deliver(song_id=rating_study_with_audio.songs.get().pk)
    name = song.delivery_audio.name.rsplit("/", 1)[1]
    public = reverse("public-audio", kwargs={"name": name})
    assert song_public_audio_url(song) is None
    assert APIClient().get(public).status_code == 404

    rating_study_with_audio.audio_public = True
    rating_study_with_audio.save()
    song.refresh_from_db()
    assert song_public_audio_url(song) == public
    response = APIClient().get(public)
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"


def test_the_admin_player_plays_by_signed_link_not_a_media_path(client):
    # The admin's player uses the same signed links: no raw storage URL appears anywhere.
    study = StudyFactory()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    wav = song_clip_wav("x", seconds=1.0)
    add_song(client, study, "x.wav", wav)
    song = Song.objects.get()
    page = client.get(reverse("admin:studies_song_change", args=[song.pk])).content.decode()
    assert "/media/" not in page and "/audio/" in page
