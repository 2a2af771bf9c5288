"""Time the analysis jobs (aggregation, quality control, snapshot export) on PostgreSQL.

Generates a study the shape of GlobalMood (5 locales × 20 terms, 1,180 songs, raters of
65 songs + 1 repeat on 7 terms) with N ratings in SQL (generate_series, no Python loop),
then runs each job through its service and prints seconds and the process's peak
resident memory after each, and, as the I/O floor, how long `COPY (SELECT … FROM
rating_rating) TO STDOUT` of the same ratings takes.

Run from the repository root with DATABASE_URL pointing at a migrated PostgreSQL database:
    .venv/bin/python -m bench.jobs_pipeline                 # 1,000,000 ratings
    .venv/bin/python -m bench.jobs_pipeline --ratings 10000000
The study is deleted afterwards (--keep leaves it for inspection).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moodlab.settings.base")
os.environ.setdefault("MOODLAB_VAR_DIR", tempfile.mkdtemp(prefix="moodlab-bench-"))

import django

django.setup()

from django.db import connection  # noqa: E402

from analysis.services.aggregation import cells_aggregate  # noqa: E402
from analysis.services.quality import quality_check  # noqa: E402
from analysis.services.snapshots import snapshot_export  # noqa: E402
from moodlab.studies.demo import DEMO_DATA, demo_song_rows  # noqa: E402
from moodlab.studies.models import Study  # noqa: E402
from moodlab.studies.services.song_import import songs_import  # noqa: E402
from moodlab.studies.services.studies import study_add_reference_locales  # noqa: E402
from moodlab.studies.services.term_import import terms_import  # noqa: E402

TRIALS = 65  # plus one repeat
TERMS = 7
RATINGS_PER_PARTICIPANT = (TRIALS + 1) * TERMS

# Participants, their 65 trials and one repeat, and 7 ratings per trial, all in SQL. A
# participant's songs are consecutive in a per-participant rotation (no song twice); their
# terms are 7 of the locale's 20 spaced by 3 (distinct); values follow song × term with noise.
GENERATE = """
CREATE TEMP TABLE bench_locale AS
    SELECT id, row_number() OVER (ORDER BY code) - 1 AS idx FROM studies_studylocale
    WHERE study_id = %(study)s;
CREATE TEMP TABLE bench_song AS
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS idx FROM studies_song
    WHERE study_id = %(study)s;
CREATE TEMP TABLE bench_term AS
    SELECT t.id, t.locale_id, row_number() OVER (PARTITION BY t.locale_id ORDER BY t.key) - 1
        AS idx FROM studies_term t JOIN bench_locale l ON l.id = t.locale_id WHERE t.is_selected;

INSERT INTO studies_participant (public_id, token_hash, study_id, locale_id, phase, status,
    started_at, last_seen_at, user_agent, status_reason)
SELECT gen_random_uuid(), md5(random()::text) || g, %(study)s, l.id, 'rating', 'completed',
    now(), now(), '', ''
FROM generate_series(0, %(participants)s - 1) g JOIN bench_locale l ON l.idx = g %% 5;

CREATE TEMP TABLE bench_participant AS
    SELECT id, locale_id, row_number() OVER (ORDER BY id) - 1 AS pn FROM studies_participant
    WHERE study_id = %(study)s;

INSERT INTO rating_trial (participant_id, locale_id, song_id, position, is_repeat, status,
    assigned_at, submitted_at, audio_played_seconds, response_seconds)
SELECT p.id, p.locale_id, s.id, t, false, 'submitted', now(), now(), 30.0,
    CASE WHEN p.pn %% 20 = 0 THEN 7 * 0.4 ELSE 7 * (2.0 + random() * 2) END
FROM bench_participant p CROSS JOIN generate_series(0, %(trials)s - 1) t
JOIN bench_song s ON s.idx = (p.pn * 37 + t) %% (SELECT count(*) FROM bench_song);

INSERT INTO rating_trial (participant_id, locale_id, song_id, position, is_repeat,
    repeat_of_id, status, assigned_at, submitted_at, audio_played_seconds, response_seconds)
SELECT o.participant_id, o.locale_id, o.song_id, %(trials)s, true, o.id, 'submitted', now(),
    now(), 30.0, 14.0
FROM rating_trial o JOIN bench_participant p ON p.id = o.participant_id
WHERE o.position = p.pn %% %(trials)s;

INSERT INTO rating_rating (trial_id, participant_id, song_id, term_id, value)
SELECT tr.id, tr.participant_id, tr.song_id, te.id,
    least(5, greatest(1, 1 + ((tr.song_id * 7 + te.id * 13) %% 5)
        + floor(random() * 3)::int - 1))
