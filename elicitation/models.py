"""STEP-Tag elicitation chains and the record of every turn taken on them.

A chain belongs to one song in one locale; its tags (ChainTag) carry running counters so a
turn can update freeze/hide state without re-reading every past rating, while TagRating and
TagAddition keep the full history the export and the curation need.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from moodlab.studies.models import Participant, Song, Study, StudyLocale, Term
from moodlab.studies.scale import SCALE_MAX, SCALE_MIN


class Chain(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        COMPLETE = "complete", _("Complete")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="chains")
    locale = models.ForeignKey(StudyLocale, on_delete=models.CASCADE, related_name="chains")
    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="chains")
    index = models.PositiveSmallIntegerField(
        default=0, help_text="Which of the song's chains in this locale (0 is the first)."
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    turns_done = models.PositiveSmallIntegerField(default=0)
    held_by = models.ForeignKey(
        Participant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    held_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["locale", "song", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["locale", "song", "index"], name="one_chain_per_locale_song_index"
            ),
            models.CheckConstraint(
                condition=Q(held_by__isnull=True, held_until__isnull=True)
                | Q(held_by__isnull=False, held_until__isnull=False),
                name="chain_holder_has_deadline",
            ),
        ]
        indexes = [models.Index(fields=["locale", "status", "turns_done"])]

    def __str__(self) -> str:
        return f"{self.locale.code} · {self.song.external_id} #{self.index}"


class ChainTag(models.Model):
    """One grouped tag of one chain; counters include flags as 0-star ratings."""

    class State(models.TextChoices):
        VISIBLE = "visible", _("Visible")
        FROZEN = "frozen", _("Frozen")
        HIDDEN = "hidden", _("Hidden")

    chain = models.ForeignKey(Chain, on_delete=models.CASCADE, related_name="tags")
    # Denormalised from the chain so the autocomplete's prefix index covers one table.
    locale = models.ForeignKey(StudyLocale, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    text = models.CharField(max_length=200, help_text="The tag as first typed in this chain.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.VISIBLE)
    ratings_count = models.PositiveIntegerField(default=0)
    ratings_sum = models.PositiveIntegerField(default=0)
    flag_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chain", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "key"], name="one_chain_tag_per_key"),
            models.CheckConstraint(
                condition=Q(flag_count__lte=models.F("ratings_count")),
                name="chain_tag_flags_within_ratings",
            ),
        ]
        indexes = [
            models.Index(
                fields=["locale", "key"],
                name="chain_tag_key_prefix",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            )
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def mean_rating(self) -> float | None:
        return self.ratings_sum / self.ratings_count if self.ratings_count else None


class Turn(models.Model):
    class Status(models.TextChoices):
        HELD = "held", _("Held")
        SUBMITTED = "submitted", _("Submitted")
        EXPIRED = "expired", _("Expired")
        # The clip failed to load twice; the chain was given back unchanged.
        NO_AUDIO = "no_audio", _("Audio failed (not counted)")

    chain = models.ForeignKey(Chain, on_delete=models.CASCADE, related_name="turns")
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="elicitation_turns"
    )
    # Denormalised from the chain so the database can refuse the same song twice.
    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="+")
    index = models.PositiveSmallIntegerField(help_text="0-based turn number within the chain.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.HELD)
    started_at = models.DateTimeField()
    deadline = models.DateTimeField()
    audio_played_seconds = models.FloatField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    response_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the submission, to recognise retries."
    )

    class Meta:
        ordering = ["chain", "index", "started_at"]
        constraints = [
            # Expired and failed turns stay as history; the next turn takes the index again.
            models.UniqueConstraint(
                fields=["chain", "index"],
                condition=~Q(status__in=["expired", "no_audio"]),
                name="one_live_turn_per_chain_index",
            ),
            models.UniqueConstraint(
                fields=["chain"], condition=Q(status="held"), name="one_held_turn_per_chain"
            ),
            models.UniqueConstraint(
                fields=["participant"],
                condition=Q(status="held"),
                name="one_held_turn_per_participant",
            ),
            models.UniqueConstraint(
                fields=["participant", "song"],
                condition=~Q(status="expired"),
                name="participant_never_repeats_a_song",
            ),
            models.CheckConstraint(
                condition=Q(audio_played_seconds__isnull=True) | Q(audio_played_seconds__gte=0),
                name="turn_audio_played_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["status", "deadline"])]

    def __str__(self) -> str:
        return f"{self.chain} turn {self.index}"


class TagRating(models.Model):
    """A star rating of a chain tag in a turn, or a flag (counted as 0 in means)."""

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="ratings")
    chain_tag = models.ForeignKey(ChainTag, on_delete=models.CASCADE, related_name="ratings")
    value = models.PositiveSmallIntegerField(null=True, blank=True)
    flagged = models.BooleanField(default=False)
    state_after = models.CharField(max_length=8, choices=ChainTag.State.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["turn", "chain_tag"], name="one_rating_per_turn_tag"),
            models.CheckConstraint(
                condition=Q(flagged=True, value__isnull=True)
                | Q(flagged=False, value__gte=SCALE_MIN, value__lte=SCALE_MAX),
                name="tag_rating_is_stars_or_flag",
            ),
        ]

    def __str__(self) -> str:
        return "flag" if self.flagged else f"{self.value}★"

    @property
    def score(self) -> int:
        return 0 if self.flagged else int(self.value or 0)


class TagAddition(models.Model):
    """A tag typed in a turn, exactly as typed, and the chain tag it joined or revived."""

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="additions")
    chain_tag = models.ForeignKey(ChainTag, on_delete=models.CASCADE, related_name="additions")
    text = models.CharField(max_length=200)
    key = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["turn", "chain_tag"], name="one_addition_per_turn_tag"),
        ]

    def __str__(self) -> str:
        return self.text


class TermAlias(models.Model):
    """Which grouping keys of a locale's chains count towards which curated Term."""

    locale = models.ForeignKey(StudyLocale, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    term = models.ForeignKey(Term, on_delete=models.CASCADE, related_name="aliases")

    class Meta:
        verbose_name_plural = "term aliases"
        constraints = [
            models.UniqueConstraint(fields=["locale", "key"], name="one_term_per_locale_key"),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.term.key}"


class CurationTerm(Term):
    """The core Term, as researchers curate it in the elicitation admin."""

    class Meta:
        proxy = True
        verbose_name = "term to curate"
        verbose_name_plural = "terms to curate"
