"""Rating test data: through the real services, or in bulk as they would leave it.

The bulk path (`rated_sessions_create`) is for tests that need thousands of ratings of a
known structure (who rated which song on which term, and how: the analysis and
cross-cultural tests), faster than one `trial_serve` + `trial_submit` round per trial
allows. It writes what `rating_session_start`, `trial_serve` and `trial_submit` would have
written for those choices, cell ledger included, and nothing they could not:

- each session's terms (SessionTerm, from position 1) and a cell for every song of the
  study × each of them, as the session's start creates;
- submitted trials from position 1, repeats pointing to their originals, and one rating
  per session term on each;
- in the cells of each regular trial's song: one more assigned and rated, and the values
  and their squares added to the sums, as `trial_submit` counts. Repeat trials count
  nowhere; nor do sessions that ended as excluded, since excluding a participant recounts
  the ledger without them.

`tests/rating/test_bulk_sessions.py` checks the ledger it leaves against `cells_recount`.
It does not retire cells, so it refuses studies with adaptive stopping.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone

from moodlab.studies.models import Participant, Song, Study, Term
from rating.models import Cell, Rating, SessionTerm, Trial
from rating.services import session_terms, trial_serve, trial_submit
from tests.conftest import build_study
from tests.factories import ParticipantFactory

NO_PRESCREENS = {
    "ask_consent": False,
    "volume_calibration": False,
    "headphone_check": False,
    "vocabulary_check": False,
}
BATCH = 5000


def rating_study_with(**params: object) -> Study:
    """A rating-phase study with the real songs and terms and no prescreens."""
    return build_study(**{**NO_PRESCREENS, **params})


def participant_in(study: Study, code: str = "en-US") -> Participant:
    return ParticipantFactory(locale=study.locales.get(code=code))


def rate_every_trial(participant: Participant, *, value: int = 2) -> None:
    """Rate each trial the services serve, `value` on every term, until none is left."""
    while (trial := trial_serve(participant=participant)) is not None:
        trial_submit(
            participant=participant,
            trial_id=trial.pk,
            ratings={term.pk: value for term in session_terms(participant=participant)},
            audio_played_seconds=30.0,
        )


@dataclass(frozen=True)
class Answer:
    """One submitted trial: its song, one value per session term (in the terms' order), and
    what the page reports. `repeat_of` is the index, in the session's answers, of the trial
    it repeats."""

    song: Song
    values: Sequence[int]
    repeat_of: int | None = None
    response_seconds: float | None = None
    audio_played_seconds: float | None = None


@dataclass(frozen=True)
class RatedSession:
    participant: Participant
    terms: Sequence[Term]
    answers: Sequence[Answer]


def rated_sessions_create(*, sessions: Sequence[RatedSession]) -> list[Trial]:
    """Write these sessions' terms, submitted trials and ratings, and count them in the
    ledger (see the module docstring); returns the trials, session by session."""
    if any(session.participant.study.adaptive_stopping for session in sessions):
        raise ValueError("The bulk path does not retire cells: build these through the services.")
    SessionTerm.objects.bulk_create(
        (
            SessionTerm(participant=session.participant, term=term, position=position)
            for session in sessions
            for position, term in enumerate(session.terms, start=1)
        ),
        batch_size=BATCH,
    )
    trials = _trials_create(sessions)
    Rating.objects.bulk_create(
        (
            Rating(
                trial=trial,
                participant=session.participant,
                song=answer.song,
                term=term,
                value=value,
            )
            for session, session_trials in zip(sessions, trials, strict=True)
            for answer, trial in zip(session.answers, session_trials, strict=True)
            for term, value in zip(session.terms, answer.values, strict=True)
        ),
        batch_size=BATCH,
    )
    _ledger_add(sessions)
    return [trial for session_trials in trials for trial in session_trials]


def _trials_create(sessions: Sequence[RatedSession]) -> list[list[Trial]]:
    now = timezone.now()
    trials = [
        [
            Trial(
                participant=session.participant,
                locale_id=session.participant.locale_id,
                song=answer.song,
                position=position,
                is_repeat=answer.repeat_of is not None,
                status=Trial.Status.SUBMITTED,
                assigned_at=now,
                submitted_at=now,
                response_seconds=answer.response_seconds,
                audio_played_seconds=answer.audio_played_seconds,
            )
            for position, answer in enumerate(session.answers, start=1)
        ]
        for session in sessions
    ]
    # Originals first: a repeat points to its original's id.
    Trial.objects.bulk_create(
        (trial for session_trials in trials for trial in session_trials if not trial.is_repeat),
        batch_size=BATCH,
    )
    for session, session_trials in zip(sessions, trials, strict=True):
        for answer, trial in zip(session.answers, session_trials, strict=True):
            if answer.repeat_of is not None:
                trial.repeat_of = session_trials[answer.repeat_of]
    Trial.objects.bulk_create(
        (trial for session_trials in trials for trial in session_trials if trial.is_repeat),
        batch_size=BATCH,
    )
    return trials


def _ledger_add(sessions: Sequence[RatedSession]) -> None:
    """Create the sessions' cells and add their regular trials' ratings to them, in one
    upsert per locale."""
    terms: dict[tuple[int, int], set[int]] = defaultdict(set)  # (study, locale) -> term ids
    added: dict[tuple[int, int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for session in sessions:
        participant = session.participant
        terms[participant.study_id, participant.locale_id].update(t.pk for t in session.terms)
        if participant.status == Participant.Status.EXCLUDED:
            continue
        for answer in session.answers:
            if answer.repeat_of is not None:
                continue
            for term, value in zip(session.terms, answer.values, strict=True):
                counts = added[participant.locale_id, answer.song.pk, term.pk]
                counts[0] += 1
                counts[1] += value
                counts[2] += value * value
    for (study_id, locale_id), term_ids in terms.items():
        cells = {
            (cell.song_id, cell.term_id): cell
            for cell in Cell.objects.filter(locale_id=locale_id, term_id__in=term_ids)
        }
        changed = []
        for song in Song.objects.filter(study_id=study_id).values_list("pk", flat=True):
            for term in term_ids:
                cell = cells.get((song, term)) or Cell(
                    locale_id=locale_id, song_id=song, term_id=term
                )
                n, total, squares = added.get((locale_id, song, term), (0, 0, 0))
                if cell.pk is not None and not n:
                    continue
                cell.assigned += n
                cell.rated += n
                cell.value_sum += total
                cell.value_square_sum += squares
                changed.append(cell)
        Cell.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["locale", "song", "term"],
            update_fields=["assigned", "rated", "value_sum", "value_square_sum"],
            batch_size=BATCH,
        )
