"""Rating sessions: the term plan, balanced song allocation, submission, release, recounts.

Concurrency: allocation reads the small Cell ledger (one row per song × term, ~24,000 per
locale at the reference size) without locks, then claims a song by locking that song's cells
for the participant's terms with SELECT … FOR UPDATE SKIP LOCKED and checking them again:
two sessions can never both take the last free place of a cell, and a session never waits
for another's song, it takes the next candidate. One session allocates one trial at a time
(an advisory lock per participant). Term draws are serialised per locale (they spread
sessions over the terms); recounts rebuild a locale's counters under an exclusive advisory
lock that allocations hold shared. Counters only ever go down outside these locks
(releases), which can never over-assign a cell.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import (
    Count,
    F,
    QuerySet,
    Sum,
    Value,
)
from django.utils import timezone
from django.utils.translation import override

from moodlab.errors import Conflict, Invalid, NotFound
from moodlab.studies.models import Allocation, Participant, Song, Study, Term
from moodlab.studies.scale import SCALE_MAX, SCALE_MIN, in_scale
from moodlab.studies.services.participants import participant_finish, participant_touch
from moodlab.studies.services.recruitment import participant_no_work
from rating.models import Cell, Rating, SessionTerm, Trial
from rating.timing import response_seconds_measured

# First keys of the two-key advisory locks; the second key is the locale or the participant.
ALLOCATION_LOCK_NAMESPACE = 0x52415447  # "RATG": allocations (shared) against recounts
TERM_DRAW_LOCK_NAMESPACE = 0x52415444  # "RATD": term draws of one locale, one at a time
PARTICIPANT_LOCK_NAMESPACE = 0x52415450  # "RATP": one allocation at a time per session
# Songs tried per ledger read before reading it again; others may be claiming the first ones.
CLAIM_CANDIDATES = 8
# Ledger reads that skip locked songs before waiting for one: a safety net, never reached
# unless allocations pile up on a handful of songs for a long time.
CLAIM_ROUNDS = 20
# The variance of a cell with fewer than two ratings, for allocation by information: the
# widest the scale allows (half the ratings at each end), so such cells come first.
UNKNOWN_VARIANCE = ((SCALE_MAX - SCALE_MIN) / 2) ** 2


EXCLUSIVE, SHARED = "pg_advisory_xact_lock", "pg_advisory_xact_lock_shared"


def _advisory_locks(*locks: tuple[str, int, int]) -> None:
    """(EXCLUSIVE or SHARED, namespace, key) locks held until the transaction ends, taken in
    the order given and in one round trip. SQLite (the embedded default) serialises writers
    by itself, so the locks are PostgreSQL's."""
    if locks and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT " + ", ".join(f"{kind}(%s, %s)" for kind, _, _ in locks),
                [value for _, namespace, key in locks for value in (namespace, key)],
            )


def _require_rating_participant(participant: Participant) -> None:
    if participant.phase != Participant.Phase.RATING:
        raise Conflict("This session is not a rating session.", code="wrong_phase")


# Where session_terms keeps a participant's terms for the rest of the request.
_TERMS_ATTRIBUTE = "_rating_session_terms"


def session_terms(*, participant: Participant) -> list[Term]:
    """The participant's terms in display order (empty before their session starts).

    Terms are drawn once and never change, so the participant object keeps them: a
    submission validates, allocates and shows the next trial with one read of them.
    """
    cached: list[Term] | None = getattr(participant, _TERMS_ATTRIBUTE, None)
    if cached:
        return cached
    terms = [
        st.term
        for st in SessionTerm.objects.filter(participant=participant)
        .select_related("term")
        .order_by("position")
    ]
    setattr(participant, _TERMS_ATTRIBUTE, terms)
    return terms


