"""Aggregation and export on the embedded default (SQLite), where the rest of the suite,
on PostgreSQL, does not go: cells of one rating have no standard deviation, and SQLite's
STDDEV_SAMP raised on them, failing the whole job."""

from tests.embedded import run_on_embedded_default

AGGREGATE_ON_SQLITE = """
import json, statistics, django
django.setup()
from django.core.management import call_command
from django.db import connection
from analysis.models import CellAggregate
from analysis.services.snapshots import snapshot_export
from moodlab.studies.models import Study
from rating.models import Rating

call_command("migrate", verbosity=0)
call_command("create_demo_study", verbosity=0)
demo = Study.objects.get(slug="demo")
demo.songs.exclude(pk__in=list(demo.songs.values_list("pk", flat=True)[:6])).delete()
call_command("simulate_participants", study="demo", locale="en-US", count=3, seed=1, verbosity=0)
call_command("aggregate_ratings", study="demo", verbosity=0)
snapshot = snapshot_export(study_id=Study.objects.get(slug="demo").pk)
wrong = 0
for cell in CellAggregate.objects.filter(n__gt=1):
    values = list(Rating.objects.filter(
        song=cell.song_id, term=cell.term_id, trial__is_repeat=False
    ).values_list("value", flat=True))
    wrong += abs(cell.sd - statistics.stdev(values)) > 1e-9
print(json.dumps({
    "vendor": connection.vendor,
    "single": CellAggregate.objects.filter(n=1).count(),
    "single_with_sd": CellAggregate.objects.filter(n=1, sd__isnull=False).count(),
    "several": CellAggregate.objects.filter(n__gt=1).count(),
    "wrong_sd": wrong,
    "snapshot": snapshot.status,
}))
"""


def test_cells_of_one_rating_aggregate_and_export_on_sqlite(tmp_path):
    seen = run_on_embedded_default(AGGREGATE_ON_SQLITE, tmp_path)
    assert seen["vendor"] == "sqlite"
    assert seen["single"] > 0 and seen["single_with_sd"] == 0
    assert seen["several"] > 0 and seen["wrong_sd"] == 0
    assert seen["snapshot"] == "complete"
