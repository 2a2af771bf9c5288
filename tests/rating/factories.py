"""Rating test data, built through the real services."""

from __future__ import annotations

from moodlab.studies.models import Participant, Study
from tests.conftest import build_study
from tests.factories import ParticipantFactory

NO_PRESCREENS = {
    "ask_consent": False,
    "volume_calibration": False,
    "headphone_check": False,
    "vocabulary_check": False,
}


def rating_study_with(**params: object) -> Study:
    """A rating-phase study with the real songs and terms and no prescreens."""
    return build_study(**{**NO_PRESCREENS, **params})


def participant_in(study: Study, code: str = "en-US") -> Participant:
    return ParticipantFactory(locale=study.locales.get(code=code))