def rating_session_start(*, participant: Participant) -> list[Term]:
    """Draw the participant's terms once: the locale's least-covered selected terms.

    Coverage counts the ratings a term has or is about to get (submitted + held trials), then
    how many active sessions already rate it, so that sessions starting together spread over
    the terms; remaining ties are broken at random. Shown alphabetically in the participant's
    language, a fixed order that does not hint at which terms were drawn first.
    """
    _require_rating_participant(participant)
    with transaction.atomic():
        _advisory_locks((EXCLUSIVE, TERM_DRAW_LOCK_NAMESPACE, participant.locale_id))
        existing = session_terms(participant=participant)
        if existing:
            return existing
        study = participant.study
        candidates = list(Term.objects.filter(locale=participant.locale, is_selected=True))
        if len(candidates) < study.terms_per_participant:
            raise Invalid(
                {"terms": f"{participant.locale.code} has too few rating terms selected."}
            )
        load = dict(
            Cell.objects.filter(locale=participant.locale)
            .values_list("term")
            .annotate(total=Sum("assigned"))
        )
        active = dict(
            SessionTerm.objects.filter(
                term__locale=participant.locale, participant__status=Participant.Status.STARTED
            )
            .values_list("term")
            .annotate(sessions=Count("id"))
        )
        random.shuffle(candidates)
        candidates.sort(key=lambda term: (load.get(term.pk, 0), active.get(term.pk, 0)))
        drawn = candidates[: study.terms_per_participant]
        with override(participant.locale.language):
            drawn.sort(key=lambda term: (term.label.casefold(), term.pk))
        SessionTerm.objects.bulk_create(
            SessionTerm(participant=participant, term=term, position=position)
            for position, term in enumerate(drawn, start=1)
        )
        _ensure_cells(participant, [term.pk for term in drawn])
        setattr(participant, _TERMS_ATTRIBUTE, drawn)
        return drawn


@dataclass(frozen=True)
class TrialCounts:
    """A session's trials so far; `held` is the id of the one being rated, if any.

    Trials whose audio failed count in none of regular, repeats or submitted: the session
    takes another song in their place. They still hold a position.
    """

    regular: int
    repeats: int
    submitted: int
    held: int | None
    failed: int = 0

    @property
    def next_position(self) -> int:
        return self.regular + self.repeats + self.failed + 1


def trial_counts(*, participant: Participant) -> TrialCounts:
    """One read of the session's trials, for allocation and for the progress shown.

    Plain SQL: every submission reads it twice, and the ORM's filtered aggregates cost more
    CPU to build than PostgreSQL spends answering them.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT COUNT(*) FILTER (WHERE NOT is_repeat AND status <> %s),
                COUNT(*) FILTER (WHERE is_repeat AND status <> %s),
                COUNT(*) FILTER (WHERE status = %s), MAX(id) FILTER (WHERE status = %s),
                COUNT(*) FILTER (WHERE status = %s)
            FROM {Trial._meta.db_table} WHERE participant_id = %s
            """,  # noqa: S608 - the table name comes from the model, values are parameters
            [
                Trial.Status.NO_AUDIO,
                Trial.Status.NO_AUDIO,
                Trial.Status.SUBMITTED,
                Trial.Status.HELD,
                Trial.Status.NO_AUDIO,
                participant.pk,
            ],
        )
        regular, repeats, submitted, held, failed = cursor.fetchone()
    return TrialCounts(regular, repeats, submitted, held, failed)


