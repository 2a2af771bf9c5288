"""Whether a finished job produced what it is for: a plain success, warnings, or a failure.

A job that ran without an exception can still have produced nothing useful: a mean table
with no cell, quality control that threw most participants away, a snapshot whose means
are empty. Those say so on the job's record (JobRun.outcome and problems), in the admin and
in the exit status of the commands, instead of passing for a success.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from analysis.models import (
    CellAggregate,
    ExclusionDecision,
    JobOutcome,
    JobRun,
    QualityRun,
    Snapshot,
)
from moodlab.studies.models import Study
from rating.models import Rating, Trial


@dataclass(frozen=True)
class JobReport:
    outcome: JobOutcome
    problems: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, *, failures: list[str], warnings: list[str]) -> JobReport:
        if failures:
            return cls(JobOutcome.FAILED, failures + warnings)
        if warnings:
            return cls(JobOutcome.WARNINGS, warnings)
        return cls(JobOutcome.SUCCEEDED)

    def as_json(self) -> dict[str, object]:
        return {"outcome": self.outcome.value, "problems": self.problems}


def _locales_rated_without_means(study_id: int) -> list[str]:
    """Locales whose participants rated something but that have no mean at all."""
    rated = set(
        Trial.objects.filter(participant__study_id=study_id, status=Trial.Status.SUBMITTED)
        .values_list("locale__code", flat=True)
        .distinct()
    )
    with_means = set(
        CellAggregate.objects.filter(study_id=study_id)
        .values_list("locale__code", flat=True)
        .distinct()
    )
    return sorted(rated - with_means)


def _exclusion_reasons(study_id: int) -> str:
    reasons: Counter[str] = Counter()
    for rules in ExclusionDecision.objects.filter(study_id=study_id, excluded=True).values_list(
        "reasons", flat=True
    ):
        reasons.update(r["rule"] for r in rules or [])
    return ", ".join(f"{rule} {count}" for rule, count in reasons.most_common()) or "overrides"


def aggregation_report(*, study_id: int, cells: int) -> JobReport:
    if not cells:
        if Rating.objects.filter(participant__study_id=study_id).exists():
            why = f"every rating's participant is excluded; reasons: {_exclusion_reasons(study_id)}"
        else:
            why = "no rating yet"
        return JobReport.of(
            failures=[f"The mean table is empty: no rating counts ({why})."], warnings=[]
        )
    return JobReport.of(
        failures=[],
        warnings=[
            f"{code}: ratings but no mean (every rater of the locale excluded)."
            for code in _locales_rated_without_means(study_id)
        ],
    )


def quality_report(*, run: QualityRun) -> JobReport:
    checked, excluded = run.participants_checked, run.participants_excluded
    if not checked:
        return JobReport.of(failures=["No rating-phase participant to check."], warnings=[])
    share = excluded / checked
    limit = Study.objects.values_list("max_excluded_share", flat=True).get(pk=run.study_id)
    summary = (
        f"{excluded} of {checked} participants excluded ({share:.0%}); "
        f"reasons: {_exclusion_reasons(run.study_id)}."
    )
    if excluded >= checked:
        return JobReport.of(failures=[f"Every participant is excluded: {summary}"], warnings=[])
    if share > limit:
        return JobReport.of(
            failures=[],
            warnings=[f"More than the study's limit of {limit:.0%} excluded: {summary}"],
        )
    return JobReport.of(failures=[], warnings=[])


def export_report(*, snapshot: Snapshot) -> JobReport:
    tables = snapshot.manifest.get("tables", {})
    ratings = tables.get("ratings", {}).get("rows_per_locale", {})
    means = tables.get("mean_ratings", {}).get("rows_per_locale", {})
    if ratings and not means:
        return JobReport.of(
            failures=[
                f"Snapshot v{snapshot.version} has ratings but an empty mean table: every "
                f"rating's participant is excluded ({_exclusion_reasons(snapshot.study_id)})."
            ],
            warnings=[],
        )
    return JobReport.of(
        failures=[],
        warnings=[
            f"Snapshot v{snapshot.version}, {code}: ratings but no mean."
            for code in sorted(set(ratings) - set(means))
        ],
    )


def job_run_finish(*, task_id: str, report: JobReport) -> None:
    """Record a finished job's outcome on its JobRun (a command's run has none: no-op)."""
    if task_id:
        JobRun.objects.filter(task_id=task_id).update(
            outcome=report.outcome, problems=report.problems
        )
