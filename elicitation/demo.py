"""The elicitation demo: a second study whose five locales are still collecting tags.

Next to the `demo` rating study, researchers can watch chains fill (admin: Chains), curate
the elicited tags and select each locale's rating terms (admin: Terms to curate).
"""

from __future__ import annotations

from django.db import transaction

from moodlab.studies.demo import demo_study_prepare
from moodlab.studies.models import Study
from moodlab.studies.services.studies import study_set_phase

DEMO_ELICITATION_SLUG = "demo-elicitation"


@transaction.atomic
def demo_elicitation_study_create(*, songs_per_country: int = 1) -> Study:
    """Create (or bring up to date) `demo-elicitation`, in the elicitation phase. Safe to rerun.

    Prescreens stay on, as in a real study; chains are created when the first participant
    of each locale asks for a turn.
    """
    study = demo_study_prepare(
        slug=DEMO_ELICITATION_SLUG,
        completion_code="MOODLAB-DEMO-TAGS",
        songs_per_country=songs_per_country,
        title="GlobalMood elicitation demo",
        description="Participants describe the songs' mood in their own words.",
        turns_per_participant=10,
    )
    if study.phase == Study.Phase.DRAFT:
        study = study_set_phase(study=study, phase=Study.Phase.ELICITATION, confirm=True)
    return study
