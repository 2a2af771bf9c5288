"""A song's audio: the original kept as uploaded, a delivery file participants hear, and links.

Every upload path (the admin's Song form, the CSV/zip import, `import_songs`) stores through
`song_audio_store`: the content must decode as audio, and the file is named by its SHA-256
and the extension of the format found, never by the uploader's name. Transcoding to AAC with
loudness normalisation (`song_audio_deliver`) runs once per original, in a Celery task
queued when the import commits: a study of 1,180 songs takes minutes of CPU, which no web
request may wait for (on the embedded default the task runs in-process at import).

Participants reach audio only through `song_audio_url`: a signed link that expires (a
presigned URL on S3), or a permanent public link where the study publishes its audio. The
names are content hashes, so a link says nothing about the song, the study or a participant.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import Q
from django.db.models.fields.files import FieldFile
from django.urls import reverse

from moodlab.audio_codec import DELIVERY_EXTENSION, ProbedAudio, audio_deliver, audio_probe
from moodlab.queueing import task_publish_on_commit
from moodlab.studies.models import Song, Study

logger = logging.getLogger(__name__)

AUDIO_LINK_SALT = "moodlab.song-audio"
# A link is valid for at least this long, and reissued links stay identical for an hour,
# so the browser's cache holds across the trials of a session.
AUDIO_LINK_SECONDS = 2 * 60 * 60
AUDIO_LINK_BUCKET_SECONDS = 60 * 60


def sha256_of(source: IO[bytes]) -> str:
    source.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: source.read(1024 * 1024), b""):
        digest.update(chunk)
    source.seek(0)
    return digest.hexdigest()


def song_audio_probe(source: IO[bytes]) -> ProbedAudio:
    """The content's format and duration; ValueError when it is not decodable audio."""
    probed = audio_probe(source)
    source.seek(0)
    return probed


@transaction.atomic
def song_audio_store(*, song: Song, source: IO[bytes], probed: ProbedAudio | None = None) -> bool:
    """Keep `source` as the song's original (validated, content-named) and queue its delivery.

    Returns False when the song already has this exact file. The song row is saved; a
    replaced file is deleted once the new row is committed, and only if no song still uses it.
    """
    probed = probed or song_audio_probe(source)
    digest = sha256_of(source)
    if digest == song.audio_sha256 and song.audio:
        return False
    replaced = [name for name in (song.audio.name, song.delivery_audio.name) if name]
    _store_by_content(song.audio, f"{digest}.{probed.extension}", source)
    song.audio_sha256 = digest
    if song.duration_seconds is None:
        song.duration_seconds = round(probed.duration_seconds, 3)
    song.delivery_audio = ""
    song.loudness_lufs = song.loudness_gain_db = None
    song.delivery_error = ""
    song.save()
    transaction.on_commit(lambda: _delete_unused(song.audio.storage, replaced))
    song_audio_queue_delivery(song_id=song.pk)
    return True


def song_audio_queue_delivery(*, song_id: int) -> None:
    from moodlab.studies.tasks import deliver_song_audio

    task_publish_on_commit(
        lambda: deliver_song_audio.delay(song_id), what=f"audio delivery of song {song_id}"
    )


def study_audio_redeliver(*, study: Study) -> int:
    """Re-encode every song of the study (after its loudness target changed)."""
    song_ids = list(study.songs.exclude(audio="").values_list("pk", flat=True))
    for song_id in song_ids:
        song_audio_queue_delivery(song_id=song_id)
    return len(song_ids)


def study_audio_renew(*, study: Study) -> tuple[int, list[str]]:
    """Bring a study's audio up to date: originals stored before content names (at
    `songs/<slug>/<external id>.<ext>`) are checked and re-stored by content, and every song
    without a delivery file is queued for encoding. Returns (songs queued, problems)."""
    queued, problems = 0, []
    for song in study.songs.exclude(audio=""):
        if not (song.audio.name or "").startswith("audio/original/"):
            song.audio_sha256 = ""  # so the same content is stored again, under its new name
            try:
                with song.audio.open("rb") as original:
                    song_audio_store(song=song, source=original)  # queues its delivery
            except (ValueError, OSError) as error:
                problems.append(f"{song.external_id}: {error}")
                continue
            queued += 1
        elif not song.delivery_audio:
            song_audio_queue_delivery(song_id=song.pk)
            queued += 1
    return queued, problems


