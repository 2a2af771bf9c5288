"""Rating trials: one row per participant × song × term, the study's main data table.

Participant, song and term sit on each Rating (copied from its trial by the one service that
writes ratings) so that aggregation and export read a single narrow table.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from moodlab.studies.models import Participant, Song, StudyLocale, Term
from moodlab.studies.scale import SCALE_MAX, SCALE_MIN


class SessionTerm(models.Model):
    """The terms a participant rates, drawn once and kept, in their display order."""

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="rating_terms"
    )
    term = models.ForeignKey(Term, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["participant", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "term"], name="one_session_term_per_term"
            ),
            models.UniqueConstraint(
                fields=["participant", "position"], name="one_session_term_per_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} · {self.term_id}"


class Trial(models.Model):
    class Status(models.TextChoices):
        HELD = "held", _("Held (being rated)")
        SUBMITTED = "submitted", _("Submitted")
        RELEASED = "released", _("Released (participant left)")
        # The clip failed to load twice; the place was given back and nothing is counted.
        NO_AUDIO = "no_audio", _("Audio failed (not counted)")

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="trials")
    locale = models.ForeignKey(StudyLocale, on_delete=models.PROTECT, related_name="+")
    song = models.ForeignKey(Song, on_delete=models.PROTECT, related_name="trials")
    position = models.PositiveSmallIntegerField()
    is_repeat = models.BooleanField(default=False)
    repeat_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="repeats"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.HELD)
    assigned_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    audio_played_seconds = models.FloatField(null=True, blank=True)
    response_seconds = models.FloatField(null=True, blank=True)
    # The song the allocator expects to give next, so the page can fetch its audio while this
    # trial is rated; the next allocation prefers it among equally rated songs.
    upcoming_song = models.ForeignKey(
        Song, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["participant", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "position"], name="one_trial_per_position"
            ),
            models.UniqueConstraint(
                fields=["participant", "song"],
                condition=Q(is_repeat=False),
                name="no_song_twice_except_repeats",
            ),
            models.CheckConstraint(
                condition=Q(is_repeat=False, repeat_of__isnull=True)
                | Q(is_repeat=True, repeat_of__isnull=False),
                name="repeat_trials_point_to_their_original",
            ),
        ]
        indexes = [
            models.Index(fields=["locale", "song", "status"]),
            models.Index(fields=["status", "assigned_at"]),
        ]

    def __str__(self) -> str:
        return f"trial {self.position} of {self.participant_id}"


class Rating(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="ratings")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="ratings")
    song = models.ForeignKey(Song, on_delete=models.PROTECT, related_name="ratings")
    term = models.ForeignKey(Term, on_delete=models.PROTECT, related_name="ratings")
    value = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trial", "term"], name="one_rating_per_trial_and_term"),
            models.CheckConstraint(
                condition=Q(value__gte=SCALE_MIN) & Q(value__lte=SCALE_MAX),
                name="rating_value_from_1_to_5",
            ),
        ]
        indexes = [models.Index(fields=["term", "song"]), models.Index(fields=["participant"])]

    def __str__(self) -> str:
        return f"{self.value} for term {self.term_id} on song {self.song_id}"


class Cell(models.Model):
    """Running counts of one song × term × locale cell, the allocator's and stopper's ledger.

    `assigned` counts submitted plus currently held trials, so the allocator never reads the
    million-row Rating table; the value sums give the cell's standard error for adaptive
    stopping without re-aggregating. Repeat trials are consistency checks, not new raters,
    and never count here. Only rating/services.py writes these rows.
    """

    locale = models.ForeignKey(StudyLocale, on_delete=models.CASCADE, related_name="+")
    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="cells")
    term = models.ForeignKey(Term, on_delete=models.CASCADE, related_name="cells")
    assigned = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)
    value_sum = models.PositiveIntegerField(default=0)
    value_square_sum = models.PositiveIntegerField(default=0)
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="Set by adaptive stopping once the mean is precise."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["locale", "song", "term"], name="one_cell_per_song_term"
            ),
            models.CheckConstraint(
                condition=Q(rated__lte=F("assigned")), name="cell_rated_within_assigned"
            ),
        ]
        # Allocation reads one locale's cells for a participant's terms, grouped by song.
        indexes = [models.Index(fields=["locale", "term", "song"], name="cell_allocation_idx")]

    def __str__(self) -> str:
        return f"song {self.song_id} × term {self.term_id}: {self.rated} rated"


class RatingParticipant(Participant):
    """Rating-phase participants in the admin, with their trials and the exclude action."""

    class Meta:
        proxy = True
        verbose_name = "rating participant"