def trial_serve(*, participant: Participant) -> Trial | None:
    """The participant's current trial, allocating the next one when none is held.

    Regular trials come first, each on one of the least-rated songs for the locale and the
    participant's terms that still has room in every cell; then the repeat trials, on
    earlier songs picked at random. None means the session has nothing left to rate: all
    trials are done, or every song the participant could still get is full.

    The first call draws the terms in a transaction of its own: the locale's draw lock is
    then held for the draw alone, not while the first song is allocated, so sessions that
    start together queue for less time.
    """
    terms = session_terms(participant=participant) or rating_session_start(participant=participant)
    with transaction.atomic():
        _allocation_locks(participant)
        counts = trial_counts(participant=participant)
        if counts.held is not None:
            return Trial.objects.select_related("song", "upcoming_song").get(pk=counts.held)
        study = participant.study
        if counts.repeats == 0 and counts.regular < study.trials_per_participant:
            song_id, upcoming_id = _claim_least_rated_song(
                participant, study, [term.pk for term in terms], prefer=_upcoming(participant)
            )
            if song_id is not None:
                last_regular = counts.regular + 1 == study.trials_per_participant
                return Trial.objects.create(
                    participant=participant,
                    locale_id=participant.locale_id,
                    song=Song.objects.get(pk=song_id),
                    position=counts.next_position,
                    upcoming_song_id=None if last_regular else upcoming_id,
                )
        if counts.repeats < study.repeat_trials:
            original = (
                Trial.objects.filter(
                    participant=participant,
                    is_repeat=False,
                    status=Trial.Status.SUBMITTED,
                    repeats__isnull=True,
                )
                .select_related("song")
                .order_by("?")
                .first()
            )
            if original is not None:
                return Trial.objects.create(
                    participant=participant,
                    locale_id=participant.locale_id,
                    song=original.song,
                    position=counts.next_position,
                    is_repeat=True,
                    repeat_of=original,
                )
        return None


def trial_serve_or_wait(*, participant: Participant) -> tuple[Trial | None, bool]:
    """The current trial, or (None, waiting): a session that has rated nothing yet and finds
    no song never ends as completed. It waits while other sessions hold trials that may come
    back; otherwise the locale is full, and the session ends with the "no places" return."""
    trial = trial_serve(participant=participant)
    if trial is not None:
        return trial, False
    counts = trial_counts(participant=participant)
    if counts.submitted > 0:
        return None, False
    others_hold = (
        Trial.objects.filter(
            locale_id=participant.locale_id, status=Trial.Status.HELD, is_repeat=False
        )
        .exclude(participant=participant)
        .exists()
    )
    # Songs this session could not play are closed to it alone: they say nothing of the locale.
    waiting = participant_no_work(
        participant=participant, others_hold_work=others_hold, close_locale=counts.failed == 0
    )
    return None, waiting


def _allocation_locks(participant: Participant) -> None:
    """One allocation at a time per session, and none while a recount rebuilds the locale's
    counters."""
    _advisory_locks(
        (EXCLUSIVE, PARTICIPANT_LOCK_NAMESPACE, participant.pk),
        (SHARED, ALLOCATION_LOCK_NAMESPACE, participant.locale_id),
    )


def _upcoming(participant: Participant) -> int | None:
    """The song announced as coming next with the session's latest trial, if any."""
    return (
        Trial.objects.filter(participant=participant, is_repeat=False)
        .order_by("-position")
        .values_list("upcoming_song_id", flat=True)
        .first()
    )


def _claim_least_rated_song(
    participant: Participant, study: Study, term_ids: list[int], *, prefer: int | None = None
) -> tuple[int | None, int | None]:
    """Take a place in each of a least-rated song's cells for these terms; None if none is left.

    Candidates come from a lock-free read of the ledger. A candidate is claimed only if all
    its cells can be locked at once without waiting and are still as full as read (or
    emptier): then no cell goes over the target, and songs stay level as the order intends.
    Otherwise the next candidate is tried, and the ledger read again when all are taken.
    `prefer` (the song announced as upcoming) wins among songs rated equally. Also returns
    the next candidate after the claimed one, to announce as upcoming (no extra read).
    """
    for attempt in range(CLAIM_ROUNDS + 1):
        candidates = _least_rated_songs(participant, study, term_ids, prefer=prefer)
        if not candidates:
            return None, None
        # The last round waits for the best song instead of skipping it.
        last_round = attempt == CLAIM_ROUNDS
        for index, (song_id, fullest) in enumerate(candidates[:1] if last_round else candidates):
            if _claim_cells(participant, song_id, term_ids, fullest, wait=last_round):
                following = candidates[index + 1 : index + 2]
                return song_id, following[0][0] if following else None
    return None, None


