from datetime import timedelta

from django.utils import timezone

from moodlab.studies.models import Participant
from moodlab.studies.tasks import expire_stale_participants
from tests.factories import ParticipantFactory


def test_a_real_worker_runs_a_task_sent_through_redis_and_returns_its_result(celery_worker_process):
    long_ago = timezone.now() - timedelta(hours=3)
    stale = ParticipantFactory(started_at=long_ago, last_seen_at=long_ago)
    active = ParticipantFactory()

    result = expire_stale_participants.apply_async(queue=celery_worker_process.queue)

    assert result.get(timeout=60) == 1
    assert Participant.objects.get(pk=stale.pk).status == Participant.Status.TIMED_OUT
    assert Participant.objects.get(pk=active.pk).status == Participant.Status.STARTED