FROM rating_trial tr JOIN bench_participant p ON p.id = tr.participant_id
CROSS JOIN generate_series(0, %(terms)s - 1) k
JOIN bench_term te ON te.locale_id = p.locale_id AND te.idx = (p.pn + k * 3) %% 20;

DROP TABLE bench_locale, bench_song, bench_term, bench_participant;
"""

CLEAN_UP = """
DELETE FROM analysis_qualityresult WHERE run_id IN
    (SELECT id FROM analysis_qualityrun WHERE study_id = %(study)s);
DELETE FROM analysis_exclusiondecision WHERE study_id = %(study)s;
DELETE FROM analysis_qualityrun WHERE study_id = %(study)s;
DELETE FROM analysis_cellaggregate WHERE study_id = %(study)s;
DELETE FROM analysis_snapshot WHERE study_id = %(study)s;
DELETE FROM analysis_jobrun WHERE study_id = %(study)s;
DELETE FROM rating_rating WHERE participant_id IN
    (SELECT id FROM studies_participant WHERE study_id = %(study)s);
DELETE FROM rating_trial WHERE is_repeat AND participant_id IN
    (SELECT id FROM studies_participant WHERE study_id = %(study)s);
DELETE FROM rating_trial WHERE participant_id IN
    (SELECT id FROM studies_participant WHERE study_id = %(study)s);
DELETE FROM studies_participant WHERE study_id = %(study)s;
"""

COPY_FLOOR = """
COPY (SELECT r.participant_id, r.song_id, r.term_id, r.value, t.position, t.is_repeat
      FROM rating_rating r JOIN rating_trial t ON t.id = r.trial_id
      JOIN studies_participant p ON p.id = r.participant_id WHERE p.study_id = {study})
TO STDOUT
"""


class CountingSink:
    """Where COPY writes: counts bytes, keeps nothing."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes | str) -> int:
        self.bytes += len(data)
        return len(data)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, step: Callable[[], Any]) -> float:
    started = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - started
    print(f"{label:<28} {seconds:8.2f} s   peak RSS {peak_mb():7.0f} MB   {result}", flush=True)
    return seconds


def create_study(ratings: int) -> Study:
    study = Study.objects.create(slug=f"bench-jobs-{int(time.time())}", title="Jobs benchmark")
    for locale in study_add_reference_locales(study=study):
        terms_import(
            locale=locale, csv_source=(DEMO_DATA / f"terms_{locale.language}.csv").read_bytes()
        )
    songs_import(study=study, csv_source=demo_song_rows(20))
    participants = math.ceil(ratings / RATINGS_PER_PARTICIPANT)
    with connection.cursor() as cursor:
        cursor.execute(
            GENERATE,
            {"study": study.pk, "participants": participants, "trials": TRIALS, "terms": TERMS},
        )
        cursor.execute("ANALYZE studies_participant, rating_trial, rating_rating")
    return study


def copy_floor(study: Study) -> str:
    sink = CountingSink()
    with connection.cursor() as cursor:
        cursor.connection.cursor().copy_expert(COPY_FLOOR.format(study=int(study.pk)), sink)
    return f"{sink.bytes / 1e6:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="Leave the study in the database.")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("The benchmark needs PostgreSQL: set DATABASE_URL.")

    print(f"cores: {os.cpu_count()}, target ratings: {args.ratings:,}", flush=True)
    study: Study | None = None

    def generate() -> str:
        nonlocal study
        study = create_study(args.ratings)
        return f"{study.participants.count():,} participants"

    timed("generate (SQL)", generate)
    assert study is not None
    rating_count = connection.cursor()
    rating_count.execute(
        "SELECT count(*) FROM rating_rating r JOIN studies_participant p "
        "ON p.id = r.participant_id WHERE p.study_id = %s",
        [study.pk],
    )
    print(f"ratings: {rating_count.fetchone()[0]:,}", flush=True)
    print(f"peak RSS before the jobs: {peak_mb():.0f} MB", flush=True)
    total = 0.0
    total += timed("aggregation", lambda: f"{cells_aggregate(study_id=study.pk):,} cells")
    total += timed(
        "quality control",
        lambda: f"{quality_check(study_id=study.pk).participants_excluded:,} excluded",
    )
    total += timed(
        "snapshot export (+aggr.)",
        lambda: f"v{snapshot_export(study_id=study.pk).version}",
    )
    print(f"{'TOTAL (three jobs)':<28} {total:8.2f} s   peak RSS {peak_mb():7.0f} MB", flush=True)
    timed("COPY … TO STDOUT (floor)", lambda: copy_floor(study))
    if not args.keep:
        with connection.cursor() as cursor:
            cursor.execute(CLEAN_UP, {"study": study.pk})
        study.delete()


if __name__ == "__main__":
    main()
