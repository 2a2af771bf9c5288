"""Cross-cultural analysis runs and the model predictions they compare with people."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from moodlab.studies.models import Song, Study, Term


class CrossCulturalAnalysis(models.Model):
    """One run of the whole analysis over a study's live ratings or one of its snapshots.

    ``params`` keeps what the researcher chose (anchors, threshold, repetitions, seed) so a
    report always states how its numbers were made; ``results`` is plain JSON, no NaN.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="crosscultural_runs")
    snapshot_version = models.CharField(
        max_length=40, blank=True, help_text="Empty: the live ratings at the time of the run."
    )
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=60, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    results = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "cross-cultural analysis"
        verbose_name_plural = "cross-cultural analyses"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="cc_progress_percent"),
        ]
        indexes = [models.Index(fields=["study", "status", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.study.slug} · {self.source_label} · {self.get_status_display()}"

    @property
    def report(self) -> dict[str, Any]:
        """The results of a finished run; figures and downloads are only made from those."""
        if self.results is None:
            raise ValueError(f"analysis {self.pk} has no results ({self.status})")
        return self.results

    @property
    def source_label(self) -> str:
        return f"snapshot {self.snapshot_version}" if self.snapshot_version else "live ratings"


class PredictionSet(models.Model):
    """A model's scores for songs × terms, uploaded to compare the model with each locale."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="prediction_sets")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    row_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["study", "name"]
        constraints = [
            models.UniqueConstraint(fields=["study", "name"], name="unique_prediction_set_name"),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug} · {self.name}"


class Prediction(models.Model):
    """One score; the term fixes the locale. Rows, not a stored file, so analyses join them."""

    prediction_set = models.ForeignKey(
        PredictionSet, on_delete=models.CASCADE, related_name="predictions"
    )
    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="+")
    term = models.ForeignKey(Term, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prediction_set", "term", "song"], name="one_prediction_per_song_and_term"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.score} for term {self.term_id} on song {self.song_id}"
