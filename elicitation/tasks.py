from celery import shared_task

from elicitation.services.chains import turns_expire


@shared_task(name="elicitation.expire_turns", time_limit=120, soft_time_limit=100)
def expire_turns() -> int:
    """Run every minute by beat (migration 0002): releases chains of abandoned turns."""
    return turns_expire()
