"""The answer scale of both phases, defined once: 1 (not expressing at all) to 5 (extremely).

Rating trials rate terms on it and elicitation turns give earlier tags 1 to 5 stars on it.
The database constraints, the services, the API fields and the simulated participants read
its bounds from here; the participant page gets its points and labels from the trial API,
so the scripts hold no number of their own.
"""

from django.utils.translation import gettext_lazy as _

SCALE_MIN = 1
SCALE_MAX = 5
SCALE_LABELS = {
    1: _("Not expressing at all"),
    2: _("Slightly"),
    3: _("Moderately"),
    4: _("Very"),
    5: _("Extremely"),
}
SCALE_VALUES = range(SCALE_MIN, SCALE_MAX + 1)


def in_scale(value: int) -> bool:
    return SCALE_MIN <= value <= SCALE_MAX