def _claim_cells(
    participant: Participant, song_id: int, term_ids: list[int], fullest: int, *, wait: bool
) -> bool:
    """Lock the song's cells for these terms and count the claim in each, if all of them
    could be locked, none is fuller than `fullest` and one is still open.

    Two plain statements: the check must see the cells as locked, before any is counted.
    """
    terms = ", ".join(["%s"] * len(term_ids))
    # SQLite (the embedded default) has no row locks: one writer at a time anyway.
    lock = ""
    if connection.features.has_select_for_update:
        lock = "ORDER BY id FOR UPDATE" if wait else "ORDER BY id FOR UPDATE SKIP LOCKED"
    cell = Cell._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT id, assigned, retired_at FROM {cell}
            WHERE locale_id = %s AND song_id = %s AND term_id IN ({terms}) {lock}
            """,  # noqa: S608 - the table name comes from the model, values are parameters
            [participant.locale_id, song_id, *term_ids],
        )
        locked = cursor.fetchall()
        if (
            len(locked) < len(term_ids)
            or max(assigned for _, assigned, _ in locked) > fullest
            or all(retired_at is not None for _, _, retired_at in locked)
        ):
            return False
        cells = ", ".join(["%s"] * len(locked))
        cursor.execute(
            f"UPDATE {cell} SET assigned = assigned + 1 WHERE id IN ({cells})",  # noqa: S608
            [pk for pk, _, _ in locked],
        )
    return True


def _least_rated_songs(
    participant: Participant, study: Study, term_ids: list[int], *, prefer: int | None = None
) -> list[tuple[int, int]]:
    """(song, fullest cell) of the songs whose cells for these terms have the fewest ratings.

    A song qualifies while every one of its cells is below the target (so none is ever
    over-assigned) and at least one is still open; a retired cell counts as full, so
    adaptive stopping sends raters to songs that still need information. Songs with the
    emptiest fullest cell come first, then the fewest ratings over all the terms, then at
    random, so that sessions allocating at the same moment spread over the equals.

    With allocation by information, the songs whose open cells have the widest standard
    error come before all that: summed over the cells, the sample variance (the widest the
    1–5 scale allows, 4, below two ratings) over the places taken plus this one. Retired
    cells add nothing. The target still caps every cell.

    Every submission runs this, so it is plain SQL: building it with the ORM cost more
    CPU than PostgreSQL spends answering it.
    """
    terms = ", ".join(["%s"] * len(term_ids))
    information = ""
    if study.allocation == Allocation.INFORMATION:
        information = f"""
            SUM(CASE WHEN c.retired_at IS NOT NULL THEN 0
                WHEN c.rated < 2 THEN {UNKNOWN_VARIANCE}
                ELSE (c.rated * c.value_square_sum - c.value_sum * c.value_sum) * 1.0
                    / (c.rated * (c.rated - 1))
            END / (c.assigned + 1)) DESC,"""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c.song_id, MAX(c.assigned) AS fullest FROM {Cell._meta.db_table} c
            WHERE c.locale_id = %s AND c.term_id IN ({terms})
              AND c.song_id NOT IN (
                  SELECT t.song_id FROM {Trial._meta.db_table} t WHERE t.participant_id = %s
              )
            GROUP BY c.song_id
            HAVING MAX(c.assigned) < %s AND COUNT(c.retired_at) < %s
            ORDER BY {information} fullest,
                SUM(CASE WHEN c.retired_at IS NULL THEN c.assigned ELSE %s END),
                CASE WHEN c.song_id = %s THEN 0 ELSE 1 END, RANDOM()
            LIMIT %s
            """,  # noqa: S608 - table names come from the models, values are parameters
            [
                participant.locale_id,
                *term_ids,
                participant.pk,
                study.target_ratings_per_cell,
                len(term_ids),
                study.target_ratings_per_cell,
                prefer or 0,
                CLAIM_CANDIDATES,
            ],
        )
        return [(song, fullest) for song, fullest in cursor.fetchall()]


