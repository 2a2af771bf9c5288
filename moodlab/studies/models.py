"""The shared study domain: studies, their locales, songs, rating terms and participants."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from moodlab.studies.locales import split_locale_code
from moodlab.studies.scale import SCALE_MAX
from moodlab.studies.vocabulary import default_vocabulary, validate_vocabulary_items

# The licences a study's data may be published under (SPDX ids): open data licences and
# MIT for studies whose data ship with code. Others need a decision, not a free-text field.
DATA_LICENCES = [
    ("CC-BY-4.0", "Creative Commons Attribution 4.0 (CC-BY-4.0)"),
    ("CC-BY-SA-4.0", "Creative Commons Attribution-ShareAlike 4.0 (CC-BY-SA-4.0)"),
    ("CC-BY-NC-4.0", "Creative Commons Attribution-NonCommercial 4.0 (CC-BY-NC-4.0)"),
    ("CC0-1.0", "Creative Commons Zero 1.0, public domain (CC0-1.0)"),
    ("MIT", "MIT License (MIT)"),
]
doi_validator = RegexValidator(
    r"^10\.\d{4,9}/\S+$", "Give the DOI itself, e.g. 10.5281/zenodo.1234567 (no https://doi.org/)."
)


# Players report play time a little short of the clip (decoder start-up, rounding).
AUDIO_TOLERANCE_SECONDS = 0.5
# New tags a participant may add in one elicitation turn (the API and the page both hold to it).
MAX_NEW_TAGS_PER_TURN = 10


class Allocation(models.TextChoices):
    """How a rating session's next song is chosen (see rating/services.py)."""

    BALANCED = "balanced", _("Balanced (least rated first)")
    INFORMATION = "information", _("By information (widest standard error first)")


