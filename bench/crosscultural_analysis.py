"""Time the whole cross-cultural analysis service on a study the size of GlobalMood.

1,180 songs, the five reference locales with their real 20-term lists, 430 raters per locale
each rating 66 songs on 7 terms: about 1M ratings, simulated with ``moodlab.simulation``
(Korean "sad" made to follow arousal) and loaded into PostgreSQL with COPY. One prediction
set (the model's expectations plus noise, 118,000 rows) is uploaded through the real import
service, so model agreement runs too.

The timed part runs in a fresh process, so its peak resident memory is the analysis' own:
``analysis_run`` (reading the ratings from the database, every statistic, storing the
results JSON) and then rendering every report figure as SVG and PNG.

Run from the repository root with DATABASE_URL set (a migrated database):
    .venv/bin/python -m bench.crosscultural_analysis           # load once, then time
    .venv/bin/python -m bench.crosscultural_analysis --reload  # rebuild the data first
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
from time import perf_counter

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moodlab.settings.base")
django.setup()

import numpy as np  # noqa: E402 - Django must be set up before the models load
import pandas as pd  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from analysis.crosscultural import figures  # noqa: E402
from analysis.crosscultural.computation import AnalysisParams  # noqa: E402
from analysis.crosscultural.services import (  # noqa: E402
    analysis_create,
    analysis_run,
    prediction_set_import,
)
from moodlab.simulation import MoodModel  # noqa: E402
from moodlab.studies.demo import DEMO_DATA, ShortClips, demo_song_rows  # noqa: E402
from moodlab.studies.models import Participant, Study, StudyLocale, Term  # noqa: E402
from moodlab.studies.services.song_import import songs_import  # noqa: E402
from moodlab.studies.services.studies import study_add_reference_locales, study_set_phase  # noqa: E402
from moodlab.studies.services.term_import import terms_import  # noqa: E402
from rating.models import Rating, Trial  # noqa: E402

SLUG = "bench-crosscultural"
SONGS_PER_COUNTRY = 20
RATERS_PER_LOCALE = 430
SONGS_PER_RATER = 66
TERMS_PER_RATER = 7
MODEL = MoodModel(seed=0, term_overrides={("ko", "sad"): (0.0, 0.9)})


def load() -> None:
    """Build the study through the services, then COPY participants' trials and ratings."""
    start = perf_counter()
    Study.objects.filter(slug=SLUG).delete()
    study = Study.objects.create(slug=SLUG, title="Cross-cultural benchmark")
    for locale in study_add_reference_locales(study=study):
        terms_import(
            locale=locale, csv_source=(DEMO_DATA / f"terms_{locale.language}.csv").read_bytes()
        )
    rows = demo_song_rows(SONGS_PER_COUNTRY)
    songs_import(study=study, csv_source=rows, audio=ShortClips.for_rows(rows))
    study = study_set_phase(study=study, phase=Study.Phase.RATING, confirm=True)
    rng = np.random.default_rng(0)
    songs = list(study.songs.order_by("pk").values_list("pk", "external_id"))
    song_ids = np.array([pk for pk, _ in songs])
    total = 0
    with transaction.atomic():
        for locale in study.locales.order_by("code"):
            terms = list(locale.terms.filter(is_selected=True).order_by("pk"))
            expected = np.array(
                [[MODEL.expected(ext, t.label_en, locale.code) for t in terms] for _, ext in songs]
            )
            total += _load_locale(study, locale, terms, song_ids, expected, rng)
    csv = _predictions_csv(study, songs, rng)
    prediction_set_import(study=study, name="noisy-truth", csv_source=csv)
    print(f"loaded {total:,} ratings in {perf_counter() - start:.1f} s")


