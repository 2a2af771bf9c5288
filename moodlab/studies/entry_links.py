"""The entry link a researcher gives a recruitment panel, one per locale.

The link opens the participant pages' entry (URL name `participant-entry`); the panel
appends its participant id as the locale's `recruiter_id_param`.
"""

from __future__ import annotations

from urllib.parse import quote

from django.urls import reverse

from moodlab.studies.models import StudyLocale

# What a panel's study form expects after `?`: Prolific fills in its {{%…%}} placeholders
# (and its study and session ids, which participant_enter keeps as entry parameters).
PANEL_QUERIES = {
    "PROLIFIC_PID": (
        "PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    ),
}
# Other panels each have their own placeholder syntax; an example id shows where it goes.
EXAMPLE_PARTICIPANT_ID = "TEST-1"


def entry_path(locale: StudyLocale) -> str:
    return reverse(
        "participant-entry", kwargs={"study_slug": locale.study.slug, "locale_code": locale.code}
    )


def entry_link(locale: StudyLocale, *, origin: str) -> str:
    """The absolute link to paste into the panel; `origin` is the site's scheme and host."""
    param = locale.recruiter_id_param
    query = PANEL_QUERIES.get(param, f"{quote(param, safe='')}={EXAMPLE_PARTICIPANT_ID}")
    return f"{origin.rstrip('/')}{entry_path(locale)}?{query}"