def song_audio_deliver(*, song_id: int) -> Song:
    """Encode the song's original for delivery at its study's loudness target; idempotent.

    Runs outside a transaction while it encodes (seconds per song), then records the file
    and the loudness figures only if the original is still the one encoded.
    """
    song = Song.objects.select_related("study").get(pk=song_id)
    if not song.audio:
        return song
    digest, target = song.audio_sha256, song.study.audio_target_lufs
    try:
        with song.audio.open("rb") as original:
            delivery = audio_deliver(original, target_lufs=target)
    except (ValueError, OSError) as error:
        Song.objects.filter(pk=song_id, audio_sha256=digest).update(delivery_error=str(error)[:300])
        logger.warning("audio delivery of song %s failed: %s", song_id, error)
        return song
    try:
        with transaction.atomic():
            song = Song.objects.select_for_update().get(pk=song_id)
            if song.audio_sha256 != digest:
                return song  # replaced meanwhile: the newer original has its own task
            replaced = song.delivery_audio.name
            with delivery.path.open("rb") as encoded:
                _store_by_content(
                    song.delivery_audio, f"{sha256_of(encoded)}.{DELIVERY_EXTENSION}", encoded
                )
            song.loudness_lufs = delivery.loudness_lufs
            song.loudness_gain_db = delivery.gain_db
            song.delivery_error = ""
            song.save(
                update_fields=[
                    "delivery_audio",
                    "loudness_lufs",
                    "loudness_gain_db",
                    "delivery_error",
                ]
            )
            if replaced and replaced != song.delivery_audio.name:
                transaction.on_commit(lambda: _delete_unused(song.audio.storage, [replaced]))
    finally:
        delivery.path.unlink(missing_ok=True)
    return song


def song_audio_url(song: Song) -> str | None:
    """Where a participant's browser fetches the song: delivery file, else the original.

    Signed and expiring; participants of a study that publishes its audio get one too.
    """
    name = song.delivery_audio.name or song.audio.name
    if not name:
        return None
    if settings.USES_S3:
        # Presigned and expiring (AWS_QUERYSTRING_EXPIRE); the key is a content hash.
        return str(song.audio.storage.url(name))
    return reverse("signed-audio", kwargs={"signed": _sign(name)})


def song_public_audio_url(song: Song) -> str | None:
    """A permanent link to the delivery file, only where the study publishes its audio."""
    if not (song.study.audio_public and song.delivery_audio.name):
        return None
    if settings.USES_S3:
        return str(song.delivery_audio.storage.url(song.delivery_audio.name))
    return reverse("public-audio", kwargs={"name": Path(song.delivery_audio.name).name})


def _sign(name: str) -> str:
    # The expiry is rounded up to the hour: the same song gives the same link for an hour.
    now = time.time()
    expires = math.ceil((now + AUDIO_LINK_SECONDS) / AUDIO_LINK_BUCKET_SECONDS)
    payload = {"f": name, "e": expires * AUDIO_LINK_BUCKET_SECONDS}
    # A plain Signer: a TimestampSigner would make every link unique, defeating the cache.
    return signing.Signer(salt=AUDIO_LINK_SALT).sign_object(payload)


def signed_audio_name(signed: str) -> tuple[str, int] | None:
    """The storage name a signed link grants and its expiry (epoch s); None if invalid or old."""
    try:
        payload = signing.Signer(salt=AUDIO_LINK_SALT).unsign_object(signed)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("e", 0) < time.time():
        return None
    return str(payload["f"]), int(payload["e"])


def public_audio_name(name: str) -> str | None:
    """The storage name of a delivery file a study publishes; None when none does."""
    stored = f"audio/{name}"
    published = Song.objects.filter(Q(delivery_audio=stored), study__audio_public=True)
    return stored if published.exists() else None


def _store_by_content(field: FieldFile, name: str, source: IO[bytes]) -> None:
    """Point `field` at `name` under its folder, writing the bytes only if not stored yet."""
    full_name = field.field.generate_filename(field.instance, name)
    if field.storage.exists(full_name):
        field.name = full_name
        return
    source.seek(0)
    field.save(name, File(source, name=name), save=False)


def _delete_unused(storage: Storage, names: list[str]) -> None:
    for name in names:
        if not Song.objects.filter(Q(audio=name) | Q(delivery_audio=name)).exists():
            storage.delete(name)
