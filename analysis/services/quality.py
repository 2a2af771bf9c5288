"""Quality control: named, versioned, parameterised checks of each participant's ratings.

A rule is a function of the study's data (per-participant sums, read once per run) and its
parameters that returns, per participant it can judge, whether they passed, the measured
value and the evidence. Changing what a rule computes means a new version, so every stored
result and exclusion says exactly which check produced it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.utils import timezone

from analysis.models import ExclusionDecision, QualityResult, QualityRuleSetting, QualityRun
from analysis.selectors import participant_ids_to_filter, participants_counted
from analysis.services.aggregation import Progress, grouping_settings
from analysis.services.batches import query_arrays, query_batches, regrouped, rows_insert
from moodlab.errors import Invalid
from moodlab.studies.models import Participant, PrescreenResult, Song, Study, Term
from moodlab.studies.scale import SCALE_VALUES
from moodlab.studies.services.participants import participant_finish
from rating.models import Rating, Trial
from rating.services import cells_recount, trials_release_abandoned

_RESULT_BATCH = 5000
_SUMMED_ROWS = 100_000

_OF_STUDY = "IN (SELECT id FROM studies_participant WHERE study_id = %(study)s)"
"""Completes `<participant id column> ` to keep the study's rows (PostgreSQL and SQLite)."""


@dataclass(frozen=True)
class RatingMeasures:
    """What the rules need of a study's ratings, from one read of them (see rating_measures).

    Each frame is indexed by participant and holds only the participants it has data for.
    """

    spread: pd.DataFrame
    """Every rating: ratings, distinct_values, sum, squares."""
    repeats: pd.DataFrame
    """Repeat trials against their originals, term by term: pairs, abs_diff_sum."""
    agreement: pd.DataFrame
    """Original ratings (x) against the others' mean of the cell (y): n, sx, sy, sxx, syy, sxy."""
    seconds_per_term: pd.DataFrame
    """Submitted, timed trials with ratings: participant and per_term, one row per trial."""


