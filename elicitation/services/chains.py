"""State changes of the elicitation chains (STEP-Tag, docs/method.md, phase 1).

The API, the expiry task, the simulated participants and the tests all go through these
functions. Chains are claimed with `select_for_update(skip_locked=True)` and the database's
partial unique constraints (one held turn per chain, per participant) back that up, so two
participants can never hold or write the same chain turn.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from elicitation.models import Chain, ChainTag, TagAddition, TagRating, Turn
from moodlab.errors import Conflict, Invalid
from moodlab.studies.models import MAX_NEW_TAGS_PER_TURN, Participant, Study, StudyLocale
from moodlab.studies.normalization import TagError, clean_tag, grouping_key
from moodlab.studies.scale import SCALE_MAX, SCALE_MIN, in_scale
from moodlab.studies.services.participants import participant_finish, participant_touch
from moodlab.studies.services.recruitment import participant_no_work

FLAG = "flag"
STARS_OR_FLAG_ERROR = f'Give {SCALE_MIN} to {SCALE_MAX} stars or "{FLAG}".'


def is_stars_or_flag(value: object) -> bool:
    """A tag's rating: stars on the scale (an int, not a bool), or the flag."""
    if value == FLAG:
        return True
    return isinstance(value, int) and not isinstance(value, bool) and in_scale(value)


