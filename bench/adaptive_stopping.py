"""Adaptive stopping against the fixed design: ratings spent for the same reliability and error.

One locale (en-US) of a study with one GlobalMood song per country (59 songs) and six of the
English terms, each participant rating 3 of them on 20 songs, 8 ratings wanted per
song × term cell. Simulated careful raters from the planted valence-arousal world
(`moodlab/simulation.py`) take whole sessions through the services the API calls
(`trial_serve`, `trial_submit`) on PostgreSQL, once per design, until the locale is full:

- **fixed**: every cell gets its 8 ratings (adaptive stopping off);
- **adaptive**: a cell retires once its standard error of the mean is under the study's
  threshold (0.35 after at least 4 ratings, the defaults), and allocation skips it;
- **adaptive + information**: as adaptive, and each trial goes to the song whose open cells
  for the participant's terms have the widest standard error (`allocation = information`).

The world is fixed (its seed, `--world-seed`), the raters are drawn from
`--rater-seed` and the replication, participant by participant, so every design meets the
same raters in the same order. `--agreement-spread` sweeps how much the raters' agreement
differs from cell to cell (`MoodModel.agreement_spread`, the sd of log σ across cells; one
world per value, the song coordinates unchanged): adaptive stopping can only save where
some cells need fewer ratings than others. After every session the curve records the
ratings spent so far, the mean over terms of the split-half reliability of song means
(`analysis.statistics.split_half_reliability`) and the mean absolute error of the song × term
means against the planted truth (`MoodModel.expected`). Curves are averaged over
replications on a common grid of ratings spent.

Ratings needed: the first point of a design's mean curve with reliability ≥ `--reliability`
and error ≤ the error the fixed design has where it first reaches that reliability (or
`--max-error`). Target: adaptive stopping needs ≥ 30 % fewer ratings than the fixed design.

The script also prints, per world, the most any allocation could save at equal squared
error: with cell standard deviations σ, spreading the ratings in proportion to σ instead of
evenly saves 1 − mean(σ)² / mean(σ²) (σ from `--oracle-raters` planted raters per cell),
and ends with one line per world: the bound and each design's ratings needed and saving.

Where the time goes (one replication of the fixed design, 46 sessions, load ~3 on 2
cores): 33 s in the services the sessions call, 2 s in `measure` after every session
(reading the ratings and 50 split-half repetitions), so every session is measured.

Run from the repository root, with DATABASE_URL pointing at a PostgreSQL database:
    .venv/bin/python -m bench.adaptive_stopping [--replications 3] \
        [--agreement-spread 0 0.2 0.7] [--figure docs/adaptive-stopping.svg]
The benchmark study is deleted at the end.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moodlab.settings.base")
django.setup()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from django.db import connection  # noqa: E402

from analysis.statistics import split_half_reliability  # noqa: E402
from moodlab.simulation import (  # noqa: E402
    REALISTIC_AGREEMENT_SPREAD,
    MoodModel,
    world_seed_for,
)
from moodlab.studies.demo import DEMO_DATA, ShortClips, demo_song_rows  # noqa: E402
from moodlab.studies.models import Allocation, Participant, Study  # noqa: E402
from moodlab.studies.services.song_import import songs_import  # noqa: E402
from moodlab.studies.services.studies import study_add_locale, study_set_phase  # noqa: E402
from moodlab.studies.services.term_import import terms_import  # noqa: E402
from rating.models import Cell, Rating, Trial  # noqa: E402
from rating.selectors import adaptive_stopping_saving  # noqa: E402
from rating.services import session_terms, trial_serve, trial_submit  # noqa: E402

LOCALE = "en-US"
TERMS = ("happy", "sad", "energetic", "calm", "romantic", "intense")
TARGET_SAVING = 0.30
DESIGNS: Mapping[str, Mapping[str, object]] = {
    "fixed": {"adaptive_stopping": False, "allocation": Allocation.BALANCED},
    "adaptive": {"adaptive_stopping": True, "allocation": Allocation.BALANCED},
    "adaptive + information": {
        "adaptive_stopping": True,
        "allocation": Allocation.INFORMATION,
    },
}


@dataclass(frozen=True)
class Point:
    ratings: int
    reliability: float
    error: float


def build_study(terms: tuple[str, ...], terms_per_participant: int, trials: int) -> Study:
    study = Study.objects.create(
        slug=f"bench-adaptive-{uuid.uuid4().hex[:8]}",
        title="Adaptive stopping benchmark",
        terms_per_locale=len(terms),
        terms_per_participant=terms_per_participant,
        trials_per_participant=trials,
        repeat_trials=0,
    )
    locale = study_add_locale(study=study, code=LOCALE)
    with (DEMO_DATA / "terms_en.csv").open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["grouped_tag"] in terms]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    terms_import(locale=locale, csv_source=out.getvalue())
    songs = demo_song_rows(1)
    songs_import(study=study, csv_source=songs, audio=ShortClips.for_rows(songs))
    return study_set_phase(study=study, phase=Study.Phase.RATING, confirm=True)


def reset(study: Study, design: Mapping[str, object]) -> Study:
    """Forget every session and the ledger, and set the design's parameters."""
    Trial.objects.filter(participant__study=study, is_repeat=True).delete()
    Participant.objects.filter(study=study).delete()
    Cell.objects.filter(locale__study=study).delete()
    Study.objects.filter(pk=study.pk).update(**design)
    return Study.objects.get(pk=study.pk)


