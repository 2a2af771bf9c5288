"""The README's study, end to end, on PostgreSQL and on the embedded default (SQLite):
demo study, simulated raters in five locales (a realistic share of them careless or not
listening), aggregation, quality control, snapshot and analysis."""

from __future__ import annotations

import pytest

from tests.embedded import run_on_embedded_default
from tests.study_rehearsal import LOCALES, rehearse

ON_SQLITE = """
import json, sys, django
from pathlib import Path
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from tests.study_rehearsal import rehearse
seen = rehearse(Path(sys.argv[1]), concurrency=4)
from django.db import connection
print(json.dumps({**seen, "vendor": connection.vendor}))
"""


def check(seen: dict) -> None:
    assert seen["errors"] == []
    assert seen["report"]
    # Every job succeeded: no warning, no failure (the commands raise on either).
    assert set(seen["jobs"]) == {"aggregate_ratings", "check_quality", "export_snapshot"}
    assert seen["attentive"] >= 50 and seen["inattentive"] >= 10
    assert seen["attentive_kept"] >= 0.9 * seen["attentive"], seen
    assert seen["inattentive_excluded"] >= 0.9 * seen["inattentive"], seen
    assert sorted(seen["means_per_locale"]) == sorted(LOCALES)
    assert all(count > 0 for count in seen["means_per_locale"].values())
    assert seen["terms"] and all(label and gloss for _locale, label, gloss in seen["terms"])
    assert {locale for locale, _label, _gloss in seen["terms"]} == set(LOCALES)
    assert all(seen["keys_equal"].values()), seen["keys_equal"]


@pytest.mark.django_db(transaction=True)
def test_a_whole_study_runs_on_postgresql(tmp_path):
    check(rehearse(tmp_path))


def test_a_whole_study_runs_on_the_embedded_default(tmp_path):
    seen = run_on_embedded_default(
        ON_SQLITE,
        tmp_path,
        str(tmp_path),
        env={"THROTTLE_PARTICIPANT_START": "10000/minute"},
        timeout=900,
    )
    assert seen["vendor"] == "sqlite"
    check(seen)
