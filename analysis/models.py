"""What the analysis jobs produce: cell aggregates, quality-control results, exclusion
decisions and immutable dataset snapshots.

Nothing here deletes or changes ratings: exclusion is a decision recorded beside the data,
and every job reads the ratings as they are.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from moodlab.studies.models import Participant, Song, Study, StudyLocale, Term


class CellAggregate(models.Model):
    """Summary of one song × term × locale cell over the participants not excluded."""

    # One index only, the unique (study, locale, song, term): every run rewrites every cell,
    # and each extra index would be rewritten with it. No foreign-key constraints either: a
    # cell is computed from ratings whose references the database has checked, and checking
    # four references per new cell at commit took as long as computing every cell (the ORM
    # still deletes cells with their study, song or term).
    study = models.ForeignKey(
        Study,
        on_delete=models.CASCADE,
        related_name="cell_aggregates",
        db_index=False,
        db_constraint=False,
    )
    locale = models.ForeignKey(
        StudyLocale, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    song = models.ForeignKey(
        Song, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    term = models.ForeignKey(
        Term, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    n = models.PositiveIntegerField()
    mean = models.FloatField()
    sd = models.FloatField(null=True, help_text="Sample standard deviation; empty when n = 1.")
    median = models.FloatField()
    sem = models.FloatField(null=True, help_text="Standard error of the mean; empty when n = 1.")
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["study", "locale", "song", "term"], name="one_aggregate_per_cell"
            ),
        ]

    def __str__(self) -> str:
        return f"song {self.song_id} × term {self.term_id}: {self.mean:.2f} (n={self.n})"


class QualityRuleSetting(models.Model):
    """A study's choice for one quality rule; a rule without a row runs with its defaults."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="quality_rules")
    rule = models.CharField(max_length=40)
    enabled = models.BooleanField(default=True)
    params = models.JSONField(
        default=dict,
        blank=True,
        help_text='Overrides of the rule\'s default parameters, e.g. {"threshold": 1.0}.',
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "rule"], name="one_setting_per_study_rule"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} ({'on' if self.enabled else 'off'})"


class QualityRun(models.Model):
    """One run of the quality checks over a study: the rules, versions and params it used."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="quality_runs")
    rules = models.JSONField(help_text="[{name, version, params, enabled}] as run.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    participants_checked = models.PositiveIntegerField(default=0)
    participants_excluded = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"quality check of {self.started_at:%Y-%m-%d %H:%M} (run {self.pk})"


class QualityResult(models.Model):
    """One rule's verdict on one participant in one run, with the evidence behind it."""

    # A run writes a row per rule and participant, over a hundred thousand at ten million
    # ratings, inside the transaction that holds the study: the two indexes below serve every
    # read (by run, by participant), and the references are not checked row by row at commit
    # (the run is created in the same transaction, the participants are the study's).
    run = models.ForeignKey(
        QualityRun,
        on_delete=models.CASCADE,
        related_name="results",
        db_index=False,
        db_constraint=False,
    )
    participant = models.ForeignKey(
        Participant,
        on_delete=models.CASCADE,
        related_name="quality_results",
        db_index=False,
        db_constraint=False,
    )
    rule = models.CharField(max_length=40)
    version = models.PositiveSmallIntegerField()
    params = models.JSONField(default=dict)
    passed = models.BooleanField()
    value = models.FloatField(null=True, blank=True)
    evidence = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "participant", "rule"], name="one_result_per_run_participant_rule"
            ),
        ]
        indexes = [models.Index(fields=["participant", "rule"])]

    def __str__(self) -> str:
        return f"{self.rule} v{self.version}: {'passed' if self.passed else 'failed'}"


class ExclusionDecision(models.Model):
    """Whether a participant's ratings count, from the rules and a researcher's override.

    `excluded` is the effective decision that aggregation and exports read; the services
    keep it equal to the override when there is one, else to the rules' verdict.
    """

    class Override(models.TextChoices):
        NONE = "", _("No override (follow the rules)")
        INCLUDE = "include", _("Include")
        EXCLUDE = "exclude", _("Exclude")

    participant = models.OneToOneField(
        Participant, on_delete=models.CASCADE, related_name="exclusion"
    )
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="exclusions")
    excluded = models.BooleanField(default=False)
    rules_excluded = models.BooleanField(default=False)
    reasons = models.JSONField(
        default=list, blank=True, help_text="[{rule, version, reason}] of each failed rule."
    )
    run = models.ForeignKey(QualityRun, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField()
    override = models.CharField(
        max_length=8, choices=Override.choices, default=Override.NONE, blank=True
    )
    override_reason = models.TextField(blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    overridden_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["study", "excluded"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(override="include") | Q(excluded=False),
                name="included_override_means_not_excluded",
            ),
            models.CheckConstraint(
                condition=~Q(override="exclude") | Q(excluded=True),
                name="excluded_override_means_excluded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id}: {'excluded' if self.excluded else 'included'}"


class Snapshot(models.Model):
    """A versioned, immutable export of a study; data users see it only once complete."""

    class Status(models.TextChoices):
        BUILDING = "building", _("Building")
        COMPLETE = "complete", _("Complete")
        FAILED = "failed", _("Failed")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="snapshots")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILDING)
    manifest = models.JSONField(default=dict, blank=True)
    published = models.BooleanField(
        default=False, help_text="Published snapshots can be listed and downloaded by anyone."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["study", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["study", "version"], name="one_snapshot_per_version"),
            models.CheckConstraint(
                condition=Q(published=False) | Q(status="complete"),
                name="only_complete_snapshots_are_published",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug} v{self.version}"

    @property
    def folder(self) -> str:
        return f"{self.study.slug}/{self.version}"


class SnapshotAccessGrant(models.Model):
    """Lets a user (typically an API token holder) read a study's snapshots and means."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="access_grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="snapshot_grants"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "user"], name="one_grant_per_study_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} may read {self.study}"


class ApiToken(models.Model):
    """A data user's named API token; only its SHA-256 is stored, the key is shown once.

    Keys are 256 random bits, so a plain SHA-256 (no slow password hash) is enough: it keeps
    a leaked database from handing out working keys, and one indexed lookup per request.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=12, help_text="The key's first characters, to tell keys apart."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class JobOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", _("Succeeded")
    WARNINGS = "warnings", _("Succeeded with warnings")
    FAILED = "failed", _("Failed")


class JobRun(models.Model):
    """A job a researcher asked for; Celery's TaskResult (same task id) holds its progress."""

    class Kind(models.TextChoices):
        AGGREGATE = "aggregate", _("Aggregate ratings")
        QUALITY = "quality", _("Check quality")
        EXPORT = "export", _("Export snapshot")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="job_runs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    task_id = models.CharField(max_length=255, unique=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the broker took the task; empty: not sent yet."
    )
    outcome = models.CharField(
        max_length=10,
        choices=JobOutcome.choices,
        blank=True,
        help_text="What the finished job produced; empty while it has not finished.",
    )
    problems = models.JSONField(
        default=list, blank=True, help_text="Why the outcome is not a plain success."
    )

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.study_id}"


class StudyJobs(Study):
    """The admin's page of job buttons per study (a proxy: no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "study jobs"
        verbose_name_plural = "study jobs"