class QualityData:
    """What the rules judge, read once and summed per participant, trial and cell.

    The ratings never come into memory whole: they stream in Arrow batches (see
    analysis.services.batches) into numpy sums over arrays of participants, trials and
    cells, a few bytes for each of those, none for each rating.
    """

    def __init__(self, study_id: int) -> None:
        self.study_id = study_id

    @cached_property
    def participants(self) -> pd.DataFrame:
        """Rating-phase participants: index participant, columns status and locale."""
        rows = Participant.objects.filter(
            study_id=self.study_id, phase=Participant.Phase.RATING
        ).values_list("id", "status", "locale_id")
        return pd.DataFrame(list(rows), columns=["participant", "status", "locale"]).set_index(
            "participant"
        )

    @cached_property
    def failed_prescreens(self) -> pd.Series:
        """Per participant, the prescreen kinds failed (only participants who failed one)."""
        rows = PrescreenResult.objects.filter(
            participant__study_id=self.study_id, passed=False
        ).values_list("participant_id", "kind")
        frame = pd.DataFrame(list(rows), columns=["participant", "kind"])
        return frame.groupby("participant")["kind"].agg(sorted)

    def per_participant(
        self, sql: str, dtypes: Mapping[str, Any], params: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """One row per participant: `sql` selects the participant id, then `dtypes`' columns."""
        with connection.cursor() as cursor:
            cursor.execute(
                sql.format(of_study=_OF_STUDY),
                {"study": self.study_id, "submitted": Trial.Status.SUBMITTED, **(params or {})},
            )
            rows = cursor.fetchall()
        return _frame(rows, {"participant": np.int64, **dtypes}).set_index("participant")

    @cached_property
    def _everyone(self) -> QuerySet[Participant]:
        return Participant.objects.filter(study_id=self.study_id)

    @cached_property
    def rating_measures(self) -> RatingMeasures:
        """Two passes over the study's ratings, queried once.

        The first sums per participant, trial and (original ratings) cell; the second, which
        needs every cell's final total, sums each rater against the others of the cell.
        """
        people = np.sort(np.fromiter(self._everyone.values_list("pk", flat=True), np.int64))
        of_study = participant_ids_to_filter(self._everyone)
        trials = _Trials.of(of_study, people)
        cells = _Cells.of(study_id=self.study_id)
        ratings = Rating.objects.filter(participant_id__in=of_study).values_list(
            "participant_id", "trial_id", "song_id", "term_id", "value"
        )
        sums = _ParticipantSums(len(people))
        ratings_per_trial = np.zeros(len(trials.ids), np.int32)
        cell_total = np.zeros(cells.size)
        cell_count = np.zeros(cells.size, np.int64)
        in_repeats: dict[str, list[np.ndarray]] = {"trial": [], "term": [], "value": []}
        with query_batches(*ratings.query.sql_with_params(), _RATING_COLUMNS) as batches:
            for batch in regrouped(_SUMMED_ROWS, batches()):
                rows = _RatingRows(batch, people=people, trials=trials, cells=cells)
                sums.add_spread(rows.participant, rows.value)
                ratings_per_trial += np.bincount(rows.trial, minlength=len(trials.ids))
                cell_total += np.bincount(
                    rows.cell[rows.original], rows.value[rows.original], cells.size
                )
                cell_count += np.bincount(rows.cell[rows.original], minlength=cells.size)
                paired = trials.in_repeat_pair[rows.trial]
                in_repeats["trial"].append(rows.trial[paired])
                in_repeats["term"].append(rows.cell[paired] % cells.terms)
                in_repeats["value"].append(rows.value[paired])
            for batch in regrouped(_SUMMED_ROWS, batches()):
                rows = _RatingRows(batch, people=people, trials=trials, cells=cells)
                compared = rows.original & (cell_count[rows.cell] > 1)
                cell = rows.cell[compared]
                x = rows.value[compared]
                y = (cell_total[cell] - x) / (cell_count[cell] - 1)
                sums.add_agreement(rows.participant[compared], x, y)
        repeat_rows = pd.DataFrame(
            {
                name: np.concatenate(parts) if parts else np.zeros(0)
                for name, parts in in_repeats.items()
            }
        )
        return RatingMeasures(
            spread=sums.spread(people),
            repeats=trials.repeat_pairs(repeat_rows.astype({"trial": np.int64}), people),
            agreement=sums.agreement(people),
            seconds_per_term=trials.seconds_per_term(ratings_per_trial, people),
        )


_RATING_COLUMNS = dict.fromkeys(["participant", "trial", "song", "term", "value"], pa.int64())
_TRIAL_COLUMNS: dict[str, np.dtype[Any]] = {
    "id": np.dtype(np.int64),
    "participant": np.dtype(np.int64),
    "submitted": np.dtype(np.int8),
    "repeat_of": np.dtype(np.int64),
    "response_seconds": np.dtype(np.float64),
}


@dataclass(frozen=True)
class _Trials:
    """The study's trials as arrays sorted by id: a rating finds its trial by binary search."""

    ids: np.ndarray
    participant: np.ndarray
    """Positions in the study's sorted participant ids."""
    response_seconds: np.ndarray
    submitted: np.ndarray
    original: np.ndarray
    """Submitted and not a repeat: the ratings compared with the cell's others."""
    repeat_of: np.ndarray
    """For a submitted repeat trial, the position (in `ids`) of its original; else -1."""
    in_repeat_pair: np.ndarray

    @classmethod
    def of(cls, participant_ids: QuerySet[Any] | list[int], people: np.ndarray) -> _Trials:
        query = (
            Trial.objects.filter(participant_id__in=participant_ids)
            .annotate(submitted=Case(When(status=Trial.Status.SUBMITTED, then=1), default=0))
            .values_list("id", "participant_id", "submitted", "repeat_of_id", "response_seconds")
        )
        trial = query_arrays(*query.query.sql_with_params(), _TRIAL_COLUMNS)
        submitted = trial.pop("submitted").astype(bool)
        repeat_of_id = trial.pop("repeat_of")
        is_repeat = submitted & (repeat_of_id > 0)
        # Repeats are one or two per participant: only theirs are looked up.
        repeat_of = np.full(len(submitted), -1, np.int32)
        repeat_of[is_repeat] = np.searchsorted(trial["id"], repeat_of_id[is_repeat])
        in_repeat_pair = is_repeat.copy()
        in_repeat_pair[repeat_of[is_repeat]] = True
        return cls(
            ids=trial["id"],
            participant=np.searchsorted(people, trial.pop("participant")).astype(np.int32),
            response_seconds=trial["response_seconds"],
            submitted=submitted,
            original=submitted & (repeat_of_id == 0),
            repeat_of=repeat_of,
            in_repeat_pair=in_repeat_pair,
        )

    def repeat_pairs(self, rows: pd.DataFrame, people: np.ndarray) -> pd.DataFrame:
        """Per participant, how many terms they rated twice and the summed absolute change."""
        repeats = rows[self.repeat_of[rows["trial"]] >= 0]
        pairs = repeats.assign(original=self.repeat_of[repeats["trial"]]).merge(
            rows, left_on=["original", "term"], right_on=["trial", "term"], suffixes=("", "_o")
        )
        diff = (pairs["value"] - pairs["value_o"]).abs().astype(np.int64)
        by = people[self.participant[pairs["trial"]]]
        summary = diff.groupby(by).agg(pairs="size", abs_diff_sum="sum")
        return summary.rename_axis("participant")

    def seconds_per_term(self, ratings_per_trial: np.ndarray, people: np.ndarray) -> pd.DataFrame:
        timed = self.submitted & ~np.isnan(self.response_seconds) & (ratings_per_trial > 0)
        return pd.DataFrame(
            {
                "participant": people[self.participant[timed]],
                "per_term": self.response_seconds[timed] / ratings_per_trial[timed],
            }
        )


@dataclass(frozen=True)
class _Cells:
    """Song × term cells numbered densely: song position × number of terms + term position."""

    songs: np.ndarray
    term_ids: np.ndarray

    @property
    def terms(self) -> int:
        return len(self.term_ids)

    @property
    def size(self) -> int:
        return len(self.songs) * self.terms

    @classmethod
    def of(cls, *, study_id: int) -> _Cells:
        songs = Song.objects.filter(study_id=study_id).values_list("pk", flat=True)
        terms = Term.objects.filter(locale__study_id=study_id).values_list("pk", flat=True)
        return cls(
            songs=np.sort(np.fromiter(songs, np.int64)),
            term_ids=np.sort(np.fromiter(terms, np.int64)),
        )


class _RatingRows:
    """One batch of ratings as positions in the participant, trial and cell arrays."""

    def __init__(
        self, batch: pa.RecordBatch, *, people: np.ndarray, trials: _Trials, cells: _Cells
    ) -> None:
        self.participant = np.searchsorted(people, batch.column("participant").to_numpy())
        self.trial = np.searchsorted(trials.ids, batch.column("trial").to_numpy())
        self.cell = np.searchsorted(
            cells.songs, batch.column("song").to_numpy()
        ) * cells.terms + np.searchsorted(cells.term_ids, batch.column("term").to_numpy())
        self.value = batch.column("value").to_numpy().astype(np.float64)
        self.original = trials.original[self.trial]


class _ParticipantSums:
    """Running sums per participant position; exact, as ratings are small integers."""

    def __init__(self, participants: int) -> None:
        self.size = participants
        self.sums = {
            name: np.zeros(participants)
            for name in ("ratings", "sum", "squares", "n", "sx", "sy", "sxx", "syy", "sxy")
        }
        self.seen = {value: np.zeros(participants, bool) for value in SCALE_VALUES}

    def _add(self, name: str, at: np.ndarray, weights: np.ndarray | None = None) -> None:
        self.sums[name] += np.bincount(at, weights, minlength=self.size)

    def add_spread(self, at: np.ndarray, value: np.ndarray) -> None:
        self._add("ratings", at)
        self._add("sum", at, value)
        self._add("squares", at, value * value)
        for point, seen in self.seen.items():
            seen[at[value == point]] = True

    def add_agreement(self, at: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        self._add("n", at)
        for name, weights in (("sx", x), ("sy", y), ("sxx", x * x), ("syy", y * y), ("sxy", x * y)):
            self._add(name, at, weights)

    def _frame(
        self, people: np.ndarray, columns: Mapping[str, np.ndarray], rows: str
    ) -> pd.DataFrame:
        present = self.sums[rows] > 0
        return pd.DataFrame(
            {name: values[present] for name, values in columns.items()},
            index=pd.Index(people[present], name="participant"),
        )

    def spread(self, people: np.ndarray) -> pd.DataFrame:
        distinct = np.stack(list(self.seen.values())).sum(axis=0, dtype=np.int64)
        return self._frame(
            people,
            {
                "ratings": self.sums["ratings"].astype(np.int64),
                "distinct_values": distinct,
                "sum": self.sums["sum"].astype(np.int64),
                "squares": self.sums["squares"].astype(np.int64),
            },
            "ratings",
        )

    def agreement(self, people: np.ndarray) -> pd.DataFrame:
        columns = {name: self.sums[name] for name in ("sx", "sy", "sxx", "syy", "sxy")}
        return self._frame(people, {"n": self.sums["n"].astype(np.int64), **columns}, "n")


def _frame(rows: Sequence[Sequence[Any]], dtypes: Mapping[str, Any]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in dtypes.items()})
    return pd.DataFrame.from_records(rows, columns=list(dtypes)).astype(dict(dtypes))


RuleCheck = Callable[[QualityData, Mapping[str, Any]], pd.DataFrame]
"""Returns a frame indexed by participant with columns passed, value and evidence (JSON)."""


@dataclass(frozen=True)
class QualityRule:
    name: str
    version: int
    title: str
    defaults: Mapping[str, float]
    check: RuleCheck

    def params_with(self, overrides: Mapping[str, Any]) -> dict[str, float]:
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            raise Invalid(
                {
                    "params": f"{self.name} has no parameter(s) {', '.join(sorted(unknown))}; "
                    f"known: {', '.join(sorted(self.defaults))}."
                }
            )
        bad = [key for key, value in overrides.items() if not isinstance(value, int | float)]
        if bad:
            raise Invalid({"params": f"{', '.join(bad)} must be numbers."})
        return {**self.defaults, **overrides}


RULES: dict[str, QualityRule] = {}


def quality_rule(
    *, name: str, version: int, title: str, defaults: Mapping[str, float]
) -> Callable[[RuleCheck], RuleCheck]:
    def register(check: RuleCheck) -> RuleCheck:
        RULES[name] = QualityRule(name, version, title, dict(defaults), check)
        return check

    return register


def _result(
    passed: pd.Series, value: pd.Series, evidence: Iterable[dict[str, Any]]
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "passed": passed.astype(bool),
            "value": value.astype(float),
            # As JSON text from the start: a dict per rule and participant held until the run
            # is written took more memory than anything else at a hundred thousand raters.
            "evidence": [json.dumps(item) for item in evidence],
        },
        index=passed.index,
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (numpy scalars to Python numbers, NaN to None)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {
            key: (value.item() if isinstance(value, np.generic) else value)
            for key, value in row.items()
        }
        for row in clean.to_dict("records")
    ]