def _ensure_cells(participant: Participant, term_ids: list[int]) -> None:
    """Create the ledger rows this session's allocation reads: every song × its terms.

    Once per session, so songs imported after the rating phase began are served too. The
    rows nearly always exist already: counting them is far cheaper than re-inserting
    thousands of rows, which would hold the locale's allocation lock for a while.
    """
    songs = Song.objects.filter(study_id=participant.study_id).values_list("pk", flat=True)
    existing = Cell.objects.filter(locale_id=participant.locale_id, term__in=term_ids).count()
    if existing == songs.count() * len(term_ids):
        return
    Cell.objects.bulk_create(
        [
            Cell(locale_id=participant.locale_id, song_id=song, term_id=term)
            for song in songs
            for term in term_ids
        ],
        ignore_conflicts=True,
        batch_size=5000,
    )


@transaction.atomic
def trial_submit(
    *,
    participant: Participant,
    trial_id: int,
    ratings: Mapping[int, int],
    audio_played_seconds: float,
    response_seconds: float | None = None,
    simulated_clock: str = "",
) -> Trial:
    """Store all ratings of a trial at once; the one path that writes Rating rows.

    A retry with the same values returns the stored trial unchanged (the client lost the
    answer); different values for a submitted trial are a conflict, never an overwrite.
    `response_seconds` is the time the page measured, bounded by the server's elapsed time
    unless `simulated_clock` signs it (see rating.timing).
    """
    trial = (
        Trial.objects.select_for_update(of=("self",))
        .select_related("song")
        .filter(pk=trial_id, participant=participant)
        .first()
    )
    if trial is None:
        raise NotFound("No such trial in this session.")
    if trial.status == Trial.Status.SUBMITTED:
        stored = dict(trial.ratings.values_list("term_id", "value"))
        if stored != dict(ratings):
            raise Conflict(
                "This trial was already submitted with other ratings.", code="already_submitted"
            )
        return trial
    if trial.status != Trial.Status.HELD:
        raise Conflict("This trial is no longer yours to rate.", code="not_current")
    _validate_submission(participant, trial, ratings, audio_played_seconds)
    now = timezone.now()
    trial.status = Trial.Status.SUBMITTED
    trial.submitted_at = now
    trial.audio_played_seconds = audio_played_seconds
    trial.response_seconds = response_seconds_measured(
        elapsed_seconds=(now - trial.assigned_at).total_seconds(),
        reported_seconds=response_seconds,
        simulated_clock=simulated_clock,
        trial_id=trial.pk,
    )
    trial.save(update_fields=["status", "submitted_at", "audio_played_seconds", "response_seconds"])
    Rating.objects.bulk_create(
        Rating(
            trial=trial,
            participant_id=participant.pk,
            song_id=trial.song_id,
            term_id=term_id,
            value=value,
        )
        for term_id, value in ratings.items()
    )
    if not trial.is_repeat:
        _record_in_cells(participant.study, trial, ratings)
    participant_touch(participant=participant)
    return trial


@transaction.atomic
def trial_report_audio_failure(*, participant: Participant, trial_id: int) -> Trial:
    """The trial's clip failed to load twice: let the participant go on without it.

    The trial is kept as an audio failure (the researcher sees failures per song), its
    places in the song's cells are given back, and nothing of it counts; the session's next
    trial is another song. A retry of the report answers the recorded failure.
    """
    trial = (
        Trial.objects.select_for_update(of=("self",))
        .filter(pk=trial_id, participant=participant)
        .first()
    )
    if trial is None:
        raise NotFound("No such trial in this session.")
    if trial.status == Trial.Status.NO_AUDIO:
        return trial
    if trial.status != Trial.Status.HELD:
        raise Conflict("This trial is no longer yours to rate.", code="not_current")
    trial.status = Trial.Status.NO_AUDIO
    trial.save(update_fields=["status"])
    if not trial.is_repeat:
        Cell.objects.filter(
            locale_id=trial.locale_id,
            song_id=trial.song_id,
            term__in=[term.pk for term in session_terms(participant=participant)],
        ).update(assigned=F("assigned") - 1)
    participant_touch(participant=participant)
    return trial


