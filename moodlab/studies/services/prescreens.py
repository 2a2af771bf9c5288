"""The prescreens before the trials: volume calibration, headphone check, vocabulary check.

A failed check ends the session as screened out, in the same transaction that stores the
result, and there is no second attempt. What a participant must answer (the headphone
trials' odd sounds, the vocabulary's order and ids) is drawn from a keyed hash of their
secret token, so it is stable for them, differs between participants and cannot be read
from anything the participant sees.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache as cache_forever
from typing import Any

from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils.crypto import salted_hmac

from moodlab.audio import calibration_wav, headphone_trial_wav, headphone_trials
from moodlab.audio_codec import wav_to_m4a
from moodlab.errors import Conflict, Invalid, NotFound
from moodlab.studies.models import Participant, PrescreenResult
from moodlab.studies.services.participants import participant_finish
from moodlab.studies.services.steps import (
    lock_participant,
    require_step_open,
)
from moodlab.studies.vocabulary import default_vocabulary

AUDIO_SALT = "moodlab.prescreen-audio"
AUDIO_MAX_AGE = timedelta(hours=2)
HEADPHONE_CHOICES = 3

Kind = PrescreenResult.Kind


@dataclass(frozen=True)
class VocabularyQuestion:
    id: str
    word: str
    real: bool


def _participant_seed(participant: Participant, purpose: str) -> int:
    digest = salted_hmac(f"moodlab.{purpose}", str(participant.public_id)).digest()
    return int.from_bytes(digest[:8], "big")


def prescreen_audio_url(*, participant: Participant, kind: str, index: int = 0) -> str:
    """A signed, expiring path to one prescreen sound.

    Its readable payload names neither the participant nor the answer: a headphone trial's
    link carries a fresh random name and the odd position masked with a keyed hash of that
    name (uniform without the secret key), and its sound is drawn from the name, so every
    trial of every participant has its own bytes.
    """
    payload: dict[str, object] = {"k": kind}
    if kind == Kind.HEADPHONES:
        name = secrets.token_urlsafe(12)
        odd_position = headphone_positions(participant)[index]
        payload.update(n=name, c=(odd_position - 1 + _mask(name)) % HEADPHONE_CHOICES)
    signed = signing.TimestampSigner(salt=AUDIO_SALT).sign_object(payload)
    return reverse("v1:participant-prescreen-audio", kwargs={"signed": signed})


def prescreen_audio(*, signed: str) -> bytes:
    """The sound (M4A) a signed path names; 404 for a bad or expired signature."""
    try:
        payload = signing.TimestampSigner(salt=AUDIO_SALT).unsign_object(
            signed, max_age=AUDIO_MAX_AGE
        )
    except signing.BadSignature as error:
        raise NotFound("This sound link is invalid or has expired.") from error
    if payload.get("k") == Kind.VOLUME:
        return _calibration_sound()
    if payload.get("k") != Kind.HEADPHONES:
        raise NotFound("This sound link is invalid or has expired.")
    name = str(payload["n"])
    odd_position = (int(payload["c"]) - _mask(name)) % HEADPHONE_CHOICES + 1
    key = f"moodlab.headphone-sound:{name}"
    sound: bytes | None = cache.get(key)
    if sound is None:
        variant = int.from_bytes(salted_hmac("moodlab.headphone-variant", name).digest()[:8])
        sound = wav_to_m4a(headphone_trial_wav(odd_position, variant=variant))
        # Browsers fetch a sound in ranges, several times: encode it once.
        cache.set(key, sound, timeout=int(AUDIO_MAX_AGE.total_seconds()))
    return sound


def _mask(name: str) -> int:
    digest = salted_hmac("moodlab.headphone-mask", name).digest()
    return int.from_bytes(digest[:8], "big") % HEADPHONE_CHOICES


@cache_forever
def _calibration_sound() -> bytes:
    return wav_to_m4a(calibration_wav())


def headphone_positions(participant: Participant) -> list[int]:
    """The odd sound's position (1 to 3) in each of the participant's headphone trials."""
    return headphone_trials(
        _participant_seed(participant, "headphones"), count=participant.study.headphone_trials
    )


def vocabulary_items_for(participant: Participant) -> list[VocabularyQuestion]:
    """The locale's words (its own list, else its language's default), shuffled per participant.

    Ids are keyed hashes of the word, so neither the order nor an id tells a real word.
    """
    locale = participant.locale
    items = locale.vocabulary_items or default_vocabulary(locale.language)
    if not items:  # a locale added, or the check turned on, after the study opened
        raise Invalid(
            message=f"This study has no vocabulary list in {locale.language}.",
            code="not_configured",
        )
    questions = [
        VocabularyQuestion(
            id=salted_hmac(
                "moodlab.vocabulary-id", f"{participant.public_id}:{item['word']}"
            ).hexdigest()[:12],
            word=item["word"],
            real=item["real"],
        )
        for item in items
    ]
    # Not security-relevant: the order only has to differ between participants.
    random.Random(_participant_seed(participant, "vocabulary")).shuffle(questions)  # noqa: S311
    return questions


@dataclass(frozen=True)
class Grade:
    score: float | None
    passed: bool
    details: dict[str, Any]


def volume_record(*, participant: Participant, level: float) -> PrescreenResult:
    """Note the level the participant set; calibration has no wrong answer."""
    return _prescreen_record(
        participant,
        kind=Kind.VOLUME,
        step="volume_calibration",
        answer_key="level",
        answers=level,
        grade=lambda: Grade(score=None, passed=True, details={}),
    )


def headphones_check(*, participant: Participant, answers: list[int]) -> PrescreenResult:
    """Score one answer (1 to 3) per trial; fewer right than the pass count screens out."""

    def grade() -> Grade:
        positions = headphone_positions(participant)
        if len(answers) != len(positions):
            raise Invalid({"answers": [f"Give {len(positions)} answers, one per trial."]})
        score = sum(given == odd for given, odd in zip(answers, positions, strict=True))
        return Grade(
            score=score,
            passed=score >= participant.study.headphone_pass_count,
            details={"odd_positions": positions},
        )

    return _prescreen_record(
        participant,
        kind=Kind.HEADPHONES,
        step="headphone_check",
        answer_key="answers",
        answers=answers,
        grade=grade,
    )


def vocabulary_check(*, participant: Participant, answers: dict[str, bool]) -> PrescreenResult:
    """Score the share of words classed right; below the study's pass ratio screens out.

    `answers` maps every item id to whether the participant took it for a real word.
    """

    def grade() -> Grade:
        questions = vocabulary_items_for(participant)
        expected = {question.id for question in questions}
        if set(answers) != expected:
            missing, unknown = len(expected - set(answers)), len(set(answers) - expected)
            raise Invalid(
                {"answers": [f"Answer every item once: {missing} missing, {unknown} unknown."]}
            )
        score = sum(answers[q.id] == q.real for q in questions) / len(questions)
        return Grade(
            score=score,
            passed=score >= participant.study.vocabulary_pass_ratio,
            details={"items": [{"id": q.id, "word": q.word, "real": q.real} for q in questions]},
        )

    return _prescreen_record(
        participant,
        kind=Kind.VOCABULARY,
        step="vocabulary_check",
        answer_key="answers",
        answers=answers,
        grade=grade,
    )


@transaction.atomic
def _prescreen_record(
    participant: Participant,
    *,
    kind: str,
    step: str,
    answer_key: str,
    answers: object,
    grade: Callable[[], Grade],
) -> PrescreenResult:
    """Store a prescreen's result once, screening out on a fail; replay identical retries.

    The stored answers are compared before anything else, so a retry gets the first
    outcome even after that outcome ended the session; only a first answer is graded.
    """
    lock_participant(participant)
    existing = PrescreenResult.objects.filter(participant=participant, kind=kind).first()
    if existing is not None:
        if existing.details.get(answer_key) != answers:
            raise Conflict("This check was already answered; there is no second try.")
        return existing
    require_step_open(participant, step)
    graded = grade()
    result = PrescreenResult.objects.create(
        participant=participant,
        kind=kind,
        score=graded.score,
        passed=graded.passed,
        details={answer_key: answers, **graded.details},
    )
    if not graded.passed:
        participant_finish(
            participant=participant,
            status=Participant.Status.SCREENED_OUT,
            reason=f"failed the {result.get_kind_display().lower()}",
        )
    return result