@quality_rule(
    name="repeat_consistency",
    version=1,
    title="Repeat trial inconsistent with the original",
    defaults={"max_mean_abs_diff": 1.0},
)
def repeat_consistency(data: QualityData, params: Mapping[str, Any]) -> pd.DataFrame:
    summary = data.rating_measures.repeats.copy()
    summary["mean_abs_diff"] = summary.pop("abs_diff_sum") / summary["pairs"]
    threshold = params["max_mean_abs_diff"]
    summary["threshold"] = threshold
    return _result(
        summary["mean_abs_diff"] <= threshold, summary["mean_abs_diff"], _records(summary)
    )


@quality_rule(
    name="straight_lining",
    version=1,
    title="Same answer everywhere (no variance across the session)",
    defaults={"min_sd": 0.1},
)
def straight_lining(data: QualityData, params: Mapping[str, Any]) -> pd.DataFrame:
    summary = data.rating_measures.spread.copy()
    n, total, squares = summary["ratings"], summary.pop("sum"), summary.pop("squares")
    # The population standard deviation from exact integer sums: n·Σv² − (Σv)² ≥ 0.
    summary["sd"] = np.sqrt((n * squares - total * total) / (n * n))
    summary["min_sd"] = params["min_sd"]
    return _result(summary["sd"] >= params["min_sd"], summary["sd"], _records(summary))


