from __future__ import annotations

import pytest

from moodlab.studies.models import Study
from tests.rating.factories import rating_study_with


@pytest.fixture
def small_study(db) -> Study:
    """59 songs, 20 terms, 7 per participant, 5 trials plus 1 repeat."""
    return rating_study_with(trials_per_participant=5, repeat_trials=1)