def _load_locale(
    study: Study,
    locale: StudyLocale,
    terms: list[Term],
    song_ids: np.ndarray,
    expected: np.ndarray,
    rng: np.random.Generator,
) -> int:
    participants = Participant.objects.bulk_create(
        Participant(study=study, locale=locale, phase="rating", status="completed")
        for _ in range(RATERS_PER_LOCALE)
    )
    raters = np.array([p.pk for p in participants])
    # Walking one shuffled song list in turn is the balanced allocation at constant load.
    order = rng.permutation(song_ids.size)
    slots = np.arange(RATERS_PER_LOCALE)[:, None] * SONGS_PER_RATER + np.arange(SONGS_PER_RATER)
    trial_songs = order[slots % song_ids.size]
    trials = pd.DataFrame(
        {
            "participant_id": np.repeat(raters, SONGS_PER_RATER),
            "locale_id": locale.pk,
            "song_id": song_ids[trial_songs.ravel()],
            "position": np.tile(np.arange(SONGS_PER_RATER), RATERS_PER_LOCALE),
            "is_repeat": False,
            "status": Trial.Status.SUBMITTED,
            "assigned_at": "2025-01-01T00:00:00Z",
        }
    )
    _copy(Trial._meta.db_table, trials)
    trial_ids = np.array(
        Trial.objects.filter(participant__in=participants)
        .order_by("participant_id", "position")
        .values_list("pk", flat=True)
    )
    chosen = rng.random((RATERS_PER_LOCALE, len(terms))).argsort(axis=1)[:, :TERMS_PER_RATER]
    leniency = rng.normal(0.0, MODEL.leniency_sd, RATERS_PER_LOCALE)
    shape = (RATERS_PER_LOCALE, SONGS_PER_RATER, TERMS_PER_RATER)
    rater = np.broadcast_to(np.arange(RATERS_PER_LOCALE)[:, None, None], shape)
    song = np.broadcast_to(trial_songs[:, :, None], shape)
    term = np.broadcast_to(chosen[:, None, :], shape)
    noisy = expected[song, term] + leniency[rater] + rng.normal(0.0, MODEL.noise_sd, shape)
    term_ids = np.array([t.pk for t in terms])
    ratings = pd.DataFrame(
        {
            "trial_id": np.repeat(trial_ids, TERMS_PER_RATER),
            "participant_id": raters[rater.ravel()],
            "song_id": song_ids[song.ravel()],
            "term_id": term_ids[term.ravel()],
            "value": np.clip(np.rint(noisy.ravel()), 1, 5).astype(np.int8),
        }
    )
    _copy(Rating._meta.db_table, ratings)
    return len(ratings)


def _copy(table: str, frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)", buffer
        )


def _predictions_csv(study: Study, songs: list[tuple[int, str]], rng: np.random.Generator) -> str:
    lines = ["song,locale,term,score"]
    for locale in study.locales.order_by("code"):
        for term in locale.terms.filter(is_selected=True):
            noise = rng.normal(0.0, 0.3, len(songs))
            lines += [
                f"{ext},{locale.code},{term.key},"
                f"{MODEL.expected(ext, term.label_en, locale.code) + n:.4f}"
                for (_, ext), n in zip(songs, noise, strict=True)
            ]
    return "\n".join(lines) + "\n"


def run() -> None:
    """The timed part: the service end to end, then every figure in both formats."""
    study = Study.objects.get(slug=SLUG)
    start = perf_counter()
    queued = analysis_create(study=study, params=AnalysisParams())
    analysis = analysis_run(analysis_id=queued.pk)
    service = perf_counter() - start
    if analysis.status != "succeeded":
        raise SystemExit(f"analysis failed: {analysis.error}")
    results = analysis.results
    print(
        f"{results['counts']['ratings']:,} ratings, {results['counts']['songs']:,} songs, "
        f"{results['counts']['participants']:,} participants, 5 locales x 20 terms\n"
    )
    print(f"{'stage':<34}{'seconds':>9}")
    for timing in results["timings"]:
        print(f"{timing['stage']:<34}{timing['seconds']:>9.2f}")
    stages = sum(timing["seconds"] for timing in results["timings"])
    print(f"{'storing results':<34}{service - stages:>9.2f}")
    print(f"{'analysis service, end to end':<34}{service:>9.2f}")
    rendering = perf_counter()
    for name in figures.FIGURES:
        for fmt in figures.FORMATS:
            figure_start = perf_counter()
            size = len(figures.render(name, results, fmt=fmt, finished_at=analysis.finished_at))
            label = f"  figure {name}.{fmt}"
            print(f"{label:<34}{perf_counter() - figure_start:>9.2f}  ({size:,} B)")
    print(f"{'figures (4 x SVG + PNG)':<34}{perf_counter() - rendering:>9.2f}")
    print(f"{'TOTAL':<34}{perf_counter() - start:>9.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MB")
    top = results["equivalent_terms"][0]
    print(
        f"\nmost divergent equivalent: {top['gloss']} {top['locale_a']}/{top['locale_b']} "
        f"r={top['r']:.2f} ceiling={top['ceiling']:.2f}"
    )
    for locale in results["reliability"]["per_locale"]:
        space = results["mood_space"][locale["locale"]]["explained_variance"]
        print(
            f"{locale['locale']}: split-half {locale['split_half']:.3f}, "
            f"valence+arousal {space['valence'] + space['arousal']:.2f} of the variance"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reload", action="store_true", help="rebuild the benchmark data")
    parser.add_argument("--run-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_only:
        run()
        return
    if args.reload or not Study.objects.filter(slug=SLUG).exists():
        load()
    connection.close()
    subprocess.run([sys.executable, "-m", "bench.crosscultural_analysis", "--run-only"], check=True)


if __name__ == "__main__":
    main()
