"""Time the analysis jobs (aggregation, quality control, snapshot export) on PostgreSQL.

For each size asked, generates a study the shape of GlobalMood (5 locales × 20 terms,
1,180 songs, raters of 65 songs + 1 repeat on 7 terms) with N ratings in SQL
(generate_series, no Python loop), then runs the three jobs through their services in a
fresh child process, which reports each job's seconds and its own peak resident memory
(ru_maxrss), so one size's peak never hides in another's. The I/O floor is how long
`COPY (SELECT … FROM rating_rating) TO STDOUT` of the same ratings takes.

Targets, printed with PASS/FAIL: the three jobs together in < 60 s and ≤ 8× the COPY
floor at every size; peak memory < 1 GB at every size, and flat (the largest size's peak
at most 1.25× the smallest's).

Run from the repository root with DATABASE_URL pointing at a migrated PostgreSQL database:
    .venv/bin/python -m bench.jobs_pipeline                           # 1,000,000 ratings
    .venv/bin/python -m bench.jobs_pipeline --ratings 1000000 10000000
Each study is deleted afterwards (--keep leaves them for inspection). Generating ten million
ratings takes many minutes: `--generate-only` prepares a study that a later run measures
with `--reuse` (generation is never part of the figures).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
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
SLUG_PREFIX = "bench-jobs-"
MAX_SECONDS = 60.0
MAX_FLOOR_RATIO = 8.0
MAX_PEAK_MB = 1024.0
MAX_PEAK_GROWTH = 1.25

# Participants, their 65 trials and one repeat, and 7 ratings per trial, all in SQL. A
# participant's songs are consecutive in a per-participant rotation (no song twice); their
# terms are 7 of the locale's 20 spaced by 3 (distinct); values follow song × term with noise.
# The rows are valid by construction, so the transaction skips the foreign-key triggers
# (replica role, which needs a superuser): their deferred checks, one per reference and row,
# took most of the generation's time.
GENERATE = """
SET LOCAL session_replication_role = replica;
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
SELECT gen_random_uuid(), md5(random()::text || g), %(study)s, l.id, 'rating', 'completed',
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

# What the jobs derive: removed before a --reuse run too, so that a kept study is measured
# from the state a new one has (no cells to update, no verdicts to compare with).
RESULTS_RESET = """
DELETE FROM analysis_qualityresult WHERE run_id IN
    (SELECT id FROM analysis_qualityrun WHERE study_id = %(study)s);
DELETE FROM analysis_exclusiondecision WHERE study_id = %(study)s;
DELETE FROM analysis_qualityrun WHERE study_id = %(study)s;
DELETE FROM analysis_cellaggregate WHERE study_id = %(study)s;
DELETE FROM analysis_snapshot WHERE study_id = %(study)s;
DELETE FROM analysis_jobrun WHERE study_id = %(study)s;
"""

CLEAN_UP = """
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

JOBS: dict[str, Callable[[int], str]] = {
    "aggregation": lambda study: f"{cells_aggregate(study_id=study):,} cells",
    "quality control": lambda study: (
        f"{quality_check(study_id=study).participants_excluded:,} excluded"
    ),
    "snapshot export (+aggr.)": lambda study: f"v{snapshot_export(study_id=study).version}",
}


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
    print(f"  {label:<28} {seconds:8.2f} s   {result}", flush=True)
    return seconds


def create_study(ratings: int) -> Study:
    study = Study.objects.create(
        slug=f"{SLUG_PREFIX}{ratings}-{int(time.time())}", title="Jobs benchmark"
    )
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
    return study


def copy_floor(study_id: int) -> str:
    sink = CountingSink()
    with connection.cursor() as cursor:
        cursor.connection.cursor().copy_expert(COPY_FLOOR.format(study=study_id), sink)
    return f"{sink.bytes / 1e6:.0f} MB"


def run_jobs(study_id: int) -> None:
    """The child's part: the three jobs, then one JSON line with their seconds and the peak."""
    seconds = {name: timed(name, lambda job=job: job(study_id)) for name, job in JOBS.items()}
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb()}), flush=True)


@dataclass
class SizeResult:
    ratings: int
    seconds: dict[str, float]
    peak_mb: float
    floor_seconds: float

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    @property
    def ratio(self) -> float:
        return self.total / self.floor_seconds


def kept_study(ratings: int) -> Study | None:
    """The newest study of this size an earlier run kept (--keep or --generate-only)."""
    return Study.objects.filter(slug__startswith=f"{SLUG_PREFIX}{ratings}-").order_by("-pk").first()


