"""Two studies, their researchers and participants: the world the security tests attack."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from rest_framework.authtoken.models import Token

from analysis.crosscultural.computation import AnalysisParams
from analysis.crosscultural.models import CrossCulturalAnalysis, PredictionSet
from analysis.crosscultural.services import analysis_create
from analysis.models import (
    CellAggregate,
    ExclusionDecision,
    JobRun,
    QualityRuleSetting,
    Snapshot,
    SnapshotAccessGrant,
)
from analysis.services.quality import quality_check
from analysis.services.snapshots import snapshot_export, snapshot_set_published
from moodlab.simulation import RaterKind
from moodlab.studies.models import Participant, Study
from moodlab.studies.services.participants import participant_enter
from rating.models import Trial
from rating.services import trial_serve
from tests.analysis.factories import give_songs_a_clip, rating_terms, simulate_participant
from tests.conftest import build_study
from tests.elicitation.factories import chain_with_tags, elicitation_study, participant_in
from tests.factories import UserFactory, ready_for_trials

RESEARCHER_APPS = ("studies", "elicitation", "rating", "analysis", "crosscultural")


@dataclass
class World:
    x: Study
    y: Study
    researcher_x: User
    researcher_y: User
    viewer_x: User
    superuser: User
    participant_a: Participant
    participant_b: Participant
    trial_a: Trial
    elicitation_a: Participant
    elicitation_b: Participant
    analysis_x: CrossCulturalAnalysis
    published_x: Snapshot
    unpublished_x: Snapshot

    def token(self, user: User) -> str:
        return f"Token {Token.objects.get_or_create(user=user)[0].key}"


def researcher_of(study: Study, username: str) -> User:
    """A staff user with every permission of MoodLab's own apps, named on one study only."""
    user = UserFactory(username=username)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=RESEARCHER_APPS)
    )
    study.researchers.add(user)
    return user


def viewer_of(study: Study, username: str) -> User:
    """A staff user named on one study with only the view_* permissions of MoodLab's apps."""
    user = UserFactory(username=username)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=RESEARCHER_APPS, codename__startswith="view_"
        )
    )
    study.researchers.add(user)
    return user


def _populate(study: Study, *, raters: int) -> None:
    """A row of every study-scoped model, so each admin page has something to leak."""
    locale = study.locales.get()
    songs = give_songs_a_clip(study)[:4]
    rng = np.random.default_rng(3)
    for _ in range(raters):
        simulate_participant(
            study=study,
            locale=locale,
            kind=RaterKind.CAREFUL,
            rng=rng,
            songs=songs,
            terms=rating_terms(locale, count=3),
            repeats=1,
        )
    chain_with_tags(locale, songs[0], {"calm": [4, 5]})
    run = quality_check(study_id=study.pk)
    participant = study.participants.first()
    ExclusionDecision.objects.get_or_create(
        participant=participant, defaults={"study": study, "decided_at": timezone.now(), "run": run}
    )
    QualityRuleSetting.objects.create(study=study, rule="too_fast", enabled=False)
    JobRun.objects.create(study=study, kind=JobRun.Kind.AGGREGATE, task_id=f"job-{study.slug}")
    PredictionSet.objects.create(study=study, name=f"model-{study.slug}")
    SnapshotAccessGrant.objects.create(
        study=study, user=UserFactory(username=f"reader-{study.slug}")
    )


def _a_cell(study: Study) -> None:
    """A mean-rating row even where the quality rules excluded every rater."""
    rating = study.participants.first().ratings.select_related("term__locale").first()
    CellAggregate.objects.get_or_create(
        study=study,
        locale=rating.term.locale,
        song=rating.song,
        term=rating.term,
        defaults={
            "n": 1,
            "mean": rating.value,
            "median": rating.value,
            "updated_at": timezone.now(),
        },
    )


def _participant(study: Study, panel_id: str) -> Participant:
    participant, _ = participant_enter(
        study=study, locale=study.locales.get(), recruiter_participant_id=panel_id
    )
    return ready_for_trials(participant)


@pytest.fixture
def world(db) -> World:
    x = build_study(slug="study-x", songs_per_country=1)
    y = build_study(slug="study-y", songs_per_country=1)
    _populate(x, raters=2)
    _populate(y, raters=2)
    published_x = snapshot_set_published(
        snapshot_id=snapshot_export(study_id=x.pk).pk, published=True
    )
    unpublished_x = snapshot_export(study_id=x.pk)
    snapshot_export(study_id=y.pk)
    _a_cell(x)
    _a_cell(y)
    participant_a = _participant(x, "PANEL-A")
    participant_b = _participant(x, "PANEL-B")
    trial_a = trial_serve(participant=participant_a)
    assert trial_a is not None
    tagging = elicitation_study(slug="study-x-tags", songs=3)
    tagging.researchers.add(*x.researchers.all())
    analysis_x = analysis_create(study=x, params=AnalysisParams())
    analysis_create(study=y, params=AnalysisParams())
    CrossCulturalAnalysis.objects.filter(pk=analysis_x.pk).update(
        status=CrossCulturalAnalysis.Status.SUCCEEDED, results={"marker": "x"}
    )
    return World(
        x=x,
        y=y,
        researcher_x=researcher_of(x, "researcher-x"),
        researcher_y=researcher_of(y, "researcher-y"),
        viewer_x=viewer_of(x, "viewer-x"),
        superuser=UserFactory(username="root", is_superuser=True),
        participant_a=participant_a,
        participant_b=participant_b,
        trial_a=trial_a,
        elicitation_a=participant_in(tagging),
        elicitation_b=participant_in(tagging),
        analysis_x=analysis_x,
        published_x=published_x,
        unpublished_x=unpublished_x,
    )
