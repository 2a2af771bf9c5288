"""Recruiter ids never reach the logs through a database error's message."""

from __future__ import annotations

import io
import logging

import pytest
from django.db import IntegrityError, transaction

from moodlab.studies.models import RecruiterIdentity
from moodlab.studies.services.participants import participant_enter
from tests.rating.factories import rating_study_with

pytestmark = pytest.mark.django_db
PANEL_ID = "5f1c0ffee0ddba11c0ffee42"


@pytest.fixture
def console():
    """What the configured console handler (settings.LOGGING) writes."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_a_database_error_is_logged_without_the_values_it_quotes(console):
    study = rating_study_with(trials_per_participant=3, repeat_trials=0, slug="logs")
    for panel_id in (PANEL_ID, "another-panel-id"):
        participant_enter(
            study=study, locale=study.locales.get(), recruiter_participant_id=panel_id
        )
    try:
        with transaction.atomic():
            RecruiterIdentity.objects.filter(recruiter_participant_id="another-panel-id").update(
                recruiter_participant_id=PANEL_ID
            )
    except IntegrityError as error:
        assert PANEL_ID in str(error)  # PostgreSQL's DETAIL quotes the key's values
        logging.getLogger("django.request").error("Internal Server Error: /x", exc_info=True)
        logging.getLogger("moodlab.middleware").warning("database unavailable: %s", error)
    else:
        pytest.fail("the duplicate panel id was stored")
    logged = console.getvalue()
    assert "IntegrityError" in logged and "Traceback" in logged
    assert "one_participant_per_recruiter_id" in logged or "SQLSTATE 23505" in logged
    assert PANEL_ID not in logged