@quality_rule(
    name="too_fast",
    version=1,
    title="Answers faster than the terms can be read",
    defaults={"min_median_seconds_per_term": 1.0},
)
def too_fast(data: QualityData, params: Mapping[str, Any]) -> pd.DataFrame:
    """Median seconds per term over the participant's trials.

    A trial's seconds are what the page measured from showing the trial to the press of
    submit, capped by the server's elapsed time (see rating.timing).
    """
    trials = data.rating_measures.seconds_per_term
    summary = trials.groupby("participant")["per_term"].agg(
        trials="size", median_seconds_per_term="median"
    )
    threshold = params["min_median_seconds_per_term"]
    summary["threshold"] = threshold
    return _result(
        summary["median_seconds_per_term"] >= threshold,
        summary["median_seconds_per_term"],
        _records(summary),
    )


_CLIP_SECONDS = (
    "COALESCE(s.clip_end_seconds - s.clip_start_seconds,"
    " s.duration_seconds - COALESCE(s.clip_start_seconds, 0.0))"
)


@quality_rule(
    name="clips_not_played",
    version=1,
    title="Clips not played through",
    defaults={"min_played_fraction": 0.95, "max_short_trial_share": 0.0},
)
def clips_not_played(data: QualityData, params: Mapping[str, Any]) -> pd.DataFrame:
    summary = data.per_participant(
        f"""
        SELECT t.participant_id, COUNT(*), SUM(CASE WHEN t.audio_played_seconds
            < {_CLIP_SECONDS} * CAST(%(fraction)s AS DOUBLE PRECISION) THEN 1 ELSE 0 END)
        FROM rating_trial t JOIN studies_song s ON s.id = t.song_id
        WHERE t.status = %(submitted)s AND t.audio_played_seconds IS NOT NULL
            AND {_CLIP_SECONDS} IS NOT NULL AND t.participant_id {{of_study}}
        GROUP BY t.participant_id
        """,  # noqa: S608 - fixed SQL fragments, values are parameters
        {"trials": np.int64, "short_trials": np.int64},
        {"fraction": float(params["min_played_fraction"])},
    )
    summary["short_share"] = summary["short_trials"] / summary["trials"]
    summary["max_short_trial_share"] = params["max_short_trial_share"]
    return _result(
        summary["short_share"] <= params["max_short_trial_share"],
        summary["short_share"],
        _records(summary),
    )


