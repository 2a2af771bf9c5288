import pytest

from elicitation.services.chains import turn_claim
from moodlab.studies.demo import DEMO_ELICITATION_SLUG, demo_elicitation_study_create
from moodlab.studies.models import Study
from moodlab.studies.services.participants import participant_enter
from tests.factories import ready_for_trials

pytestmark = pytest.mark.django_db


def test_the_elicitation_demo_is_created_once_with_five_locales_collecting_tags():
    study = demo_elicitation_study_create()
    again = demo_elicitation_study_create()
    assert study.pk == again.pk and Study.objects.filter(slug=DEMO_ELICITATION_SLUG).count() == 1
    assert study.phase == Study.Phase.ELICITATION
    assert sorted(study.locales.values_list("code", flat=True)) == [
        "ar-EG",
        "en-US",
        "es-MX",
        "fr-FR",
        "ko-KR",
    ]
    assert study.songs.count() == 59 and all(song.audio for song in study.songs.all())
    assert study.headphone_check and study.vocabulary_check and study.ask_consent

    participant, _ = participant_enter(
        study=study, locale=study.locales.get(code="ko-KR"), recruiter_participant_id=""
    )
    turn = turn_claim(participant=ready_for_trials(participant))
    assert turn is not None and turn.song.clip_seconds > 0
