"""What the elicitation app tells the core (registered in `ElicitationConfig.ready()`): when
a locale's chains are complete, which turns were skipped for audio, what moving to curation
must check, the chain counts and charts of the study page and dashboard, and how a
simulated participant fills chains. See `moodlab.studies.extensions`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from django.db.models import Count, Q, QuerySet

from elicitation.models import Chain, Turn
from elicitation.simulated import simulate_elicitation_participant
from moodlab.studies.extensions import Extension
from moodlab.studies.models import Study, StudyLocale
from moodlab.studies.preflight import Preflight
from moodlab.studies.services.recruitment import REASON_CHAINS_COMPLETE
from moodlab.wording import plural


def locale_chains_complete(locale: StudyLocale) -> bool:
    """Every chain the locale's songs call for is complete."""
    study = locale.study
    wanted = study.songs.count() * study.chains_per_song
    complete = Chain.objects.filter(locale=locale, status=Chain.Status.COMPLETE).count()
    return wanted > 0 and complete >= wanted


def turns_skipped_for_audio() -> QuerySet[Turn]:
    return Turn.objects.filter(status=Turn.Status.NO_AUDIO)


def preflight_chains(preflight: Preflight) -> None:
    """Moving to curation: each locale's chains, since curation starts from their tags."""
    if preflight.phase != Study.Phase.CURATION:
        return
    counts = {
        row["locale_id"]: row
        for row in Chain.objects.filter(locale__in=preflight.locales)
        .values("locale_id")
        .annotate(total=Count("id"), complete=Count("id", filter=Q(status=Chain.Status.COMPLETE)))
    }
    for locale in preflight.locales:
        row = counts.get(locale.pk, {"total": 0, "complete": 0})
        preflight.add(
            f"Chains, {locale.code}",
            None if row["complete"] else "warning",
            f"{row['complete']} of {plural(row['total'], 'chain')} complete: curation "
            "would start with few or no tags.",
            f"{row['complete']} of {plural(row['total'], 'chain')} complete.",
        )


def study_chain_counts(study: Study) -> Mapping[str, int]:
    return Chain.objects.filter(study=study).aggregate(
        chains=Count("id"), complete_chains=Count("id", filter=Q(status=Chain.Status.COMPLETE))
    )


def locale_chain_charts(locale: StudyLocale) -> Mapping[str, object]:
    """How many of the locale's chains have 0, 1, … max_turns turns done."""
    max_turns = locale.study.max_turns_per_chain
    done = Counter(Chain.objects.filter(locale=locale).values_list("turns_done", flat=True))
    return {"chains": [done.get(turns, 0) for turns in range(max_turns + 1)]}


ELICITATION = Extension(
    app="elicitation",
    phase=Study.Phase.ELICITATION,
    work_done=locale_chains_complete,
    work_done_reason=REASON_CHAINS_COMPLETE,
    skipped_for_audio=turns_skipped_for_audio,
    preflight=preflight_chains,
    overview=study_chain_counts,
    dashboard=locale_chain_charts,
    simulated_participant=simulate_elicitation_participant,
)
