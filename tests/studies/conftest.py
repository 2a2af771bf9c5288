from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from moodlab.studies.models import Participant, Study
from moodlab.studies.services.participants import participant_enter
from moodlab.studies.services.studies import study_add_locale
from tests.factories import StudyFactory

PANEL_EXITS = {
    "completion_url": "https://panel.example/done?cc={code}",
    "completion_code": "DONE42",
    "screenout_url": "https://panel.example/out?cc={code}",
    "screenout_code": "OUT 7",
}


@pytest.fixture
def panel_study(db) -> Study:
    """A rating study with every step on, recruited in en-US (with exit links) and ar-EG."""
    study = StudyFactory(phase=Study.Phase.RATING)
    study_add_locale(study=study, code="en-US", **PANEL_EXITS)
    study_add_locale(study=study, code="ar-EG")
    return study


def enter(study: Study, code: str = "en-US") -> Participant:
    participant, _ = participant_enter(
        study=study, locale=study.locales.get(code=code), recruiter_participant_id=uuid.uuid4().hex
    )
    return participant


def client_for(participant: Participant) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Participant {participant.token}")
    return client


@pytest.fixture
def participant(panel_study) -> Participant:
    return enter(panel_study)


@pytest.fixture
def participant_client(participant) -> APIClient:
    return client_for(participant)
