from celery import shared_task

from rating.services import trials_release_abandoned


@shared_task(name="rating.release_abandoned_trials", soft_time_limit=240, time_limit=300)
def release_abandoned_trials() -> int:
    """Give the songs held by sessions that timed out or ended back to the allocator."""
    return trials_release_abandoned()
