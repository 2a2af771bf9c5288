"""The rating loop on the embedded default (SQLite), which the rest of the suite, on
PostgreSQL, does not reach: allocation's plain SQL must hold on both, and a few sessions at
once must not fail on SQLite's single writer."""

import pytest

from tests.embedded import run_on_embedded_default

RATE_ON_SQLITE = """
import json, django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from moodlab.studies.models import Participant, Study
from rating.models import Cell, Rating, Trial

call_command("migrate", verbosity=0)
call_command("create_demo_study", verbosity=0)
Study.objects.filter(slug="demo").update(allocation="ALLOCATION")
call_command(
    "simulate_participants", study="demo", locale="en-US", count=4, concurrency=4,
    phase="rating", seed=0, verbosity=0,
)
counted = {
    (row["trial__locale"], row["song"], row["term"]): row["n"]
    for row in Rating.objects.filter(trial__is_repeat=False)
    .values("trial__locale", "song", "term").annotate(n=Count("id"))
}
print(json.dumps({
    "vendor": connection.vendor,
    "completed": Participant.objects.filter(status=Participant.Status.COMPLETED).count(),
    "submitted": Trial.objects.filter(status=Trial.Status.SUBMITTED).count(),
    "held": Trial.objects.filter(status=Trial.Status.HELD).count(),
    "cells_off": sum(
        1 for cell in Cell.objects.all()
        if cell.assigned != counted.get((cell.locale_id, cell.song_id, cell.term_id), 0)
        or cell.rated != cell.assigned
    ),
}))
"""


@pytest.mark.parametrize("allocation", ["balanced", "information"])
def test_sessions_at_once_rate_every_trial_with_an_exact_ledger_on_sqlite(tmp_path, allocation):
    seen = run_on_embedded_default(RATE_ON_SQLITE.replace("ALLOCATION", allocation), tmp_path)
    assert seen["vendor"] == "sqlite"
    assert seen["completed"] == 4
    assert seen["submitted"] > 4  # the sessions rated their trials, not just started
    assert seen["held"] == 0
    assert seen["cells_off"] == 0