@dataclass(frozen=True)
class TurnSubmission:
    """What a participant sends for a turn; ratings map chain tag ids to stars or "flag"."""

    ratings: Mapping[int, int | str]
    new_tags: Sequence[str]
    audio_played_seconds: float

    def digest(self) -> str:
        canonical = json.dumps(
            {
                "ratings": sorted((int(tag_id), value) for tag_id, value in self.ratings.items()),
                "new_tags": list(self.new_tags),
                "audio_played_seconds": round(float(self.audio_played_seconds), 3),
            },
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def turn_time_budget_seconds(*, study: Study, tags_rated: int, new_tags: int) -> int:
    """Seconds a turn is expected to take, for pay and for fitting turns into a session."""
    return study.seconds_per_tag_rated * tags_rated + study.seconds_per_new_tag * new_tags


def chains_ensure(*, locale: StudyLocale) -> int:
    """Create the locale's missing chains (every song × chains_per_song); returns how many.

    Called lazily by the first claim, so songs imported after elicitation started get chains
    too. Concurrent callers are harmless: the unique constraint drops duplicates.
    """
    study = locale.study
    wanted = study.songs.count() * study.chains_per_song
    if Chain.objects.filter(locale=locale).count() >= wanted:
        return 0
    chains = [
        Chain(study=study, locale=locale, song_id=song_id, index=index)
        for song_id in study.songs.values_list("pk", flat=True)
        for index in range(study.chains_per_song)
    ]
    return len(Chain.objects.bulk_create(chains, ignore_conflicts=True))


def participant_turns_submitted(*, participant: Participant) -> int:
    return Turn.objects.filter(participant=participant, status=Turn.Status.SUBMITTED).count()


@transaction.atomic
def turn_claim(*, participant: Participant) -> Turn | None:
    """The participant's held turn, or a newly claimed one; None when they are done.

    A participant is done after `turns_per_participant` submitted turns or when no chain is
    available to them (all complete, held, or songs they already did); the session is then
    finished as completed. Before their first turn, no chain means waiting (others hold
    them; the participant stays started) or a full locale (the session ends as full).
    """
    # Serialises one participant's own requests (two tabs): they never claim two chains.
    participant.status = (
        Participant.objects.select_for_update()
        .values_list("status", flat=True)
        .get(pk=participant.pk)
    )
    now = timezone.now()
    held = (
        Turn.objects.select_related("chain", "song")
        .filter(participant=participant, status=Turn.Status.HELD, deadline__gt=now)
        .first()
    )
    if held is not None:
        return held
    study = participant.study
    if participant.status != Participant.Status.STARTED:
        return None
    submitted = participant_turns_submitted(participant=participant)
    if submitted >= study.turns_per_participant:
        participant_finish(participant=participant, status=Participant.Status.COMPLETED)
        return None
    _turns_expire(Turn.objects.filter(participant=participant), now=now)
    chains_ensure(locale=participant.locale)
    done_songs = Turn.objects.filter(participant=participant).exclude(status=Turn.Status.EXPIRED)
    chain = (
        Chain.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("song")
        .filter(locale=participant.locale, status=Chain.Status.OPEN)
        .filter(Q(held_by__isnull=True) | Q(held_until__lte=now))
        .exclude(song__in=done_songs.values("song"))
        .order_by("turns_done", "?")
        .first()
    )
    if chain is None:
        if submitted == 0:
            # Never a completion for no work: wait while others hold chains, else it is full.
            # Songs whose clip failed for this participant are closed to them alone.
            open_chains = Chain.objects.filter(
                locale=participant.locale, status=Chain.Status.OPEN
            ).exclude(song__in=done_songs.values("song"))
            participant_no_work(
                participant=participant,
                others_hold_work=open_chains.exists(),
                close_locale=not done_songs.exists(),
            )
            return None
        participant_finish(participant=participant, status=Participant.Status.COMPLETED)
        return None
    _turns_expire(Turn.objects.filter(chain=chain), now=now)
    deadline = now + timedelta(seconds=study.turn_timeout_seconds)
    Chain.objects.filter(pk=chain.pk).update(held_by=participant, held_until=deadline)
    participant_touch(participant=participant)
    return Turn.objects.create(
        chain=chain,
        participant=participant,
        song=chain.song,
        index=chain.turns_done,
        started_at=now,
        deadline=deadline,
    )


def turns_expire() -> int:
    """Expire every held turn past its deadline and release its chain (run by beat)."""
    return _turns_expire(Turn.objects.all(), now=timezone.now())


def _turns_expire(turns: QuerySet[Turn], *, now: datetime) -> int:
    overdue = turns.filter(status=Turn.Status.HELD, deadline__lte=now)
    chain_ids = list(overdue.values_list("chain_id", flat=True))
    expired = overdue.update(status=Turn.Status.EXPIRED)
    # Conditional on the deadline: a chain claimed again meanwhile keeps its new holder.
    Chain.objects.filter(pk__in=chain_ids, held_until__lte=now).update(
        held_by=None, held_until=None
    )
    return int(expired)


@transaction.atomic
def turn_report_audio_failure(*, participant: Participant, turn_id: int) -> Turn:
    """The turn's clip failed to load twice: give the chain back unchanged and go on.

    The turn is kept as an audio failure (counted per song for the researcher), never as a
    submitted turn; the participant is not given that song again. A retry answers the
    recorded failure.
    """
    turn = (
        Turn.objects.select_for_update(of=("self",))
        .filter(pk=turn_id, participant=participant)
        .first()
    )
    if turn is None:
        raise Conflict("This turn is not yours.", code="not_your_turn")
    if turn.status == Turn.Status.NO_AUDIO:
        return turn
    if turn.status != Turn.Status.HELD:
        raise Conflict("This turn can no longer be skipped.", code="not_current")
    turn.status = Turn.Status.NO_AUDIO
    turn.save(update_fields=["status"])
    Chain.objects.filter(pk=turn.chain_id, held_by=participant).update(
        held_by=None, held_until=None
    )
    participant_touch(participant=participant)
    return turn


def turn_submit(*, participant: Participant, turn_id: int, submission: TurnSubmission) -> Turn:
    """Record a turn's ratings and new tags, then update the chain's tag states atomically.

    A retried identical submission returns the stored turn and writes nothing; anything else
    sent for a turn that is not the participant's current one is refused (Conflict).
    """
    digest = submission.digest()
    with transaction.atomic():
        turn = (
            Turn.objects.select_for_update(of=("self",))
            .select_related("chain", "song")
            .filter(pk=turn_id)
            .first()
        )
        if turn is None or turn.participant_id != participant.pk:
            raise Conflict("This turn is not yours.", code="not_your_turn")
        if turn.status == Turn.Status.SUBMITTED:
            if turn.response_hash == digest:
                return turn
            raise Conflict("This turn was already submitted.", code="already_submitted")
        now = timezone.now()
        if turn.status == Turn.Status.EXPIRED or turn.deadline <= now:
            raise Conflict("This turn timed out; take the next one.", code="turn_expired")
        chain = Chain.objects.select_for_update().get(pk=turn.chain_id)
        study = participant.study
        tags = {tag.pk: tag for tag in chain.tags.all()}
        additions = _validate(turn, study, participant.locale, tags, submission)
        _record(turn, chain, study, tags, submission, additions, now, digest)
    participant_touch(participant=participant)
    return turn


def _validate(
    turn: Turn,
    study: Study,
    locale: StudyLocale,
    tags: dict[int, ChainTag],
    submission: TurnSubmission,
) -> list[tuple[str, str]]:
    """Check the submission against the chain; returns the new tags as (text, key) pairs."""
    errors: dict[str, Any] = {}
    if not turn.song.clip_heard(submission.audio_played_seconds):
        errors["audio_played_seconds"] = [
            f"Listen to the whole clip ({turn.song.clip_seconds:.0f} s) before answering."
        ]
    to_rate = {pk for pk, tag in tags.items() if tag.state == ChainTag.State.VISIBLE}
    rating_errors: dict[str, str] = {}
    for tag_id, value in submission.ratings.items():
        if tag_id not in to_rate:
            rating_errors[str(tag_id)] = "Not a tag to rate in this turn."
        elif not is_stars_or_flag(value):
            rating_errors[str(tag_id)] = STARS_OR_FLAG_ERROR
    missing = sorted(to_rate - set(submission.ratings))
    if missing:
        rating_errors.update({str(tag_id): "Rate or flag this tag." for tag_id in missing})
    if rating_errors:
        errors["ratings"] = [rating_errors]
    additions, tag_errors = _clean_new_tags(study, locale, tags, submission.new_tags)
    if len(submission.new_tags) > MAX_NEW_TAGS_PER_TURN:
        errors["new_tags"] = [f"Add at most {MAX_NEW_TAGS_PER_TURN} tags in one turn."]
    elif tag_errors:
        errors["new_tags"] = [tag_errors]
    elif not to_rate and not additions:
        errors["new_tags"] = ["Add at least one tag: there is nothing to rate yet."]
    if errors:
        raise Invalid(errors)
    return additions


def _clean_new_tags(
    study: Study, locale: StudyLocale, tags: dict[int, ChainTag], new_tags: Sequence[str]
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    shown = {tag.key for tag in tags.values() if tag.state != ChainTag.State.HIDDEN}
    additions: list[tuple[str, str]] = []
    errors: dict[str, str] = {}
    seen: set[str] = set()
    for position, raw in enumerate(new_tags):
        try:
            text = clean_tag(
                raw,
                language=locale.language,
                max_length=study.max_tag_length,
                max_words=study.max_tag_words,
            )
        except TagError as error:
            errors[str(position)] = str(error)
            continue
        key = grouping_key(text, language=locale.language)
        if key in shown:
            errors[str(position)] = "This song already has that tag."
        elif key in seen:
            errors[str(position)] = "You entered this tag twice."
        else:
            seen.add(key)
            additions.append((text, key))
    return additions, errors


def _record(
    turn: Turn,
    chain: Chain,
    study: Study,
    tags: dict[int, ChainTag],
    submission: TurnSubmission,
    additions: list[tuple[str, str]],
    now: datetime,
    digest: str,
) -> None:
    rated: list[tuple[ChainTag, int | None]] = []
    for tag_id, value in submission.ratings.items():
        tag = tags[tag_id]
        stars = None if value == FLAG else int(value)
        tag.ratings_count += 1
        tag.ratings_sum += stars or 0
        tag.flag_count += stars is None
        if tag.flag_count >= study.hide_flag_count and stars is None:
            tag.state = ChainTag.State.HIDDEN
        elif (
            tag.ratings_count >= study.freeze_min_ratings
            and tag.ratings_sum / tag.ratings_count >= study.freeze_min_mean
        ):
            tag.state = ChainTag.State.FROZEN
        rated.append((tag, stars))
    ChainTag.objects.bulk_update(
        [tag for tag, _ in rated], ["ratings_count", "ratings_sum", "flag_count", "state"]
    )
    TagRating.objects.bulk_create(
        TagRating(
            turn=turn, chain_tag=tag, value=stars, flagged=stars is None, state_after=tag.state
        )
        for tag, stars in rated
    )
    by_key = {tag.key: tag for tag in tags.values()}
    added: list[ChainTag] = []
    for text, key in additions:
        known = by_key.get(key)
        if known is None:
            tag = ChainTag.objects.create(
                chain=chain, locale_id=chain.locale_id, key=key, text=text
            )
        else:  # a hidden tag typed again comes back, with its ratings and flags kept
            tag = known
            tag.state = ChainTag.State.VISIBLE
            added.append(tag)
        TagAddition.objects.create(turn=turn, chain_tag=tag, text=text, key=key)
    ChainTag.objects.bulk_update(added, ["state"])
    frozen = sum(1 for tag in tags.values() if tag.state == ChainTag.State.FROZEN)
    chain.turns_done += 1
    chain.held_by = None
    chain.held_until = None
    if frozen >= study.complete_frozen_tags or chain.turns_done >= study.max_turns_per_chain:
        chain.status = Chain.Status.COMPLETE
        chain.completed_at = now
    chain.save(update_fields=["turns_done", "held_by", "held_until", "status", "completed_at"])
    turn.status = Turn.Status.SUBMITTED
    turn.submitted_at = now
    turn.audio_played_seconds = submission.audio_played_seconds
    turn.response_hash = digest
    turn.save(update_fields=["status", "submitted_at", "audio_played_seconds", "response_hash"])