def planted_truth(study: Study, model: MoodModel) -> pd.Series:
    """The mean rating an unbiased, noiseless rater gives each song × term."""
    return pd.Series(
        {
            (song, term): model.expected(song, term, LOCALE)
            for song in study.songs.values_list("external_id", flat=True)
            for term in study.locales.get()
            .terms.filter(is_selected=True)
            .values_list("label_en", flat=True)
        }
    )


def measure(study: Study, truth: pd.Series) -> Point:
    ratings = pd.DataFrame(
        Rating.objects.filter(participant__study=study).values_list(
            "participant_id", "song__external_id", "term__label_en", "value"
        ),
        columns=["participant", "song", "term", "value"],
    )
    means = ratings.groupby(["song", "term"])["value"].mean().reindex(truth.index)
    reliability = split_half_reliability(ratings, repetitions=50).per_term["median"]
    return Point(
        ratings=len(ratings),
        # A cell nobody rated yet has no mean: the error is not defined until all have one.
        error=float((means - truth).abs().mean(skipna=False)),
        reliability=float(reliability.mean()),
    )


def sessions(study: Study, model: MoodModel, seed: list[int]) -> Iterator[int]:
    """Run one simulated participant after another until the locale has nothing left;
    yields the trials each one rated."""
    index = 0
    while True:
        rng = np.random.default_rng([*seed, index])
        rater = model.draw_rater(rng)
        participant = Participant.objects.select_related("study", "locale").get(
            pk=Participant.objects.create(
                study=study, locale=study.locales.get(), phase=Participant.Phase.RATING
            ).pk
        )
        rated = 0
        while (trial := trial_serve(participant=participant)) is not None:
            terms = session_terms(participant=participant)
            values, seconds = model.rate_trial(
                rater, trial.song.external_id, [term.gloss for term in terms], LOCALE, rng
            )
            trial_submit(
                participant=participant,
                trial_id=trial.pk,
                ratings={term.pk: value for term, value in zip(terms, values, strict=True)},
                audio_played_seconds=60.0,
                response_seconds=seconds,
            )
            rated += 1
        if rated == 0:
            return
        yield rated
        index += 1


def run(study: Study, model: MoodModel, truth: pd.Series, seed: list[int]) -> list[Point]:
    curve = []
    for _ in sessions(study, model, seed):
        point = measure(study, truth)
        if np.isfinite(point.error) and np.isfinite(point.reliability):
            curve.append(point)
    return curve


def mean_curve(curves: list[list[Point]], step: int) -> list[Point]:
    """Replications' curves averaged on a grid of ratings spent; a run that ended keeps its
    last figures (it spends nothing more)."""
    start = max(curve[0].ratings for curve in curves)
    end = max(curve[-1].ratings for curve in curves)
    grid = np.arange(start - start % step + step, end + step, step)
    reliability = np.mean(
        [np.interp(grid, [p.ratings for p in c], [p.reliability for p in c]) for c in curves],
        axis=0,
    )
    error = np.mean(
        [np.interp(grid, [p.ratings for p in c], [p.error for p in c]) for c in curves], axis=0
    )
    return [
        Point(int(n), float(r), float(e)) for n, r, e in zip(grid, reliability, error, strict=True)
    ]


