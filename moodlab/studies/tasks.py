from celery import shared_task

from moodlab.studies.services import participants_expire_stale


@shared_task(name="studies.expire_stale_participants", soft_time_limit=240, time_limit=300)
def expire_stale_participants() -> int:
    """Run every minute by beat: frees chains and trials that abandoned browsers hold."""
    return participants_expire_stale()
