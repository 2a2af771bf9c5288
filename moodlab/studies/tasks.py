from celery import shared_task

from moodlab.studies.services.participants import participants_expire_stale


@shared_task(name="studies.expire_stale_participants", soft_time_limit=240, time_limit=300)
def expire_stale_participants() -> int:
    """Run every minute by beat: frees chains and trials that abandoned browsers hold."""
    return participants_expire_stale()


@shared_task(name="studies.deliver_song_audio", soft_time_limit=240, time_limit=300)
def deliver_song_audio(song_id: int) -> str:
    """Transcode one song's original for participants (AAC, loudness-normalised)."""
    from moodlab.studies.services.song_audio import song_audio_deliver

    song = song_audio_deliver(song_id=song_id)
    return song.delivery_audio.name or song.delivery_error