class Study(models.Model):
    """A music-mood study; its parameters default to the reference study's (docs/method.md)."""

    class Phase(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ELICITATION = "elicitation", _("Elicitation")
        CURATION = "curation", _("Term curation")
        RATING = "rating", _("Rating")
        CLOSED = "closed", _("Closed")

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    phase = models.CharField(max_length=12, choices=Phase.choices, default=Phase.DRAFT)
    researchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="studies",
        help_text="Staff who may see and manage this study's data.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Publication: what every snapshot's dataset card, CITATION.cff and Croissant say
    licence = models.CharField(
        max_length=20,
        choices=DATA_LICENCES,
        default="CC-BY-4.0",
        help_text="SPDX id of the licence the published data are under.",
    )
    citation_authors = models.TextField(
        blank=True,
        help_text="One author per line, as 'Family, Given'; empty: the study's researchers.",
    )
    citation_title = models.CharField(
        max_length=300, blank=True, help_text="Title to cite; empty: the study's title."
    )
    citation_year = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1900), MaxValueValidator(2999)],
        help_text="Year to cite; empty: the year of the snapshot.",
    )
    doi = models.CharField(
        max_length=200, blank=True, validators=[doi_validator], help_text="DOI, if one is minted."
    )

    # Elicitation (STEP-Tag chains)
    chains_per_song = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    max_turns_per_chain = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1)]
    )
    freeze_min_ratings = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1)]
    )
    freeze_min_mean = models.FloatField(
        default=3.0, validators=[MinValueValidator(0.0), MaxValueValidator(float(SCALE_MAX))]
    )
    hide_flag_count = models.PositiveSmallIntegerField(default=2, validators=[MinValueValidator(1)])
    complete_frozen_tags = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1)]
    )
    turns_per_participant = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(1)]
    )
    turn_timeout_seconds = models.PositiveIntegerField(
        default=300, validators=[MinValueValidator(10)]
    )
    seconds_per_tag_rated = models.PositiveSmallIntegerField(default=3)
    seconds_per_new_tag = models.PositiveSmallIntegerField(default=6)
    max_tag_length = models.PositiveSmallIntegerField(
        default=40, validators=[MinValueValidator(2), MaxValueValidator(100)]
    )
    max_tag_words = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )

    # Term curation
    terms_per_locale = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(1)]
    )

    # Rating
    terms_per_participant = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1)]
    )
    trials_per_participant = models.PositiveSmallIntegerField(
        default=65, validators=[MinValueValidator(1)]
    )
    repeat_trials = models.PositiveSmallIntegerField(default=1)
    target_ratings_per_cell = models.PositiveSmallIntegerField(
        default=8,
        validators=[MinValueValidator(1)],
        help_text="Ratings wanted per song × term × locale.",
    )
    seconds_per_term = models.PositiveSmallIntegerField(default=3)
    adaptive_stopping = models.BooleanField(
        default=False,
        help_text="Retire a song × term cell once its mean is precise enough.",
    )
    adaptive_min_ratings = models.PositiveSmallIntegerField(default=4)
    adaptive_max_standard_error = models.FloatField(default=0.35)
    allocation = models.CharField(
        max_length=12,
        choices=Allocation.choices,
        default=Allocation.BALANCED,
    )
    max_excluded_share = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Quality control excluding more than this share of the rating "
        "participants is reported as a warning, not a plain success.",
    )

    # Session limits (minutes), as the reference study's panel used
    first_response_timeout_minutes = models.PositiveSmallIntegerField(default=3)
    inactivity_timeout_minutes = models.PositiveSmallIntegerField(default=15)
    session_timeout_minutes = models.PositiveSmallIntegerField(default=120)

    # Prescreens
    require_recruiter_id = models.BooleanField(default=True)
    ask_consent = models.BooleanField(default=True)
    volume_calibration = models.BooleanField(default=True)
    headphone_check = models.BooleanField(default=True)
    headphone_trials = models.PositiveSmallIntegerField(default=6)
    headphone_pass_count = models.PositiveSmallIntegerField(default=4)
    vocabulary_check = models.BooleanField(default=True)
    vocabulary_pass_ratio = models.FloatField(
        default=0.5, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    questionnaire = models.BooleanField(default=True)

    # Audio delivery
    audio_target_lufs = models.FloatField(
        default=-16.0,
        validators=[MinValueValidator(-40.0), MaxValueValidator(-6.0)],
        help_text=(
            "Loudness every song is normalised to (LUFS, ITU-R BS.1770). -16 matches the "
            "volume-calibration noise. Changing it re-encodes the songs."
        ),
    )
    audio_public = models.BooleanField(
        default=False,
        help_text=(
            "Publish the songs' audio at permanent public links. Off: only participants hear "
            "it, through signed links that expire."
        ),
    )

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(licence__in=[spdx for spdx, _label in DATA_LICENCES]),
                name="study_licence_is_a_known_spdx_id",
            ),
            models.CheckConstraint(
                condition=Q(allocation__in=Allocation.values),
                name="study_allocation_is_known",
            ),
            models.CheckConstraint(
                condition=Q(freeze_min_mean__gte=0) & Q(freeze_min_mean__lte=SCALE_MAX),
                name="study_freeze_mean_in_scale",
            ),
            models.CheckConstraint(
                condition=Q(terms_per_participant__lte=F("terms_per_locale")),
                name="study_terms_per_participant_within_locale_terms",
            ),
            models.CheckConstraint(
                condition=Q(headphone_pass_count__lte=F("headphone_trials")),
                name="study_headphone_pass_within_trials",
            ),
            models.CheckConstraint(
                condition=Q(repeat_trials__lte=F("trials_per_participant")),
                name="study_repeats_within_trials",
            ),
        ]

    def __str__(self) -> str:
        return self.title


locale_code_validator = RegexValidator(
    r"^[a-z]{2,3}-[A-Z]{2}$", "Use a language-COUNTRY code such as en-US or ar-EG."
)


