"""Quality control: named, versioned, parameterised checks of each participant's ratings.

A rule is a function of the study's data (pandas frames, loaded once per run) and its
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
from itertools import islice
from typing import Any

import numpy as np
import pandas as pd
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from analysis.models import ExclusionDecision, QualityResult, QualityRuleSetting, QualityRun
from analysis.selectors import participants_counted
from analysis.services.aggregation import Progress, grouping_settings
from moodlab.errors import Invalid
from moodlab.studies.models import Participant, PrescreenResult, Study
from moodlab.studies.scale import SCALE_VALUES
from moodlab.studies.services.participants import participant_finish
from rating.models import Trial
from rating.services import cells_recount, trials_release_abandoned

_FETCH_ROWS = 100_000
_RESULT_BATCH = 5000

_OF_STUDY = "IN (SELECT id FROM studies_participant WHERE study_id = %(study)s)"
"""Completes `<participant id column> ` to keep the study's rows (PostgreSQL and SQLite)."""


class QualityData:
    """What the rules judge, read per participant; the ratings never come into memory whole.

    The per-participant measures (counts, sums, sums of squares) are grouped by the database
    in portable SQL, so a rule holds one row per participant; what only Python computes (a
    median) streams trial rows ordered by participant, in batches of whole participants.
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

    def _params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"study": self.study_id, "submitted": Trial.Status.SUBMITTED, **params}

    def per_participant(
        self, sql: str, dtypes: Mapping[str, Any], params: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """One row per participant: `sql` selects the participant id, then `dtypes`' columns."""
        with connection.cursor() as cursor:
            cursor.execute(sql.format(of_study=_OF_STUDY), self._params(params or {}))
            rows = cursor.fetchall()
        return _frame(rows, {"participant": np.int64, **dtypes}).set_index("participant")

    def participant_batches(self, sql: str, dtypes: Mapping[str, Any]) -> Iterator[pd.DataFrame]:
        """`sql`'s rows (participant id first, ordered by it) in frames of whole participants."""
        columns = {"participant": np.int64, **dtypes}
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql.format(of_study=_OF_STUDY), self._params({}))
            held = _frame([], columns)
            while batch := cursor.fetchmany(_FETCH_ROWS):
                frame = pd.concat([held, _frame(batch, columns)], ignore_index=True)
                last = frame["participant"].iloc[-1]
                # The last participant's rows may go on in the next batch.
                complete = frame["participant"] != last
                held = frame[~complete]
                yield frame[complete]
            yield held


def _frame(rows: Sequence[Sequence[Any]], dtypes: Mapping[str, Any]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in dtypes.items()})
    return pd.DataFrame.from_records(rows, columns=list(dtypes)).astype(dict(dtypes))


RuleCheck = Callable[[QualityData, Mapping[str, Any]], pd.DataFrame]
"""Returns a frame indexed by participant with columns passed, value and evidence (a dict)."""


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
        {"passed": passed.astype(bool), "value": value.astype(float), "evidence": list(evidence)},
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
    summary = data.per_participant(
        """
        SELECT t.participant_id, COUNT(*), SUM(ABS(r.value - o.value))
        FROM rating_trial t
        JOIN rating_rating r ON r.trial_id = t.id
        JOIN rating_rating o ON o.trial_id = t.repeat_of_id AND o.term_id = r.term_id
        WHERE t.repeat_of_id IS NOT NULL AND t.status = %(submitted)s
            AND t.participant_id {of_study}
        GROUP BY t.participant_id
        """,
        {"pairs": np.int64, "abs_diff_sum": np.int64},
    )
    summary["mean_abs_diff"] = summary.pop("abs_diff_sum") / summary["pairs"]
    threshold = params["max_mean_abs_diff"]
    summary["threshold"] = threshold
    return _result(
        summary["mean_abs_diff"] <= threshold, summary["mean_abs_diff"], _records(summary)
    )


# Ratings are points of the scale (a check constraint), so "how many distinct values" is a sum
# of flags the database can hash-aggregate, where COUNT(DISTINCT …) would sort every rating.
_DISTINCT_VALUES = " + ".join(
    f"MAX(CASE WHEN value = {point} THEN 1 ELSE 0 END)" for point in SCALE_VALUES
)


