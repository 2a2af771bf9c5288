from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction
from django.db.models import Count, Max, Min

from moodlab.studies.models import Participant
from rating.models import Cell, Rating, SessionTerm, Trial
from rating.services import (
    ALLOCATION_LOCK_NAMESPACE,
    rating_session_start,
    session_terms,
    trial_serve,
    trial_submit,
)
from tests.rating.factories import participant_in, rating_study_with

PARTICIPANTS = 200
# PostgreSQL allows 100 connections and other suites share the server: 200 sessions start at
# once, but at most this many are inside the database at the same moment.
WORKERS = 24


def _run_session(participant_id: int, gate: threading.Event) -> int:
    try:
        participant = Participant.objects.select_related("study", "locale").get(pk=participant_id)
        gate.wait()
        submitted = 0
        while (trial := trial_serve(participant=participant)) is not None:
            terms = session_terms(participant=participant)
            trial_submit(
                participant=participant,
                trial_id=trial.pk,
                ratings={term.pk: 1 + (trial.song_id + term.pk) % 5 for term in terms},
                audio_played_seconds=30.0,
            )
            submitted += 1
        return submitted
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("selected_terms", "target"),
    [
        # Everyone rates the same 7 terms: 7,000 cell ratings fill 413 cells evenly, 16 or 17
        # each, well under the target — the ordering alone keeps them level.
        (7, 20),
        # 7 of 20 terms each: 7,000 cell ratings asked of 59 × 20 × 5 = 5,900 places, so the
        # study fills up and the last sessions end early; the target holds throughout.
        (20, 5),
    ],
)
def test_two_hundred_sessions_at_once_never_overfill_a_cell_or_repeat_a_song(
    selected_terms, target
):
    study = rating_study_with(
        terms_per_locale=selected_terms,
        trials_per_participant=5,
        repeat_trials=1,
        target_ratings_per_cell=target,
    )
    ids = [participant_in(study).pk for _ in range(PARTICIPANTS)]
    gate = threading.Event()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = [pool.submit(_run_session, pk, gate) for pk in ids]
        gate.set()
        submitted = [future.result() for future in futures]

    assert sum(submitted) > 0
    per_cell = (
        Rating.objects.filter(trial__is_repeat=False)
        .values("song", "term")
        .annotate(n=Count("id"))
        .aggregate(top=Max("n"), bottom=Min("n"), cells=Count("song"))
    )
    assert per_cell["top"] <= target
    assert per_cell["cells"] == 59 * selected_terms
    if selected_terms == study.terms_per_participant:
        assert per_cell["top"] - per_cell["bottom"] <= 1
    duplicated = (
        Trial.objects.filter(is_repeat=False)
        .values("participant", "song")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not duplicated.exists()
    # The allocator's ledger agrees with the ratings it stands for.
    counted = {
        (row["song"], row["term"]): row["n"]
        for row in Rating.objects.filter(trial__is_repeat=False)
        .values("song", "term")
        .annotate(n=Count("id"))
    }
    ledger = {(c.song_id, c.term_id): (c.assigned, c.rated) for c in Cell.objects.all()}
    assert ledger == {cell: (n, n) for cell, n in counted.items()}


@pytest.mark.django_db(transaction=True)
def test_allocation_takes_a_free_song_instead_of_waiting_for_one_being_claimed():
    study = rating_study_with(terms_per_locale=7, trials_per_participant=5, repeat_trials=0)
    participant = participant_in(study)
    trial_serve(participant=participant)  # draws the terms and creates the cells
    Trial.objects.all().delete()
    Cell.objects.update(assigned=0)
    free_song = study.songs.order_by("pk").last()
    locked, release = threading.Event(), threading.Event()

    def claim_every_other_song() -> None:
        try:
            with transaction.atomic():
                list(Cell.objects.select_for_update().exclude(song=free_song))
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=claim_every_other_song)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")  # waiting would fail the test
            trial = trial_serve(participant=participant)
        assert trial.song_id == free_song.pk
    finally:
        release.set()
        holder.join()
    assert set(Cell.objects.filter(assigned=1).values_list("song", flat=True)) == {free_song.pk}


@pytest.mark.django_db(transaction=True)
def test_a_session_waiting_for_its_first_song_does_not_hold_up_other_term_draws():
    study = rating_study_with(terms_per_locale=20, trials_per_participant=5, repeat_trials=0)
    waiting, newcomer = participant_in(study), participant_in(study)
    recounting, release = threading.Event(), threading.Event()

    def hold_the_allocation_lock() -> None:
        """What a recount does: the locale's allocation lock, exclusively, for a while."""
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)",
                    [ALLOCATION_LOCK_NAMESPACE, waiting.locale_id],
                )
                recounting.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    def serve_the_waiting_session() -> None:
        try:
            trial_serve(participant=waiting)
        finally:
            connection.close()

    recount = threading.Thread(target=hold_the_allocation_lock)
    recount.start()
    assert recounting.wait(timeout=30)
    first = threading.Thread(target=serve_the_waiting_session)
    first.start()
    try:
        # The waiting session's terms are drawn and committed while it waits for the
        # allocation lock, which the "recount" keeps far longer than this.
        deadline = time.monotonic() + 10
        while not SessionTerm.objects.filter(participant=waiting).exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")  # waiting would fail the test
            drawn = rating_session_start(participant=newcomer)
        assert len(drawn) == study.terms_per_participant
    finally:
        release.set()
        recount.join()
        first.join()
    assert Trial.objects.filter(participant=waiting).exists()