@quality_rule(
    name="agreement",
    version=1,
    title="Disagrees with the other raters of the locale",
    defaults={"min_correlation": 0.2, "min_ratings": 10},
)
def agreement(data: QualityData, params: Mapping[str, Any]) -> pd.DataFrame:
    """Pearson correlation of each rater with the leave-one-out mean of the same cells.

    A term belongs to one locale, so a (song, term) cell already is a song × term × locale
    cell. Repeats are left out so nobody is compared with their own second answer. The
    database sums each rater's x (their rating) and y (the others' mean of the cell).
    """
    sums = data.rating_measures.agreement
    n = sums["n"]
    covariance = sums["sxy"] - sums["sx"] * sums["sy"] / n
    spread = (sums["sxx"] - sums["sx"] ** 2 / n) * (sums["syy"] - sums["sy"] ** 2 / n)
    # Zero spread (a straight-liner) leaves the correlation undefined: straight_lining judges it.
    correlation = covariance / np.sqrt(spread.where(spread > 1e-12))
    judged = (n >= params["min_ratings"]) & correlation.notna()
    summary = pd.DataFrame(
        {"compared_ratings": n, "correlation": correlation.round(6), "judged": judged}
    )
    summary["min_correlation"] = params["min_correlation"]
    passed = ~judged | (correlation >= params["min_correlation"])
    return _result(passed, correlation.where(judged), _records(summary))


@quality_rule(name="failed_prescreens", version=1, title="Failed a prescreen", defaults={})
def failed_prescreens(data: QualityData, params: Mapping[str, Any]) -> pd.DataFrame:
    failed = data.failed_prescreens.reindex(data.participants.index)
    failed_count = failed.map(lambda kinds: len(kinds) if isinstance(kinds, list) else 0)
    evidence = [{"failed": kinds if isinstance(kinds, list) else []} for kinds in failed]
    return _result(failed_count == 0, failed_count, evidence)