class StudyLocale(models.Model):
    """One language × country of a study, with its own recruitment panel settings."""

    class Direction(models.TextChoices):
        LTR = "ltr", _("Left to right")
        RTL = "rtl", _("Right to left")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="locales")
    code = models.CharField(max_length=10, validators=[locale_code_validator])
    name = models.CharField(max_length=100)
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.LTR)
    is_active = models.BooleanField(default=True)
    recruiter_id_param = models.CharField(
        max_length=40,
        default="PROLIFIC_PID",
        help_text="Entry-link query parameter with the panel's participant id (RID for Lucid).",
    )
    completion_url = models.URLField(
        blank=True, help_text="Where finished participants go; {code} is replaced by the code."
    )
    completion_code = models.CharField(max_length=64, blank=True)
    screenout_url = models.URLField(
        blank=True, help_text="Where screened-out participants go; {code} is replaced."
    )
    screenout_code = models.CharField(max_length=64, blank=True)
    no_places_url = models.URLField(
        blank=True,
        help_text=(
            'The panel\'s "no places" return, for people who arrive once the study is full; '
            "{code} is replaced. Empty: the screen-out link."
        ),
    )
    no_places_code = models.CharField(
        max_length=64, blank=True, help_text="Empty: the screen-out code."
    )
    recruitment_closed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when no work is left for new participants; cleared when some comes back.",
    )
    recruitment_closed_reason = models.CharField(max_length=200, blank=True)
    consent_text = models.TextField(
        blank=True, help_text="Consent form in this locale's language; empty uses the default text."
    )
    vocabulary_items = models.JSONField(
        default=list,
        blank=True,
        help_text='Optional replacement word list: [{"word": "...", "real": true}, ...].',
    )
    terms_frozen_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the rating phase starts; frozen terms can't change.",
    )

    class Meta:
        ordering = ["study", "code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="unique_locale_per_study"),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug} · {self.code}"

    def clean(self) -> None:
        if self.vocabulary_items:
            try:
                validate_vocabulary_items(self.vocabulary_items)
            except ValidationError as error:
                raise ValidationError({"vocabulary_items": error.messages}) from error

    @property
    def has_vocabulary(self) -> bool:
        """Whether the vocabulary check has words for this locale (its own, or shipped)."""
        return bool(self.vocabulary_items or default_vocabulary(self.language))

    @property
    def language(self) -> str:
        """The language part of the code: it picks the catalogue and the text normalisation."""
        return split_locale_code(self.code)[0]

    @property
    def country(self) -> str:
        return split_locale_code(self.code)[1]


def song_audio_path(song: Song, filename: str) -> str:
    """Originals are stored by content: the service names them `<sha256>.<extension found>`."""
    return f"audio/original/{filename}"


def song_delivery_path(song: Song, filename: str) -> str:
    """Delivery files are named by their own content, so a name never changes meaning."""
    return f"audio/{filename}"


class Song(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="songs")
    external_id = models.CharField(
        max_length=64, help_text="The song's id at its source, e.g. the YouTube video id."
    )
    title = models.CharField(max_length=300)
    artist = models.CharField(max_length=300, blank=True)
    country = CountryField(blank=True)
    audio = models.FileField(
        upload_to=song_audio_path, blank=True, help_text="The original file, kept as uploaded."
    )
    audio_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    delivery_audio = models.FileField(
        upload_to=song_delivery_path,
        blank=True,
        editable=False,
        help_text="What participants hear: AAC in M4A, loudness-normalised.",
    )
    loudness_lufs = models.FloatField(
        null=True, blank=True, editable=False, help_text="Measured loudness of the original."
    )
    loudness_gain_db = models.FloatField(
        null=True, blank=True, editable=False, help_text="Gain applied to reach the target."
    )
    delivery_error = models.CharField(max_length=300, blank=True, editable=False)
    duration_seconds = models.FloatField(null=True, blank=True)
    clip_start_seconds = models.FloatField(null=True, blank=True)
    clip_end_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "external_id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "external_id"], name="unique_song_per_study"),
            models.CheckConstraint(
                condition=Q(clip_start_seconds__isnull=True)
                | Q(clip_end_seconds__isnull=True)
                | Q(clip_end_seconds__gt=F("clip_start_seconds")),
                name="song_clip_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} — {self.artist}" if self.artist else self.title

    def clip_heard(self, played_seconds: float) -> bool:
        """Whether a participant who played `played_seconds` heard the whole clip."""
        clip = self.clip_seconds
        return clip is None or played_seconds >= clip - AUDIO_TOLERANCE_SECONDS

    @property
    def clip_seconds(self) -> float | None:
        """How long the participant must listen: the clip if set, else the whole file."""
        if self.clip_start_seconds is not None and self.clip_end_seconds is not None:
            return self.clip_end_seconds - self.clip_start_seconds
        if self.duration_seconds is None:
            return None
        return self.duration_seconds - (self.clip_start_seconds or 0.0)


class Term(models.Model):
    """A rating dimension of one locale: a curated group of elicited tags, or an imported term.

    `label` is translated with django-modeltranslation: label_<language> holds the participant
    wording and label_en doubles as the English gloss used to compare locales.
    """

    locale = models.ForeignKey(StudyLocale, on_delete=models.CASCADE, related_name="terms")
    key = models.CharField(max_length=100, help_text="Normalised grouping key of the term.")
    label = models.CharField(max_length=100)
    frequency = models.PositiveIntegerField(default=0)
    mean_rating = models.FloatField(null=True, blank=True)
    score = models.FloatField(default=0.0)
    chain_count = models.PositiveIntegerField(default=0)
    song_count = models.PositiveIntegerField(default=0)
    is_selected = models.BooleanField(default=False, help_text="Used as a rating term.")
    is_excluded = models.BooleanField(default=False)
    rank = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["locale", "rank", "-score", "key"]
        constraints = [
            models.UniqueConstraint(fields=["locale", "key"], name="unique_term_key_per_locale"),
            models.CheckConstraint(
                condition=~(Q(is_selected=True) & Q(is_excluded=True)),
                name="term_not_selected_and_excluded",
            ),
        ]
        indexes = [models.Index(fields=["locale", "is_selected"])]

    def __str__(self) -> str:
        return self.label

    @property
    def gloss(self) -> str:
        return self.label_en or ""  # type: ignore[attr-defined]


def label_field_of(locale: StudyLocale) -> str:
    """The Term field holding the locale's wording: label_<language>, or label_en for a
    language the site has no translation field for."""
    translated = {code for code, _name in settings.LANGUAGES}
    return f"label_{locale.language if locale.language in translated else 'en'}"


def new_participant_token() -> str:
    return secrets.token_urlsafe(32)


def participant_token_hash(token: str) -> str:
    """What the database keeps of a participant's token: a leaked row or an admin filter
    never gives a usable secret. Tokens are 256 random bits, so an unsalted SHA-256 is enough
    and keeps the lookup one indexed equality."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def unheld_token_hash() -> str:
    return participant_token_hash(new_participant_token())


class Participant(models.Model):
    """Someone taking part; the panel's id for them lives apart in RecruiterIdentity."""

    class Status(models.TextChoices):
        STARTED = "started", _("Started")
        DECLINED = "declined", _("Declined consent")
        SCREENED_OUT = "screened_out", _("Screened out")
        COMPLETED = "completed", _("Completed")
        TIMED_OUT = "timed_out", _("Timed out")
        EXCLUDED = "excluded", _("Excluded")
        FULL = "full", _("Study full (no work left)")

    class Phase(models.TextChoices):
        ELICITATION = "elicitation", _("Elicitation")
        RATING = "rating", _("Rating")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # SHA-256 of the participant API's bearer secret. The secret itself exists only in the
    # participant's Django session and in the answer to the entry request (`token` below).
    # Rows made outside the entry service (bulk imports, simulations) get a hash of a
    # secret nobody holds.
    token_hash = models.CharField(
        max_length=64, unique=True, editable=False, default=unheld_token_hash
    )
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    locale = models.ForeignKey(StudyLocale, on_delete=models.PROTECT, related_name="participants")
    phase = models.CharField(max_length=12, choices=Phase.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.STARTED)
    consented_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    status_reason = models.CharField(
        max_length=300, blank=True, help_text="Why the participant was screened out or excluded."
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["study", "locale", "status"]),
            models.Index(fields=["status", "last_seen_at"]),
        ]

    # The raw token, on the instance that issued it only (never loaded from the database).
    token: str = ""

    def __str__(self) -> str:
        return str(self.public_id)

    def issue_token(self) -> str:
        """A new secret for this session; the old one (if any) stops working once saved."""
        self.token = new_participant_token()
        self.token_hash = participant_token_hash(self.token)
        return self.token

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.STARTED


class RecruiterIdentity(models.Model):
    """The panel's id for a participant: personal data, kept apart and never exported."""

    participant = models.OneToOneField(
        Participant, on_delete=models.CASCADE, related_name="recruiter_identity"
    )
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    recruiter_participant_id = models.CharField(max_length=128)
    entry_parameters = models.JSONField(
        default=dict,
        blank=True,
        help_text="Other panel parameters of the entry link (study/session ids).",
    )

    class Meta:
        verbose_name_plural = "recruiter identities"
        permissions = [("view_recruiter_id", "Can see recruiters' participant ids (personal data)")]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "recruiter_participant_id"],
                name="one_participant_per_recruiter_id",
            ),
        ]

    def __str__(self) -> str:
        return f"recruiter id of {self.participant_id}"


class PrescreenResult(models.Model):
    class Kind(models.TextChoices):
        VOLUME = "volume", _("Volume calibration")
        HEADPHONES = "headphones", _("Headphone check")
        VOCABULARY = "vocabulary", _("Vocabulary check")

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="prescreen_results"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField()
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "kind"], name="one_prescreen_result_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {'passed' if self.passed else 'failed'}"


class QuestionnaireResponse(models.Model):
    participant = models.OneToOneField(
        Participant, on_delete=models.CASCADE, related_name="questionnaire"
    )
    answers = models.JSONField(default=dict)
    submitted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"questionnaire of {self.participant_id}"
