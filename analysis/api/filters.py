"""Filters of the public snapshot catalogue, shared by the API and the /data/ page."""

from __future__ import annotations

import django_filters

from analysis.models import Snapshot
from moodlab.studies.models import DATA_LICENCES


class CatalogueFilter(django_filters.FilterSet):
    study = django_filters.CharFilter(
        field_name="study__slug", label="Study", help_text="Study slug."
    )
    licence = django_filters.ChoiceFilter(
        field_name="study__licence",
        label="Licence",
        choices=[(spdx, spdx) for spdx, _name in DATA_LICENCES],
        help_text="SPDX licence id.",
    )
    locale = django_filters.CharFilter(
        field_name="study__locales__code",
        distinct=True,
        label="Locale",
        help_text="Locale code, e.g. ko-KR.",
    )

    class Meta:
        model = Snapshot
        fields = ["study", "licence", "locale"]
