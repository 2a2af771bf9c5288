"""Issue 19, points 1 and 2: songs transcoded once, loudness-normalised, served by ranges."""

from __future__ import annotations

import io
import wave

import av
import boto3
import httpx
import numpy as np
import pytest
from rest_framework.test import APIClient

from moodlab.audio import calibration_wav, headphone_trial_wav
from moodlab.audio_codec import audio_decode, integrated_loudness, wav_to_m4a
from moodlab.studies.models import Song
from moodlab.studies.services.song_audio import song_audio_deliver, song_audio_url
from moodlab.studies.services.song_import import songs_import
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db

HEADER = "videoID,iso2,country,song,artist\n"


def cd_wav(seconds: float, *, level_db: float = 0.0, seed: int = 1) -> bytes:
    """CD-quality stereo (44.1 kHz, 16 bit): a chord with some noise, at a relative level."""
    rng = np.random.default_rng(seed)
    time = np.arange(round(seconds * 44100)) / 44100
    chord = sum(np.sin(2 * np.pi * f * time) for f in (220.0, 277.2, 329.6)) / 3
    left = 0.3 * chord + 0.02 * rng.standard_normal(len(time))
    right = 0.3 * np.roll(chord, 50) + 0.02 * rng.standard_normal(len(time))
    signal = np.column_stack([left, right]) * 10 ** (level_db / 20)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(44100)
        writer.writeframes((np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


class Clips:
    def __init__(self, clips: dict[str, bytes]) -> None:
        self.clips = clips

    def names(self) -> dict[str, str]:
        return {name: f"{name}.wav" for name in self.clips}

    def open(self, name: str) -> io.BytesIO:
        return io.BytesIO(self.clips[name.removesuffix(".wav")])


def import_clips(study, clips: dict[str, bytes], capture) -> list[Song]:
    csv = HEADER + "".join(f"{name},FR,France,{name},A\n" for name in clips)
    with capture(execute=True):  # the delivery task is queued when the import commits
        songs_import(study=study, csv_source=csv, audio=Clips(clips))
    return list(study.songs.order_by("external_id"))


def test_an_imported_song_is_transcoded_once_to_aac_in_m4a_and_its_original_kept(
    django_capture_on_commit_callbacks,
):
    original = cd_wav(20)
    [song] = import_clips(StudyFactory(), {"loud": original}, django_capture_on_commit_callbacks)

    assert song.audio.read() == original
    assert song.delivery_audio.name.startswith("audio/") and song.delivery_audio.name.endswith(
        ".m4a"
    )
    with av.open(song.delivery_audio.open("rb")) as container:
        stream = container.streams.audio[0]
        assert container.format.name.startswith("mov,mp4,m4a")
        assert (stream.codec_context.name, stream.codec_context.sample_rate) == ("aac", 44100)
        assert stream.codec_context.channels == 2
        kbps = song.delivery_audio.size * 8 / 20 / 1000
    assert 110 < kbps < 150  # 128 kbps stereo: transparent for music, ~8 % of the WAV
    assert song.delivery_audio.size < 0.1 * len(original)


def test_songs_are_normalised_to_the_study_loudness_and_the_gain_recorded(
    django_capture_on_commit_callbacks,
):
    study = StudyFactory(audio_target_lufs=-18.0)
    clips = {"loud": cd_wav(10, level_db=0.0), "quiet": cd_wav(10, level_db=-12.0, seed=2)}
    loud, quiet = import_clips(study, clips, django_capture_on_commit_callbacks)

    assert loud.loudness_lufs - quiet.loudness_lufs == pytest.approx(12.0, abs=0.3)
    for song in (loud, quiet):
        assert song.loudness_gain_db == pytest.approx(-18.0 - song.loudness_lufs, abs=0.05)
        delivered = audio_decode(song.delivery_audio.open("rb"))
        assert integrated_loudness(*delivered) == pytest.approx(-18.0, abs=0.5)


def test_a_gain_that_would_clip_is_held_below_the_peak_ceiling(django_capture_on_commit_callbacks):
    study = StudyFactory(audio_target_lufs=-6.0)  # far louder than the clip can go
    [song] = import_clips(study, {"clip": cd_wav(5)}, django_capture_on_commit_callbacks)

    samples, _ = audio_decode(song.delivery_audio.open("rb"))
    assert song.loudness_gain_db < -6.0 - song.loudness_lufs
    assert np.max(np.abs(samples)) < 1.0


def test_prescreen_sounds_are_compressed_but_keep_their_calibrated_level():
    for wav in (calibration_wav(), headphone_trial_wav(2)):
        source = audio_decode(io.BytesIO(wav))
        delivered = audio_decode(io.BytesIO(wav_to_m4a(wav)))
        assert integrated_loudness(*delivered) == pytest.approx(
            integrated_loudness(*source), abs=0.3
        )


def test_a_failed_transcode_is_recorded_and_the_original_still_served(
    django_capture_on_commit_callbacks,
):
    [song] = import_clips(StudyFactory(), {"a": cd_wav(2)}, django_capture_on_commit_callbacks)
    Song.objects.filter(pk=song.pk).update(delivery_audio="")
    song.audio.storage.delete(song.audio.name)

    song = song_audio_deliver(song_id=song.pk)
    song.refresh_from_db()
    assert song.delivery_error and not song.delivery_audio


# --- ranges and caching --------------------------------------------------------------------


@pytest.fixture
def served(django_capture_on_commit_callbacks) -> tuple[str, bytes]:
    [song] = import_clips(StudyFactory(), {"a": cd_wav(5)}, django_capture_on_commit_callbacks)
    return song_audio_url(song), song.delivery_audio.read()


def test_audio_is_served_whole_with_its_length_and_a_long_private_cache(served):
    url, data = served
    response = APIClient().get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Length"] == str(len(data))
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "audio/mp4"
    cache = response["Cache-Control"]
    assert cache.startswith("private, max-age=") and cache.endswith("immutable")
    assert int(cache.split("max-age=")[1].split(",")[0]) >= 2 * 3600


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", -50, None)],
)
def test_a_byte_range_gets_206_with_its_content_range(served, header, start, end):
    url, data = served
    response = APIClient().get(url, HTTP_RANGE=header)
    expected = data[start:] if end is None else data[start : end + 1]
    first = start if start >= 0 else len(data) + start
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == expected
    assert response["Content-Length"] == str(len(expected))
    assert response["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(data)}"


def test_a_range_past_the_end_gets_416_and_a_known_version_304(served):
    url, data = served
    past = APIClient().get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(data)}"
    etag = APIClient().get(url)["ETag"]
    assert APIClient().get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_the_same_song_keeps_one_link_within_the_hour(served, django_capture_on_commit_callbacks):
    url, _ = served
    song = Song.objects.get()
    assert song_audio_url(song) == url  # so the browser's cache serves a repeat trial


# --- S3 (moto server mode) -----------------------------------------------------------------

BUCKET = "moodlab-audio"


@pytest.fixture
def s3(settings, s3_endpoint, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.USES_S3 = True
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = s3_endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"location": "media", "object_parameters": settings.AUDIO_OBJECT_PARAMETERS},
        },
    }
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_on_s3_songs_live_under_content_names_and_play_by_presigned_ranges(
    s3, django_capture_on_commit_callbacks
):
    clips = {"aCAREwXaU9M": cd_wav(5)}
    [song] = import_clips(StudyFactory(), clips, django_capture_on_commit_callbacks)

    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {f"media/{song.audio.name}", f"media/{song.delivery_audio.name}"}
    head = s3.head_object(Bucket=BUCKET, Key=f"media/{song.delivery_audio.name}")
    assert head["ContentType"] == "audio/mp4"
    assert "immutable" in head["CacheControl"]

    url = song_audio_url(song)
    assert "Signature=" in url and "Expires=" in url and song.external_id not in url
    ranged = httpx.get(url, headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100


def test_audio_stored_under_the_old_names_is_renamed_by_content_and_encoded(
    django_capture_on_commit_callbacks,
):
    from django.core.files.base import ContentFile
    from django.core.management import call_command

    study = StudyFactory()
    songs_import(study=study, csv_source=HEADER + "aCAREwXaU9M,FR,France,One,A\n")
    song = study.songs.get()
    original = cd_wav(2)
    song.audio.name = song.audio.storage.save(
        f"songs/{study.slug}/aCAREwXaU9M.wav", ContentFile(original)
    )
    song.audio_sha256 = "stale"
    song.save()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("renew_song_audio", study=study.slug)

    song.refresh_from_db()
    assert song.audio.name.startswith("audio/original/") and song.audio.read() == original
    assert song.delivery_audio.name.endswith(".m4a")
    assert not song.audio.storage.exists(f"songs/{study.slug}/aCAREwXaU9M.wav")