@quality_rule(name="timed_out", version=1, title="Session timed out", defaults={})
def timed_out(data: QualityData, params: Mapping[str, Any]) -> pd.DataFrame:
    status = data.participants["status"]
    is_timed_out = status == Participant.Status.TIMED_OUT
    return _result(~is_timed_out, is_timed_out, [{"status": s} for s in status])


@dataclass(frozen=True)
class ConfiguredRule:
    rule: QualityRule
    enabled: bool
    params: dict[str, float]

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.rule.name,
            "version": self.rule.version,
            "title": self.rule.title,
            "enabled": self.enabled,
            "params": self.params,
        }


def quality_rules_of(*, study_id: int) -> list[ConfiguredRule]:
    """Every registered rule with the study's choice; a rule the study never set runs as default."""
    settings = {s.rule: s for s in QualityRuleSetting.objects.filter(study_id=study_id)}
    configured = []
    for name, rule in RULES.items():
        setting = settings.get(name)
        configured.append(
            ConfiguredRule(
                rule=rule,
                enabled=setting.enabled if setting else True,
                params=rule.params_with(setting.params if setting else {}),
            )
        )
    return configured


_NOT_JUDGED = json.dumps({"judged": False, "reason": "no data for this rule"})


def _outcome(rule: ConfiguredRule, data: QualityData) -> pd.DataFrame:
    """The rule's verdicts for every participant; one it could not judge passes."""
    participants = data.participants.index
    verdicts = rule.rule.check(data, rule.params)
    evidence = verdicts["evidence"].reindex(participants)
    return pd.DataFrame(
        {
            "passed": verdicts["passed"].reindex(participants, fill_value=True).astype(bool),
            "value": verdicts["value"].reindex(participants),
            "evidence": [e if isinstance(e, str) else _NOT_JUDGED for e in evidence],
        },
        index=participants,
    )