def first_reaching(curve: list[Point], reliability: float, error: float) -> Point | None:
    return next((p for p in curve if p.reliability >= reliability and p.error <= error), None)


def planted_spreads(study: Study, model: MoodModel, raters: int) -> np.ndarray:
    """σ of each cell: the standard deviation of `raters` planted raters' ratings of it."""
    rng = np.random.default_rng(0)
    profiles = [model.draw_rater(rng) for _ in range(raters)]
    spreads = np.array(
        [
            np.std([model.rate_trial(rater, song, [term], LOCALE, rng)[0][0] for rater in profiles])
            for song, term in planted_truth(study, model).index
        ]
    )
    return spreads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=3)
    parser.add_argument("--reliability", type=float, default=0.9)
    parser.add_argument("--max-error", type=float, default=None)
    parser.add_argument("--world-seed", type=int, default=world_seed_for("bench-adaptive"))
    parser.add_argument("--rater-seed", type=int, default=0)
    parser.add_argument("--oracle-raters", type=int, default=400)
    parser.add_argument(
        "--agreement-spread",
        type=float,
        nargs="+",
        default=[REALISTIC_AGREEMENT_SPREAD],
        help="sd of log σ across cells, one world per value",
    )
    parser.add_argument("--figure", type=Path, default=None)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Point DATABASE_URL at PostgreSQL: the benchmark drives its locking.")
    started = perf_counter()
    study = build_study(TERMS, terms_per_participant=3, trials=20)
    print(
        f"setup: {study.songs.count() * len(TERMS)} cells ({study.songs.count()} songs × "
        f"{len(TERMS)} terms, {study.terms_per_participant} per participant, "
        f"{study.trials_per_participant} trials), target {study.target_ratings_per_cell} per "
        f"cell, {args.replications} replications, {perf_counter() - started:.1f} s"
    )
    try:
        worlds: dict[float, dict[str, list[Point]]] = {}
        summary = []
        for spread in args.agreement_spread:
            # Careful raters only: quality control's catch is measured elsewhere, and careless
            # raters would only add the same noise to both designs.
            model = MoodModel(
                seed=args.world_seed,
                straight_liner_share=0.0,
                random_share=0.0,
                too_fast_share=0.0,
                dropout_probability=0.0,
                agreement_spread=spread,
            )
            print(f"\n## agreement spread {spread:g} (sd of log σ across cells)")
            bound = allocation_bound(study, model, args.oracle_raters)
            worlds[spread] = curves = simulate(study, model, args)
            summary.append((spread, bound, report(curves, args)))
        print_summary(summary)
        if args.figure:
            draw(worlds, args.figure)
    finally:
        Trial.objects.filter(participant__study=study, is_repeat=True).delete()
        Participant.objects.filter(study=study).delete()
        study.delete()


def simulate(study: Study, model: MoodModel, args: argparse.Namespace) -> dict[str, list[Point]]:
    """Every design's mean curve in one world."""
    truth = planted_truth(study, model)
    curves: dict[str, list[Point]] = {}
    for name, design in DESIGNS.items():
        started = perf_counter()
        runs = []
        for replication in range(args.replications):
            study = reset(study, design)
            runs.append(run(study, model, truth, [args.rater_seed, replication]))
        # A session adds 60 ratings; a finer grid (the curves interpolated between sessions)
        # keeps "ratings needed" from rounding to whole sessions, 3 % of the budget each.
        curves[name] = mean_curve(runs, step=20)
        final = curves[name][-1]
        print(
            f"{name:<24} full after {final.ratings:>5} ratings: reliability "
            f"{final.reliability:.3f}, error {final.error:.3f}"
            f" ({perf_counter() - started:.0f} s)"
        )
        if study.adaptive_stopping:
            # What the study page shows once the locale is full, for the last replication.
            saving = adaptive_stopping_saving(study=study)
            print(
                f"{'':<24} study page: {saving.ratings_saved:,} of the fixed design's "
                f"{saving.fixed_design_ratings:,} ratings saved ({saving.share:.1%}), "
                f"{saving.retired_cells} cells retired"
            )
    return curves


def allocation_bound(study: Study, model: MoodModel, raters: int) -> float:
    """The most any allocation could save in this world at equal squared error, printed."""
    spreads = planted_spreads(study, model, raters)
    bound = 1.0 - spreads.mean() ** 2 / (spreads**2).mean()
    print(
        f"planted rating spread per cell: σ {spreads.min():.2f}–{spreads.max():.2f}, sd of log σ "
        f"{np.log(spreads).std():.2f}; the most any allocation could save at equal squared "
        f"error, 1 − mean(σ)² / mean(σ²): {bound:.1%}"
    )
    return float(bound)


