from __future__ import annotations

import pytest

from analysis.models import ExclusionDecision, QualityResult, QualityRuleSetting
from analysis.services.quality import RULES, exclusion_override, quality_check
from moodlab.errors import Invalid
from moodlab.simulation import RaterKind
from rating.models import Rating
from tests.factories import ParticipantFactory, UserFactory


def failed(run, rule: str) -> set[int]:
    return set(
        QualityResult.objects.filter(run=run, rule=rule, passed=False).values_list(
            "participant_id", flat=True
        )
    )


@pytest.mark.parametrize(
    ("rule", "careless"),
    [
        ("repeat_consistency", [RaterKind.RANDOM]),
        ("straight_lining", [RaterKind.STRAIGHT_LINER]),
        ("too_fast", [RaterKind.TOO_FAST]),
        ("clips_not_played", ["skipper"]),
        ("agreement", [RaterKind.RANDOM]),
        ("failed_prescreens", ["failed_prescreen"]),
        ("timed_out", ["timed_out"]),
    ],
)
def test_each_rule_flags_its_careless_raters_and_no_careful_one(population, rule, careless):
    run = quality_check(study_id=population.study.pk)

    flagged = failed(run, rule)

    expected = set().union(*(population.ids(kind) for kind in careless))
    assert expected <= flagged
    assert not flagged & {p.pk for p in population.careful}


def test_every_rule_is_stored_per_participant_with_version_params_and_evidence(population):
    run = quality_check(study_id=population.study.pk)

    random_rater = population.by_kind[RaterKind.RANDOM][0]
    result = QualityResult.objects.get(run=run, participant=random_rater, rule="agreement")
    assert result.version == RULES["agreement"].version
    assert result.params == {"min_correlation": 0.2, "min_ratings": 10}
    assert result.value < 0.2
    assert result.evidence["compared_ratings"] == 30 * 7
    assert QualityResult.objects.filter(run=run).count() == len(RULES) * 20


def test_failing_an_enabled_rule_excludes_with_the_rule_version_and_reason(population):
    quality_check(study_id=population.study.pk)

    straight_liner = population.by_kind[RaterKind.STRAIGHT_LINER][0]
    decision = ExclusionDecision.objects.get(participant=straight_liner)
    assert decision.excluded
    assert {"rule": "straight_lining", "version": 1} in [
        {"rule": r["rule"], "version": r["version"]} for r in decision.reasons
    ]
    careful = ExclusionDecision.objects.filter(participant__in=population.careful)
    assert not careful.filter(excluded=True).exists()


def test_a_disabled_rule_still_reports_but_does_not_exclude(population):
    QualityRuleSetting.objects.create(study=population.study, rule="timed_out", enabled=False)

    run = quality_check(study_id=population.study.pk)

    timed_out = population.by_kind["timed_out"][0]
    assert timed_out.pk in failed(run, "timed_out")
    assert not ExclusionDecision.objects.get(participant=timed_out).excluded


def test_study_parameters_change_what_a_rule_flags(population):
    QualityRuleSetting.objects.create(
        study=population.study, rule="too_fast", params={"min_median_seconds_per_term": 10.0}
    )

    run = quality_check(study_id=population.study.pk)

    assert {p.pk for p in population.careful} <= failed(run, "too_fast")


def test_unknown_rule_parameters_are_refused():
    with pytest.raises(Invalid):
        RULES["too_fast"].params_with({"fastest": 1})


def test_a_researchers_override_wins_over_the_rules_and_survives_a_rerun(population):
    researcher = UserFactory()
    quality_check(study_id=population.study.pk)
    random_rater = population.by_kind[RaterKind.RANDOM][0]
    careful = population.careful[0]

    exclusion_override(
        participant_id=random_rater.pk, override="include", reason="spoke to them", user=researcher
    )
    exclusion_override(
        participant_id=careful.pk, override="exclude", reason="reported noise", user=researcher
    )
    quality_check(study_id=population.study.pk)

    included = ExclusionDecision.objects.get(participant=random_rater)
    assert (included.excluded, included.rules_excluded) == (False, True)
    assert included.overridden_by == researcher
    assert included.override_reason == "spoke to them"
    assert included.overridden_at is not None
    assert ExclusionDecision.objects.get(participant=careful).excluded


def test_clearing_an_override_returns_to_the_rules_verdict(population):
    researcher = UserFactory()
    quality_check(study_id=population.study.pk)
    random_rater = population.by_kind[RaterKind.RANDOM][0]
    exclusion_override(
        participant_id=random_rater.pk, override="include", reason="x", user=researcher
    )

    decision = exclusion_override(
        participant_id=random_rater.pk, override="", reason="", user=researcher
    )

    assert decision.excluded


def test_an_override_needs_a_reason(population):
    with pytest.raises(Invalid):
        exclusion_override(
            participant_id=population.careful[0].pk,
            override="exclude",
            reason=" ",
            user=UserFactory(),
        )


def test_quality_control_never_deletes_ratings(population):
    before = Rating.objects.count()
    quality_check(study_id=population.study.pk)
    assert Rating.objects.count() == before


def test_a_participant_without_ratings_is_not_judged_and_not_excluded(population):
    locale = population.study.locales.get()
    newcomer = ParticipantFactory(locale=locale, study=population.study)

    run = quality_check(study_id=population.study.pk)

    result = QualityResult.objects.get(run=run, participant=newcomer, rule="straight_lining")
    assert result.passed and result.value is None
    assert result.evidence == {"judged": False, "reason": "no data for this rule"}
    assert not ExclusionDecision.objects.get(participant=newcomer).excluded


def test_a_study_without_any_rating_yet_is_checked_without_judging_anyone(db):
    participant = ParticipantFactory()

    run = quality_check(study_id=participant.study_id)

    results = QualityResult.objects.filter(run=run, participant=participant)
    assert results.count() == len(RULES)
    assert results.filter(rule="agreement").get().evidence == {
        "judged": False,
        "reason": "no data for this rule",
    }
    assert run.participants_excluded == 0