def _validate_submission(
    participant: Participant, trial: Trial, ratings: Mapping[int, int], audio_played_seconds: float
) -> None:
    errors: dict[str, list[str]] = {}
    expected = {term.pk for term in session_terms(participant=participant)}
    missing = sorted(expected - ratings.keys())
    extra = sorted(ratings.keys() - expected)
    term_errors = [f"Missing a rating for term {term}." for term in missing] + [
        f"Term {term} is not one of this trial's terms." for term in extra
    ]
    if term_errors:
        errors["ratings"] = term_errors
    if not all(in_scale(value) for value in ratings.values()):
        errors.setdefault("ratings", []).append(
            f"Every rating must be from {SCALE_MIN} to {SCALE_MAX}."
        )
    if not trial.song.clip_heard(audio_played_seconds):
        errors["audio_played_seconds"] = [
            f"Listen to the whole clip ({trial.song.clip_seconds:.1f} s) before answering."
        ]
    if errors:
        raise Invalid(errors)


def _record_in_cells(study: Study, trial: Trial, ratings: Mapping[int, int]) -> None:
    """Add the ratings to their cells' counts and sums, in one plain UPDATE (the ORM's
    CASE … WHEN per term took longer to build than to run)."""
    whens = " ".join(["WHEN %s THEN %s"] * len(ratings))
    terms = ", ".join(["%s"] * len(ratings))
    values = [x for term, value in ratings.items() for x in (term, value)]
    squares = [x for term, value in ratings.items() for x in (term, value * value)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Cell._meta.db_table} SET rated = rated + 1,
                value_sum = value_sum + CASE term_id {whens} END,
                value_square_sum = value_square_sum + CASE term_id {whens} END
            WHERE locale_id = %s AND song_id = %s AND term_id IN ({terms})
            """,  # noqa: S608 - the table name comes from the model, values are parameters
            [*values, *squares, trial.locale_id, trial.song_id, *ratings],
        )
    if study.adaptive_stopping:
        cells_retire_precise(
            cells=Cell.objects.filter(
                locale_id=trial.locale_id, song_id=trial.song_id, term__in=ratings
            ),
            min_ratings=study.adaptive_min_ratings,
            max_standard_error=study.adaptive_max_standard_error,
        )


def cells_retire_precise(
    *, cells: QuerySet[Cell], min_ratings: int, max_standard_error: float
) -> int:
    """Retire cells whose standard error of the mean is below the threshold.

    SEM² = (n·Σx² − (Σx)²) / (n²·(n − 1)), compared without a square root or division so the
    test stays in integer arithmetic on the database.
    """
    n = F("rated")
    spread = n * F("value_square_sum") - F("value_sum") * F("value_sum")
    return (
        cells.filter(retired_at=None, rated__gte=max(min_ratings, 2))
        .alias(spread=spread, bound=n * n * (n - 1) * Value(max_standard_error**2))
        .filter(spread__lt=F("bound"))
        .update(retired_at=timezone.now())
    )


def rating_session_finish(*, participant: Participant) -> Participant:
    """End the rating phase as completed; refused while trials remain. A retry is answered
    with the finished session, so a lost response does not strand the participant."""
    _require_rating_participant(participant)
    if participant.status == Participant.Status.COMPLETED:
        return participant
    trial, waiting = trial_serve_or_wait(participant=participant)
    if trial is not None or waiting:
        raise Conflict("Some trials are still to be rated.", code="trials_remain")
    if participant.status == Participant.Status.FULL:
        return participant  # nothing was rated: the study filled up, no completion
    return participant_finish(participant=participant, status=Participant.Status.COMPLETED)


def trials_release_abandoned() -> int:
    """Give back the held trials of sessions that ended (timed out, excluded, screened out).

    Run by beat after the core marks stale sessions timed out; skip_locked lets two runs
    overlap without waiting on each other or releasing a trial twice.
    """
    with transaction.atomic():
        trials = list(
            Trial.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Trial.Status.HELD)
            .exclude(participant__status=Participant.Status.STARTED)
            .only("pk", "participant_id", "locale_id", "song_id", "is_repeat")
        )
        Trial.objects.filter(pk__in=[trial.pk for trial in trials]).update(
            status=Trial.Status.RELEASED
        )
        for trial in trials:
            if not trial.is_repeat:
                Cell.objects.filter(
                    locale_id=trial.locale_id,
                    song_id=trial.song_id,
                    term__in=SessionTerm.objects.filter(participant_id=trial.participant_id).values(
                        "term_id"
                    ),
                ).update(assigned=F("assigned") - 1)
    return len(trials)


@transaction.atomic
def cells_recount(*, locale_ids: list[int], counted: QuerySet[Participant]) -> None:
    """Rebuild the locales' cell counters from the ratings and held trials that count.

    Called whenever whose data counts changes (an exclusion, an override, a quality run):
    excluded participants' places are freed so new raters fill them, and an included one's
    come back. Runs under the locales' allocation locks, so no allocation sees a half count.
    """
    _advisory_locks(*((EXCLUSIVE, ALLOCATION_LOCK_NAMESPACE, pk) for pk in sorted(locale_ids)))
    # A few thousand ids, spelled out as parameters so that SQLite takes them too.
    counted_ids = list(counted.values_list("pk", flat=True))
    counted_in = ", ".join(["%s"] * len(counted_ids)) or "NULL"
    locales = ", ".join(["%s"] * len(locale_ids))
    cell, rating, trial = Cell._meta.db_table, Rating._meta.db_table, Trial._meta.db_table
    session_term = SessionTerm._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {cell} SET assigned = 0, rated = 0, value_sum = 0, value_square_sum = 0
            WHERE locale_id IN ({locales})
            """,  # noqa: S608 - table names come from the models, values are parameters
            locale_ids,
        )
        cursor.execute(
            f"""
            UPDATE {cell} SET rated = mine.n, assigned = mine.n, value_sum = mine.s,
                              value_square_sum = mine.q
            FROM (
                SELECT t.locale_id, r.song_id, r.term_id,
                       COUNT(*) AS n, SUM(r.value) AS s, SUM(r.value * r.value) AS q
                FROM {rating} r JOIN {trial} t ON t.id = r.trial_id
                WHERE t.locale_id IN ({locales}) AND NOT t.is_repeat
                  AND r.participant_id IN ({counted_in})
                GROUP BY t.locale_id, r.song_id, r.term_id
            ) AS mine
            WHERE {cell}.locale_id = mine.locale_id AND {cell}.song_id = mine.song_id
              AND {cell}.term_id = mine.term_id
            """,  # noqa: S608
            [*locale_ids, *counted_ids],
        )
        cursor.execute(
            f"""
            UPDATE {cell} SET assigned = {cell}.assigned + held.n
            FROM (
                SELECT t.locale_id, t.song_id, st.term_id, COUNT(*) AS n
                FROM {trial} t JOIN {session_term} st ON st.participant_id = t.participant_id
                WHERE t.locale_id IN ({locales}) AND NOT t.is_repeat AND t.status = %s
                  AND t.participant_id IN ({counted_in})
                GROUP BY t.locale_id, t.song_id, st.term_id
            ) AS held
            WHERE {cell}.locale_id = held.locale_id AND {cell}.song_id = held.song_id
              AND {cell}.term_id = held.term_id
            """,  # noqa: S608
            [*locale_ids, Trial.Status.HELD, *counted_ids],
        )
