from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from moodlab.errors import Invalid
from moodlab.studies.models import Participant, Study
from moodlab.studies.services.participants import (
    TOUCH_INTERVAL,
    participant_finish,
    participant_touch,
    participants_expire_stale,
)
from moodlab.studies.services.studies import study_add_locale, study_set_phase
from tests.conftest import beat_task_scheduled_by, build_study
from tests.factories import ParticipantFactory, StudyFactory

pytestmark = pytest.mark.django_db


def test_a_locale_outside_the_reference_five_gets_its_direction_from_its_language():
    study = StudyFactory()
    assert study_add_locale(study=study, code="fa-IR").direction == "rtl"
    assert study_add_locale(study=study, code="de-DE").direction == "ltr"
    assert study_add_locale(study=study, code="ar-EG").name == "العربية (مصر)"


def test_a_malformed_locale_code_is_refused():
    with pytest.raises(ValidationError) as error:
        study_add_locale(study=StudyFactory(), code="english")
    assert "code" in error.value.message_dict


def test_starting_the_rating_phase_freezes_every_locales_terms():
    study = build_study(locales=("en-US", "ar-EG"), phase="draft")
    study_set_phase(study=study, phase=Study.Phase.RATING, confirm=True)
    assert all(locale.terms_frozen_at for locale in study.locales.all())


def test_rating_cannot_start_without_enough_selected_terms():
    study = build_study(locales=("en-US",), phase="draft", terms_per_participant=7)
    locale = study.locales.get()
    locale.terms.filter(rank__gt=5).update(is_selected=False)
    with pytest.raises(Invalid) as error:
        study_set_phase(study=study, phase=Study.Phase.RATING, confirm=True)
    assert "en-US has 5" in str(error.value)
    study.refresh_from_db()
    assert study.phase == Study.Phase.DRAFT
    assert locale.terms_frozen_at is None


def test_a_study_never_moves_back_a_phase():
    study = build_study(phase="rating")
    with pytest.raises(Invalid):
        study_set_phase(study=study, phase=Study.Phase.ELICITATION, confirm=True)


def test_finishing_twice_keeps_the_first_outcome():
    participant = ParticipantFactory()
    participant_finish(participant=participant, status=Participant.Status.COMPLETED)
    participant_finish(participant=participant, status=Participant.Status.COMPLETED)
    with pytest.raises(Invalid):
        participant_finish(participant=participant, status=Participant.Status.SCREENED_OUT)
    assert Participant.objects.get().status == Participant.Status.COMPLETED


@pytest.mark.parametrize(
    ("started_minutes_ago", "seen_minutes_ago", "expected"),
    [
        (2, 2, "started"),  # silent, but within the 3 minutes to first response
        (4, 4, "timed_out"),  # never answered
        (10, 1, "started"),  # active
        (40, 16, "timed_out"),  # inactive for over 15 minutes
        (121, 1, "timed_out"),  # over the 120-minute session
    ],
)
def test_stale_sessions_time_out_by_the_studys_limits(
    started_minutes_ago, seen_minutes_ago, expected
):
    now = timezone.now()
    participant = ParticipantFactory(
        started_at=now - timedelta(minutes=started_minutes_ago),
        last_seen_at=now - timedelta(minutes=seen_minutes_ago),
    )
    participants_expire_stale()
    participant.refresh_from_db()
    assert participant.status == expected


def test_beat_times_out_abandoned_sessions_every_minute():
    task = beat_task_scheduled_by(
        "moodlab.studies.migrations.0002_schedule_participant_expiry",
        "studies.expire_stale_participants",
    )
    assert (task.enabled, task.interval.every, task.interval.period) == (True, 1, "minutes")


def test_the_first_touch_after_the_start_is_always_recorded(django_assert_num_queries):
    now = timezone.now()
    participant = ParticipantFactory(started_at=now, last_seen_at=now)
    with django_assert_num_queries(1):
        participant_touch(participant=participant)
    participant.refresh_from_db()
    assert participant.last_seen_at > now


def test_a_touch_soon_after_the_last_one_writes_nothing(django_assert_num_queries):
    now = timezone.now()
    seen = now - TOUCH_INTERVAL / 2
    participant = ParticipantFactory(started_at=now - timedelta(minutes=5), last_seen_at=seen)
    with django_assert_num_queries(0):
        participant_touch(participant=participant)
    participant.refresh_from_db()
    assert participant.last_seen_at == seen


def test_a_touch_after_the_interval_records_the_time():
    now = timezone.now()
    seen = now - TOUCH_INTERVAL - timedelta(seconds=1)
    participant = ParticipantFactory(started_at=now - timedelta(minutes=5), last_seen_at=seen)
    participant_touch(participant=participant)
    participant.refresh_from_db()
    assert participant.last_seen_at >= now
