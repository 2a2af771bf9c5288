"""Time a rating session at the reference size on PostgreSQL: allocation plus submission.

One locale of a study with the GlobalMood songs (1,180) and 20 terms, 7 per participant,
65 trials plus 1 repeat. The cell ledger is first filled as if the study were half done
(about 4 of 8 ratings per song × term), so the allocation query reads a full ledger. Then
participants run whole sessions through the services the API calls (serve, submit), first
one after another, then several at once in threads to show the per-locale lock's cost.

Run from the repository root, with DATABASE_URL pointing at a PostgreSQL database:
    .venv/bin/python -m bench.rating_allocation [--participants 20] [--threads 8]
The benchmark study is deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import uuid
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moodlab.settings.base")
django.setup()

import numpy as np  # noqa: E402
from django.db import connection  # noqa: E402

from moodlab.studies.demo import DEMO_DATA, ShortClips, demo_song_rows  # noqa: E402
from moodlab.studies.models import Participant, Study  # noqa: E402
from moodlab.studies.services.song_import import songs_import  # noqa: E402
from moodlab.studies.services.studies import study_add_locale, study_set_phase  # noqa: E402
from moodlab.studies.services.term_import import terms_import  # noqa: E402
from rating.models import Cell, Trial  # noqa: E402
from rating.services import session_terms, trial_serve, trial_submit  # noqa: E402


def build_study() -> Study:
    study = Study.objects.create(
        slug=f"bench-rating-{uuid.uuid4().hex[:8]}", title="Rating allocation benchmark"
    )
    locale = study_add_locale(study=study, code="en-US")
    terms_import(locale=locale, csv_source=(DEMO_DATA / "terms_en.csv").read_bytes())
    rows = demo_song_rows(20)
    songs_import(study=study, csv_source=rows, audio=ShortClips.for_rows(rows))
    study = study_set_phase(study=study, phase=Study.Phase.RATING, confirm=True)
    rng = np.random.default_rng(0)
    Cell.objects.bulk_create(
        Cell(
            locale=locale,
            song=song,
            term=term,
            assigned=n,
            rated=n,
            value_sum=3 * n,
            value_square_sum=9 * n,
        )
        for song in study.songs.all()
        for term in locale.terms.filter(is_selected=True)
        for n in [int(rng.integers(3, 6))]
    )
    return study


def run_session(study: Study) -> tuple[float, int, int]:
    """Seconds for the whole session, trials done, SQL statements (savepoints and commits too)."""
    participant = Participant.objects.select_related("study", "locale").get(
        pk=Participant.objects.create(
            study=study, locale=study.locales.get(), phase=Participant.Phase.RATING
        ).pk
    )
    trials = 0
    statements = 0

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    started = perf_counter()
    with connection.execute_wrapper(count):
        while (trial := trial_serve(participant=participant)) is not None:
            terms = session_terms(participant=participant)
            trial_submit(
                participant=participant,
                trial_id=trial.pk,
                ratings={term.pk: 1 + (trial.song_id + term.pk) % 5 for term in terms},
                audio_played_seconds=60.0,
            )
            trials += 1
    return perf_counter() - started, trials, statements


def threaded_session(study: Study) -> tuple[float, int, int]:
    try:
        return run_session(study)
    finally:
        connection.close()


def report(label: str, results: list[tuple[float, int, int]], wall: float) -> None:
    seconds = [r[0] for r in results]
    trials = sum(r[1] for r in results)
    print(
        f"{label:<24}{len(results):>4} sessions  {statistics.median(seconds):7.2f} s median"
        f"  {max(seconds):7.2f} s max  {1000 * sum(seconds) / trials:6.1f} ms per trial"
        f"  {sum(r[2] for r in results) / trials:5.1f} statements per trial"
        f"  {trials / wall:7.0f} trials/s overall"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Point DATABASE_URL at PostgreSQL: the benchmark measures its locking.")
    started = perf_counter()
    study = build_study()
    print(
        f"setup: {study.songs.count()} songs, {Cell.objects.filter(locale__study=study).count()}"
        f" cells prefilled, {perf_counter() - started:.1f} s"
    )
    try:
        started = perf_counter()
        results = [run_session(study) for _ in range(args.participants)]
        report("one at a time", results, perf_counter() - started)
        started = perf_counter()
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            results = list(pool.map(lambda _: threaded_session(study), range(args.participants)))
        report(f"{args.threads} threads at once", results, perf_counter() - started)
    finally:
        # Repeats protect their originals: they go first.
        Trial.objects.filter(participant__study=study, is_repeat=True).delete()
        Participant.objects.filter(study=study).delete()
        study.delete()


if __name__ == "__main__":
    main()
