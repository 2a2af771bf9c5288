"""The study a newcomer runs from the README, end to end, as one function.

`tests/test_study_rehearsal.py` runs it on PostgreSQL (in the test process) and on the
embedded default (SQLite, in a child process with nothing configured). It uses the
commands the README names, in its order, and returns what the test asserts on.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from django.core.files.storage import storages
from django.core.management import call_command

LOCALES = ("en-US", "fr-FR", "es-MX", "ko-KR", "ar-EG")
SONGS = 12
RATERS_PER_LOCALE = 20
INATTENTIVE_SHARE = 0.1


def rehearse(workdir: Path, *, concurrency: int = 6) -> dict[str, Any]:
    from analysis.models import Snapshot
    from analysis.selectors import participants_counted
    from moodlab.studies.models import Participant, Study

    call_command("create_demo_study", verbosity=0)
    study = Study.objects.get(slug="demo")
    # A small study: few songs, short sessions (what a researcher sets in the admin).
    keep = list(study.songs.order_by("external_id").values_list("pk", flat=True)[:SONGS])
    study.songs.exclude(pk__in=keep).delete()
    Study.objects.filter(pk=study.pk).update(trials_per_participant=8, repeat_trials=1)

    outcomes_file = workdir / "outcomes.csv"
    call_command(
        "simulate_participants",
        study="demo",
        locale="all",
        count=RATERS_PER_LOCALE,
        concurrency=concurrency,
        inattentive_share=INATTENTIVE_SHARE,
        outcomes=outcomes_file,
        stdout=io.StringIO(),
    )
    jobs = {}
    for command in ("aggregate_ratings", "check_quality", "export_snapshot"):
        out = io.StringIO()
        call_command(command, study="demo", stdout=out, stderr=out)  # raises unless it succeeded
        jobs[command] = out.getvalue()
    snapshot = Snapshot.objects.get(study=study, version=1)
    call_command(
        "analyze",
        study="demo",
        snapshot="1",
        out=workdir / "analysis",
        repetitions=20,
        stdout=io.StringIO(),
    )

    counted = {
        str(p) for p in participants_counted(study_id=study.pk).values_list("public_id", flat=True)
    }
    raters = list(csv.DictReader(outcomes_file.open(encoding="utf-8")))
    attentive = [r for r in raters if r["rater"] == "careful" and r["attentive"] == "True"]
    inattentive = [r for r in raters if r not in attentive]
    storage = storages["snapshots"]

    def table(name: str) -> tuple[list[dict[str, str]], dict[str, list[Any]]]:
        with storage.open(f"{snapshot.folder}/{name}.csv", "rb") as handle:
            rows = list(csv.DictReader(io.StringIO(handle.read().decode("utf-8"))))
        with storage.open(f"{snapshot.folder}/{name}.parquet", "rb") as handle:
            columns = pq.read_table(handle).to_pydict()
        return rows, columns

    keys_equal = {}
    for name, keys in {
        "songs": ("song_id",),
        "terms": ("term_id", "locale"),
        "ratings": ("participant", "locale", "song_id", "term_id"),
        "mean_ratings": ("locale", "song_id", "term_id"),
        "participants": ("participant", "locale"),
    }.items():
        rows, columns = table(name)
        keys_equal[name] = all(
            [row[key] for row in rows] == [str(value) for value in columns[key]] for key in keys
        )
    terms, _ = table("terms")
    return {
        "errors": [r["error"] for r in raters if r["error"]],
        "participants": Participant.objects.filter(study=study).count(),
        "attentive": len(attentive),
        "attentive_kept": sum(r["participant"] in counted for r in attentive),
        "inattentive": len(inattentive),
        "inattentive_excluded": sum(r["participant"] not in counted for r in inattentive),
        "jobs": jobs,
        "means_per_locale": snapshot.manifest["tables"]["mean_ratings"]["rows_per_locale"],
        "terms": [(t["locale"], t["label"], t["gloss"]) for t in terms],
        "keys_equal": keys_equal,
        "report": (workdir / "analysis" / "report.html").is_file(),
    }