@quality_rule(
    name="straight_lining",
    version=1,
    title="Same answer everywhere (no variance across the session)",
    defaults={"min_sd": 0.1},
)
def straight_lining(data: QualityData, params: Mapping[str, Any]) -> pd.DataFrame:
    summary = data.per_participant(
        f"""
        SELECT participant_id, COUNT(*), {_DISTINCT_VALUES}, SUM(value), SUM(value * value)
        FROM rating_rating WHERE participant_id {{of_study}}
        GROUP BY participant_id
        """,  # noqa: S608 - fixed SQL fragments, values are parameters
        {"ratings": np.int64, "distinct_values": np.int64, "sum": np.int64, "squares": np.int64},
    )
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
    batches = data.participant_batches(
        """
        SELECT t.participant_id, t.response_seconds / rated.terms
        FROM rating_trial t JOIN (
            SELECT trial_id, COUNT(*) AS terms FROM rating_rating
            WHERE participant_id {of_study} GROUP BY trial_id
        ) rated ON rated.trial_id = t.id
        WHERE t.status = %(submitted)s AND t.response_seconds IS NOT NULL
        ORDER BY t.participant_id
        """,
        {"per_term": np.float64},
    )
    summary = pd.concat(
        batch.groupby("participant")["per_term"].agg(
            trials="size", median_seconds_per_term="median"
        )
        for batch in batches
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


# Ratings that enter the means' comparison: those of submitted trials that are not repeats.
# The trials that are not such are few (a repeat or two and a held trial per participant), so
# they are left out by id, a small hashed list, instead of joining every rating to its trial.
_ORIGINAL_RATINGS = """
    SELECT participant_id AS participant, song_id AS song, term_id AS term, value
    FROM rating_rating WHERE participant_id {of_study} AND trial_id NOT IN (
        SELECT id FROM rating_trial WHERE participant_id {of_study}
            AND (status <> %(submitted)s OR repeat_of_id IS NOT NULL))
"""


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
    sums = data.per_participant(
        f"""
        SELECT participant, COUNT(*), SUM(x), SUM(y), SUM(x * x), SUM(y * y), SUM(x * y)
        FROM (
            SELECT mine.participant, CAST(mine.value AS DOUBLE PRECISION) AS x,
                CAST(cell.total - mine.value AS DOUBLE PRECISION) / (cell.n - 1) AS y
            FROM ({_ORIGINAL_RATINGS}) mine
            JOIN (
                SELECT song, term, SUM(value) AS total, COUNT(*) AS n
                FROM ({_ORIGINAL_RATINGS}) rated GROUP BY song, term HAVING COUNT(*) > 1
            ) cell ON cell.song = mine.song AND cell.term = mine.term
        ) pairs
        GROUP BY participant
        """,  # noqa: S608 - fixed SQL fragments, values are parameters
        {
            "n": np.int64,
            "sx": np.float64,
            "sy": np.float64,
            "sxx": np.float64,
            "syy": np.float64,
            "sxy": np.float64,
        },
    )
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


_NOT_JUDGED = {"judged": False, "reason": "no data for this rule"}


def _outcome(rule: ConfiguredRule, data: QualityData) -> pd.DataFrame:
    """The rule's verdicts for every participant; one it could not judge passes."""
    participants = data.participants.index
    verdicts = rule.rule.check(data, rule.params)
    evidence = verdicts["evidence"].reindex(participants)
    return pd.DataFrame(
        {
            "passed": verdicts["passed"].reindex(participants, fill_value=True).astype(bool),
            "value": verdicts["value"].reindex(participants),
            "evidence": [e if isinstance(e, dict) else _NOT_JUDGED for e in evidence],
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
    """Store one rule's verdicts with multi-row INSERTs.

    A run stores a result per rule and participant, a million rows at ten million ratings:
    building a model instance for each took longer than every rule's computation together,
    inside the transaction that holds the study row.
    """
    columns = [str(f.column) for f in QualityResult._meta.concrete_fields if not f.primary_key]
    per_statement = (connection.features.max_query_params or 8000) // len(columns)
    params = json.dumps(item.params)
    rows = (  # in the model's field order
        (
            run_id,
            participant,
            item.rule.name,
            item.rule.version,
            params,
            passed,
            None if math.isnan(value) else value,
            json.dumps(evidence),
        )
        for participant, passed, value, evidence in zip(
            outcome.index.tolist(),
            outcome["passed"].tolist(),
            outcome["value"].astype(float).tolist(),
            outcome["evidence"].tolist(),
            strict=True,
        )
    )
    table = QualityResult._meta.db_table
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 - model's names
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        while batch := list(islice(rows, per_statement)):
            cursor.execute(
                insert + ", ".join([placeholders] * len(batch)),
                [value for row in batch for value in row],
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