def print_summary(summary: list[tuple[float, float, dict[str, int | None]]]) -> None:
    """One row per world: the bound, and each design's ratings needed with its saving."""
    print("\n| agreement spread | bound | " + " | ".join(DESIGNS) + " |")
    print("| --- | --- |" + " --- |" * len(DESIGNS))
    for spread, bound, needed in summary:
        base = needed.get("fixed")
        cells = []
        for name in DESIGNS:
            ratings = needed.get(name)
            if ratings is None:
                cells.append("never" if base is not None else "no comparison")
            elif name == "fixed" or base is None:
                cells.append(f"{ratings:,}")
            else:
                saving = 1.0 - ratings / base
                verdict = "PASS" if saving >= TARGET_SAVING else "FAIL"
                cells.append(f"{ratings:,} ({saving:.1%}, {verdict})")
        print(f"| {spread:g} | {bound:.1%} | " + " | ".join(cells) + " |")


def report(curves: dict[str, list[Point]], args: argparse.Namespace) -> dict[str, int | None]:
    """Ratings each design needs for the target, the saving against the fixed design with
    PASS or FAIL, and the curves as a table; returns the ratings needed (None: never, and
    nothing at all when the fixed design gives no target)."""
    fixed = next((p for p in curves["fixed"] if p.reliability >= args.reliability), None)
    if fixed is None:
        print(f"the fixed design never reaches reliability {args.reliability}: no comparison")
        return {}
    error = fixed.error if args.max_error is None else args.max_error
    print(f"target: mean reliability ≥ {args.reliability} and error ≤ {error:.3f}")
    base = first_reaching(curves["fixed"], args.reliability, error)
    if base is None:
        print(f"the fixed design never reaches error {error}: no comparison")
        return {}
    needed: dict[str, int | None] = {}
    for name, curve in curves.items():
        point = first_reaching(curve, args.reliability, error)
        needed[name] = None if point is None else point.ratings
        if point is None:
            print(f"{name:<24} never reaches it: FAIL")
            continue
        line = (
            f"{name:<24} {point.ratings:>5} ratings (reliability {point.reliability:.3f}, "
            f"error {point.error:.3f})"
        )
        if name != "fixed":
            saving = 1.0 - point.ratings / base.ratings
            verdict = "PASS" if saving >= TARGET_SAVING else "FAIL"
            line += f"  saving {saving:.1%} (target ≥ {TARGET_SAVING:.0%}): {verdict}"
        print(line)
    print("\n| ratings | " + " | ".join(curves) + " |")
    print("| --- |" + " --- |" * len(curves))
    grid = sorted({p.ratings for curve in curves.values() for p in curve})
    for ratings in grid[:: max(len(grid) // 12, 1)]:
        cells = []
        for curve in curves.values():
            point = next((p for p in curve if p.ratings == ratings), None)
            if point is not None:
                cells.append(f"{point.reliability:.3f} / {point.error:.3f}")
            else:  # before every cell has a rating, or after the locale is full
                cells.append("—" if ratings < curve[0].ratings else "full")
        print(f"| {ratings} | " + " | ".join(cells) + " |")
    return needed


def draw(worlds: dict[float, dict[str, list[Point]]], path: Path) -> None:
    """One row per world: reliability and error against ratings spent, per design."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(len(worlds), 2, figsize=(9, 3.0 * len(worlds)), squeeze=False)
    for (spread, curves), (left, right) in zip(worlds.items(), axes, strict=True):
        for name, curve in curves.items():
            ratings = [p.ratings for p in curve]
            left.plot(ratings, [p.reliability for p in curve], label=name)
            right.plot(ratings, [p.error for p in curve], label=name)
        left.set(ylabel="mean split-half reliability", title=f"agreement spread {spread:g}")
        right.set(ylabel="MAE of song × term means", title=f"agreement spread {spread:g}")
    for axis in axes[-1]:
        axis.set(xlabel="ratings spent")
    axes[0][0].legend()
    figure.tight_layout()
    figure.savefig(path, metadata={"Date": None})


if __name__ == "__main__":
    main()