def measure(ratings: int, *, keep: bool, reuse: bool) -> SizeResult:
    print(f"\n{ratings:,} ratings", flush=True)
    study = kept_study(ratings) if reuse else None
    if study is None:
        started = time.perf_counter()
        study = create_study(ratings)
        print(f"  {'generate (SQL)':<28} {time.perf_counter() - started:8.2f} s", flush=True)
    else:
        print(f"  reusing the kept study {study.slug}", flush=True)
        with connection.cursor() as cursor:
            cursor.execute(RESULTS_RESET, {"study": study.pk})
    with connection.cursor() as cursor:
        # As autovacuum leaves the tables: statistics, the visibility map that lets
        # index-only scans skip the heap, and no dead index entries left by the results a
        # reused study's last run deleted (a new study has none to step over).
        cursor.execute(
            "VACUUM ANALYZE studies_participant, rating_trial, rating_rating, "
            "analysis_cellaggregate, analysis_qualityresult, analysis_exclusiondecision"
        )
        cursor.execute(
            "SELECT count(*) FROM rating_rating r JOIN studies_participant p "
            "ON p.id = r.participant_id WHERE p.study_id = %s",
            [study.pk],
        )
        print(f"  ratings: {cursor.fetchone()[0]:,}", flush=True)
    child = subprocess.run(
        [sys.executable, "-m", "bench.jobs_pipeline", "--run-jobs", str(study.pk)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    *lines, report = child.stdout.rstrip("\n").splitlines()
    print("\n".join(lines), flush=True)
    figures = json.loads(report)
    floor = timed("COPY … TO STDOUT (floor)", lambda: copy_floor(study.pk))
    if not keep:
        with connection.cursor() as cursor:
            cursor.execute(RESULTS_RESET + CLEAN_UP, {"study": study.pk})
        study.delete()
    return SizeResult(ratings, figures["seconds"], figures["peak_mb"], floor)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def summarise(results: list[SizeResult]) -> None:
    names = list(JOBS)
    print("\n| ratings | " + " | ".join(names) + " | total | peak RSS | COPY floor | ratio |")
    print("|" + " --- |" * (len(names) + 5))
    for r in results:
        jobs = " | ".join(f"{r.seconds[name]:.1f} s" for name in names)
        print(
            f"| {r.ratings:,} | {jobs} | {r.total:.1f} s | {r.peak_mb:.0f} MB "
            f"| {r.floor_seconds:.2f} s | {r.ratio:.1f}× |"
        )
    print()
    for r in results:
        print(
            f"{r.ratings:>12,}: total {r.total:.1f} s < {MAX_SECONDS:.0f} s: "
            f"{verdict(r.total < MAX_SECONDS)}; ratio {r.ratio:.1f}× ≤ {MAX_FLOOR_RATIO:.0f}×: "
            f"{verdict(r.ratio <= MAX_FLOOR_RATIO)}; peak {r.peak_mb:.0f} MB < "
            f"{MAX_PEAK_MB:.0f} MB: {verdict(r.peak_mb < MAX_PEAK_MB)}"
        )
    if len(results) > 1:
        smallest, largest = results[0], results[-1]
        growth = largest.peak_mb / smallest.peak_mb
        print(
            f"peak memory flat from {smallest.ratings:,} to {largest.ratings:,} ratings: "
            f"{growth:.2f}× ≤ {MAX_PEAK_GROWTH}×: {verdict(growth <= MAX_PEAK_GROWTH)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratings", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--keep", action="store_true", help="Leave the studies in the database.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Run on a study of the same size that an earlier run kept, if there is one.",
    )
    parser.add_argument(
        "--generate-only",
        action="store_true",
        help="Only generate (and keep) the studies, for a later run with --reuse.",
    )
    parser.add_argument("--run-jobs", type=int, metavar="STUDY", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("The benchmark needs PostgreSQL: set DATABASE_URL.")
    if args.run_jobs:
        run_jobs(args.run_jobs)
        return
    print(f"cores: {os.cpu_count()}, sizes: {', '.join(f'{n:,}' for n in args.ratings)}")
    if args.generate_only:
        for ratings in args.ratings:
            print(f"{ratings:,} ratings: kept as {create_study(ratings).slug}", flush=True)
        return
    sizes = sorted(args.ratings)
    summarise([measure(ratings, keep=args.keep, reuse=args.reuse) for ratings in sizes])


if __name__ == "__main__":
    main()