@contextmanager
def _one_snapshot_of_the_data() -> Iterator[None]:
    """Every rule reads the same data, and nothing is locked while they compute.

    On PostgreSQL a read-only repeatable-read transaction gives one snapshot without row
    locks, so participants go on submitting and researchers go on saving meanwhile. The
    embedded SQLite default takes its write lock when a transaction begins, so there (and
    inside a caller's transaction, whose snapshot already holds) the frames are read as is.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        grouping_settings(cursor)
        yield


def quality_check(*, study_id: int, progress: Progress | None = None) -> QualityRun:
    """Run the study's rules over every rating-phase participant and record the verdicts.

    Every enabled rule that fails excludes the participant, with the rule's version and
    reason recorded; a researcher's override (see exclusion_override) keeps precedence.
    Disabled rules still run and store results, so researchers can see what they would say.

    The rules compute outside any lock (a study of ten million ratings takes a while); only
    the writing of their verdicts holds the study row, briefly.
    """
    started_at = timezone.now()
    configured = quality_rules_of(study_id=study_id)
    with _one_snapshot_of_the_data():
        data = QualityData(study_id)
        outcomes = []
        for done, item in enumerate(configured, start=1):
            outcomes.append((item, _outcome(item, data)))
            if progress:
                progress(80.0 * done / len(configured))
        participants = list(data.participants.index)
    run = _verdicts_record(
        study_id=study_id,
        configured=configured,
        participants=participants,
        outcomes=outcomes,
        started_at=started_at,
    )
    if progress:
        progress(100.0)
    return run


@transaction.atomic
def _verdicts_record(
    *,
    study_id: int,
    configured: list[ConfiguredRule],
    participants: list[int],
    outcomes: list[tuple[ConfiguredRule, pd.DataFrame]],
    started_at: datetime,
) -> QualityRun:
    Study.objects.select_for_update().get(pk=study_id)
    counted_before = _counted_ids(study_id)
    run = QualityRun.objects.create(
        study_id=study_id, rules=[c.as_json() for c in configured], started_at=started_at
    )
    failures: dict[int, list[dict[str, Any]]] = {p: [] for p in participants}
    for item, outcome in outcomes:
        _results_insert(run_id=run.pk, item=item, outcome=outcome)
        if item.enabled:
            for participant in outcome.index[~outcome["passed"]]:
                failures[participant].append(
                    {
                        "rule": item.rule.name,
                        "version": item.rule.version,
                        "reason": item.rule.title,
                        "value": outcome.at[participant, "value"]
                        if pd.notna(outcome.at[participant, "value"])
                        else None,
                    }
                )
    now = timezone.now()
    ExclusionDecision.objects.bulk_create(
        (
            ExclusionDecision(
                participant_id=participant,
                study_id=study_id,
                rules_excluded=bool(reasons),
                excluded=bool(reasons),
                reasons=reasons,
                run=run,
                decided_at=now,
            )
            for participant, reasons in failures.items()
        ),
        batch_size=_RESULT_BATCH,
        update_conflicts=True,
        unique_fields=["participant"],
        update_fields=["rules_excluded", "reasons", "run", "decided_at"],
    )
    # The effective decision in one UPDATE, so an override made meanwhile is never lost.
    ExclusionDecision.objects.filter(study_id=study_id).update(
        excluded=Case(
            When(override=ExclusionDecision.Override.INCLUDE, then=Value(False)),
            When(override=ExclusionDecision.Override.EXCLUDE, then=Value(True)),
            default=F("rules_excluded"),
        )
    )
    run.finished_at = timezone.now()
    run.participants_checked = len(participants)
    run.participants_excluded = ExclusionDecision.objects.filter(
        study_id=study_id, excluded=True
    ).count()
    run.save(update_fields=["finished_at", "participants_checked", "participants_excluded"])
    # The allocation ledger is rebuilt (a pass over the locale's ratings, under the study's
    # lock) only for the locales where whose ratings count changed: a scheduled rerun over
    # unchanged verdicts leaves it alone.
    changed = counted_before ^ _counted_ids(study_id)
    if changed:
        locale_ids = Participant.objects.filter(pk__in=changed).values_list("locale_id", flat=True)
        cells_recount(
            locale_ids=sorted(set(locale_ids)), counted=participants_counted(study_id=study_id)
        )
    return run


def _counted_ids(study_id: int) -> set[int]:
    return set(participants_counted(study_id=study_id).values_list("pk", flat=True))


def _results_insert(*, run_id: int, item: ConfiguredRule, outcome: pd.DataFrame) -> None:
    """Store one rule's verdicts: a row per participant, over a hundred thousand per run at
    ten million ratings, inside the transaction that holds the study row."""
    params = json.dumps(item.params)
    rows_insert(
        QualityResult,
        (  # in the model's field order
            (
                run_id,
                participant,
                item.rule.name,
                item.rule.version,
                params,
                passed,
                None if math.isnan(value) else value,
                evidence,
            )
            for participant, passed, value, evidence in zip(
                outcome.index.tolist(),
                outcome["passed"].tolist(),
                outcome["value"].astype(float).tolist(),
                outcome["evidence"].tolist(),
                strict=True,
            )
        ),
    )


@transaction.atomic
def exclusion_override(
    *,
    participant_id: int,
    override: str,
    reason: str,
    user: AbstractBaseUser,
) -> ExclusionDecision:
    """A researcher includes or excludes a participant against the rules, or clears that.

    Who, when and why are recorded on the decision; the ratings themselves are untouched.
    """
    if override not in ExclusionDecision.Override.values:
        raise Invalid({"override": f"Choose one of {ExclusionDecision.Override.values}."})
    if override and not reason.strip():
        raise Invalid({"override_reason": "Say why you override the rules."})
    participant = Participant.objects.get(pk=participant_id)
    decision, _created = ExclusionDecision.objects.select_for_update().get_or_create(
        participant=participant,
        defaults={"study_id": participant.study_id, "decided_at": timezone.now()},
    )
    decision.override = override
    decision.override_reason = reason.strip()
    decision.overridden_by = user  # type: ignore[assignment]
    decision.overridden_at = timezone.now()
    decision.excluded = {
        ExclusionDecision.Override.INCLUDE: False,
        ExclusionDecision.Override.EXCLUDE: True,
    }.get(override, decision.rules_excluded)  # type: ignore[call-overload]
    decision.save()
    if decision.excluded and participant.status == Participant.Status.STARTED:
        # Excluded mid-session: the session ends and its held trial goes back to the pool.
        participant_finish(
            participant=participant, status=Participant.Status.EXCLUDED, reason=reason
        )
        trials_release_abandoned()
    cells_recount(
        locale_ids=[participant.locale_id],
        counted=participants_counted(study_id=participant.study_id),
    )
    return decision
