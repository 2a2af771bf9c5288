"""A latent valence-arousal model of how simulated participants hear songs and use mood terms.

Songs sit at fixed points of the valence-arousal plane; every term has a loading on that
plane; a rating is a noisy, clipped reading of how well the term's loading points at the
song. Rater types reproduce the behaviours quality control must catch (straight-lining,
random clicking, answering too fast, dropping out) and those the prescreens must catch (not
listening, not knowing the language's words), so the simulated-participant command,
the analysis tests and the benchmarks all exercise the real pipeline with data of known
structure. Nothing here touches Django.

Everything is deterministic: song coordinates and unknown-term loadings come from SHA-256
of the model seed and the id (stable across processes, unlike ``hash()``); every random
draw comes from the ``numpy.random.Generator`` the caller passes in.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

import numpy as np

from moodlab.studies.scale import SCALE_MAX, SCALE_MIN

Loading = tuple[float, float]
"""A point or direction in the (valence, arousal) plane, each coordinate in [-1, 1]."""

# English glosses of every GlobalMood term (all five locales), plus a few common mood words.
# Values are rough circumplex positions (Russell 1980), (valence, arousal).
LEXICON: Mapping[str, Loading] = {
    # pleasant, active
    "upbeat": (0.6, 0.8),
    "fun": (0.7, 0.6),
    "festive": (0.7, 0.8),
    "celebratory": (0.7, 0.7),
    "party": (0.6, 0.9),
    "cheerful": (0.8, 0.5),
    "lively": (0.6, 0.7),
    "enthusiasm": (0.6, 0.7),
    "excitement": (0.5, 0.8),
    "exciting": (0.5, 0.8),
    "catchy": (0.5, 0.6),
    "dance": (0.5, 0.8),
    "dancing": (0.5, 0.8),
    "youth": (0.5, 0.6),
    "latino": (0.4, 0.5),
    "energetic": (0.3, 0.9),
    "active": (0.3, 0.8),
    "rhythmic": (0.3, 0.7),
    "rhythm": (0.3, 0.7),
    "passion": (0.3, 0.6),
    "passionate": (0.3, 0.6),
    "strength": (0.1, 0.7),
    "modern": (0.1, 0.4),
    # pleasant, moderate arousal
    "happy": (0.9, 0.3),
    "happiness": (0.9, 0.3),
    "joy": (0.9, 0.4),
    "joyful": (0.9, 0.4),
    "delight": (0.8, 0.3),
    "sunny": (0.8, 0.3),
    "feel-good": (0.8, 0.2),
    "enjoyment": (0.7, 0.3),
    "free": (0.5, 0.3),
    "appealing": (0.4, 0.1),
    "sensuality": (0.4, 0.1),
    "cool": (0.3, 0.1),
    "hope": (0.6, 0.0),
    # pleasant, calm
    "pleasant": (0.7, -0.1),
    "lovely": (0.7, -0.1),
    "love": (0.6, -0.1),
    "sweet": (0.6, -0.4),
    "warmth": (0.6, -0.3),
    "romantic": (0.5, -0.3),
    "romance": (0.5, -0.3),
    "peace": (0.4, -0.8),
    "peaceful": (0.4, -0.8),
    "tranquility": (0.3, -0.9),
    "relaxed": (0.3, -0.8),
    "relaxation": (0.3, -0.8),
    "smooth": (0.3, -0.5),
    "chill": (0.3, -0.6),
    "calm": (0.2, -0.8),
    "calmness": (0.2, -0.8),
    "soft": (0.2, -0.7),
    # unpleasant or ambivalent
    "reflective": (-0.1, -0.6),
    "nostalgia": (-0.2, -0.5),
    "nostalgic": (-0.2, -0.5),
    "longing": (-0.5, -0.3),
    "melancholy": (-0.7, -0.5),
    "sad": (-0.8, -0.4),
    "sadness": (-0.8, -0.4),
    "sorrowful": (-0.8, -0.3),
    "pain": (-0.8, 0.1),
    "emotional": (-0.3, 0.0),
    "emotion": (-0.2, 0.1),
    "strange": (-0.3, 0.2),
    "foreign": (0.0, 0.1),
    "exotic": (0.1, 0.2),
    "intense": (-0.2, 0.9),
    "loud": (-0.1, 0.9),
    "tense": (-0.5, 0.7),
    "angry": (-0.7, 0.8),
}


class RaterKind(StrEnum):
    CAREFUL = "careful"
    STRAIGHT_LINER = "straight_liner"
    RANDOM = "random"
    TOO_FAST = "too_fast"


# Mean and spread of seconds spent per term shown. Careful raters take the 3 s per term the
# study budgets; too-fast raters answer faster than anyone could read the terms.
_SECONDS_PER_TERM: Mapping[RaterKind, tuple[float, float]] = {
    RaterKind.CAREFUL: (3.0, 0.8),
    RaterKind.TOO_FAST: (0.4, 0.1),
    RaterKind.STRAIGHT_LINER: (1.0, 0.3),
    RaterKind.RANDOM: (1.2, 0.4),
}
_MIN_SECONDS_PER_TERM = 0.15
# Shares of a rating's noise standard deviation: lasting per rater and cell, per occasion
# (their squares sum to 1).
_LASTING_NOISE = math.sqrt(0.75)
_OCCASION_NOISE = 0.5
_TOO_FAST_EXTRA_NOISE = 1.5
REALISTIC_AGREEMENT_SPREAD = 0.4
"""The `agreement_spread` at which the raters' standard deviation σ per song × term cell —
measured as a study would, on the 5-point scale, with the raters' leniency and the scale's
ends — spreads by 0.20 in log across cells (0.13 at spread 0.2, 0.28 at 0.7: the
scale's ends cap σ). About 0.21 is what DEAM's per-song standard deviations spread by once the
sampling error of 10 raters a song is taken out (docs/method.md, "Phase 3")."""


@dataclass(frozen=True)
class RaterProfile:
    """One simulated participant's way of answering, fixed for the whole session."""

    kind: RaterKind
    noise_sd: float
    leniency: float
    seconds_per_term: float
    seconds_sd: float
    dropout_after: int | None = None
    """Number of trials after which the participant abandons the session (None: finishes)."""
    constant_value: int = 3
    """The value a straight-liner gives to every term."""
    attentive: bool = True
    """Hears the headphone check's odd sounds; an inattentive listener clicks one button."""
    vocabulary_error_rate: float = 0.0
    """Chance of misclassing each word of the vocabulary check."""
    key: int = 0
    """Names the rater's own, lasting way of hearing each song × term (see `_rate`)."""

    def has_dropped_out(self, trials_done: int) -> bool:
        return self.dropout_after is not None and trials_done >= self.dropout_after


@dataclass(frozen=True)
class MoodModel:
    """Song coordinates, term loadings and rater behaviour for one simulated population.

    ``term_overrides`` maps ``(language, gloss)`` — e.g. ``("ko", "sad")`` — to a loading
    that replaces the lexicon's in that language only, to simulate a dictionary-equivalent
    term that means something else in one culture. Locales are matched by their language
    subtag, so ``"ko"`` and ``"ko-KR"`` behave alike.
    """

    seed: int = 0
    steepness: float = 2.5
    bias: float = -0.5
    noise_sd: float = 0.6
    leniency_sd: float = 0.3
    straight_liner_share: float = 0.05
    random_share: float = 0.05
    too_fast_share: float = 0.05
    dropout_probability: float = 0.1
    trials_per_session: int = 66
    irrelevance_threshold: float = 1.8
    """Careful raters flag a tag as irrelevant when they perceive it below this many stars."""
    inattentive_share: float = 0.0
    """Listeners who fail the headphone check, whatever their rater kind."""
    vocabulary_error_rate: float = 0.0
    term_overrides: Mapping[tuple[str, str], Loading] = field(default_factory=dict)
    agreement_spread: float = 0.0
    """How much listeners' agreement differs from one song × term × locale cell to another:
    the standard deviation of log σ across cells (see `disagreement`). 0 gives every cell the
    same noise, the world every seed had before; `REALISTIC_AGREEMENT_SPREAD` is the figure
    published ratings suggest (docs/method.md, "Phase 3")."""

    def __post_init__(self) -> None:
        shares = (self.straight_liner_share, self.random_share, self.too_fast_share)
        if any(share < 0 for share in shares) or sum(shares) > 1 + 1e-9:
            raise ValueError("rater shares must be non-negative and sum to at most 1")
        if not (0 <= self.inattentive_share <= 1 and 0 <= self.vocabulary_error_rate <= 1):
            raise ValueError("inattentive_share and vocabulary_error_rate must be in [0, 1]")
        if self.agreement_spread < 0:
            raise ValueError("agreement_spread must be non-negative")
        for language, gloss in self.term_overrides:
            if (language, gloss) != (_language(language), _normalise(gloss)):
                raise ValueError(
                    f"override key {(language, gloss)!r} must be a lower-case language subtag "
                    "and a lower-case gloss, e.g. ('ko', 'sad')"
                )

    def song_coords(self, song_id: str) -> Loading:
        return _unit_pair(f"{self.seed}:song:{song_id}")

    def term_loading(self, term_gloss: str, locale: str) -> Loading:
        gloss = _normalise(term_gloss)
        override = self.term_overrides.get((_language(locale), gloss))
        if override is not None:
            return override
        if gloss in LEXICON:
            return LEXICON[gloss]
        return _unit_pair(f"{self.seed}:term:{gloss}")

    def expected(self, song_id: str, term_gloss: str, locale: str) -> float:
        """Mean rating (on the scale) an unbiased, noiseless rater would give."""
        valence, arousal = self.song_coords(song_id)
        loading_valence, loading_arousal = self.term_loading(term_gloss, locale)
        fit = loading_valence * valence + loading_arousal * arousal
        span = SCALE_MAX - SCALE_MIN
        return SCALE_MIN + span / (1.0 + math.exp(-(self.steepness * fit + self.bias)))

    def disagreement(self, song_id: str, term_gloss: str, locale: str) -> float:
        """The factor on every rater's noise for this song × term × locale cell.

        exp(s·z − s²) with z a standard normal drawn from the world seed and the cell (like
        the song coordinates, so every process sees the same world) and s the
        `agreement_spread`: log σ then varies across cells with sd s, and since
        E[exp(2·s·z)] = exp(2·s²) the factor's mean square is 1, so the noise variance
        averaged over cells — and with it the reliability a design reaches — stays that of
        the uniform world. Clear cells (a happy pop song on "sad") get less noise, ambiguous
        ones more. With s = 0 it is exactly 1 and nothing is drawn.
        """
        spread = self.agreement_spread
        if not spread:
            return 1.0
        z = _stable_normal(f"{self.seed}:agreement:{locale}:{song_id}:{_normalise(term_gloss)}")
        return math.exp(spread * z - spread * spread)

    def draw_rater(self, rng: np.random.Generator) -> RaterProfile:
        kinds = list(RaterKind)
        shares = {
            RaterKind.STRAIGHT_LINER: self.straight_liner_share,
            RaterKind.RANDOM: self.random_share,
            RaterKind.TOO_FAST: self.too_fast_share,
        }
        shares[RaterKind.CAREFUL] = max(1.0 - sum(shares.values()), 0.0)
        kind = kinds[rng.choice(len(kinds), p=[shares[k] for k in kinds])]
        seconds_per_term, seconds_sd = _SECONDS_PER_TERM[kind]
        noise_sd = self.noise_sd * (_TOO_FAST_EXTRA_NOISE if kind is RaterKind.TOO_FAST else 1.0)
        dropout_after = (
            int(rng.integers(1, self.trials_per_session))
            if rng.random() < self.dropout_probability
            else None
        )
        # No draw when nobody is inattentive, so a seed gives the raters it always gave.
        attentive = not self.inattentive_share or rng.random() >= self.inattentive_share
        return RaterProfile(
            kind=kind,
            noise_sd=noise_sd,
            leniency=float(rng.normal(0.0, self.leniency_sd)),
            seconds_per_term=seconds_per_term,
            seconds_sd=seconds_sd,
            dropout_after=dropout_after,
            constant_value=int(rng.integers(SCALE_MIN, SCALE_MAX + 1)),
            attentive=attentive,
            vocabulary_error_rate=self.vocabulary_error_rate,
            key=int(rng.integers(2**62)),
        )

    def rate_trial(
        self,
        rater: RaterProfile,
        song_id: str,
        glosses: Sequence[str],
        locale: str,
        rng: np.random.Generator,
        *,
        clip_seconds: float = 0.0,
    ) -> tuple[list[int], float]:
        """Star ratings for one song on each term, and the seconds the trial took.

        The page takes no answer before the clip has played, so nobody is quicker than the
        clip; a rater reads and answers while it plays, so the clip is not added on top.
        """
        values = [
            self._rate(
                rater,
                self.expected(song_id, g, locale),
                rng,
                cell=f"{song_id}:{g}",
                disagreement=self.disagreement(song_id, g, locale),
            )
            for g in glosses
        ]
        per_term = max(rng.normal(rater.seconds_per_term, rater.seconds_sd), _MIN_SECONDS_PER_TERM)
        return values, max(float(per_term * len(glosses)), clip_seconds)

    def describe(
        self,
        song_id: str,
        locale: str,
        vocabulary: Sequence[tuple[str, str]],
        rng: np.random.Generator,
        *,
        count: int = 2,
    ) -> list[str]:
        """Tags a participant would type for a song: the most fitting of ``(tag, gloss)`` pairs.

        Noise on the perceived fit makes different participants offer different, but mostly
        apt, tags — as in real elicitation chains.
        """
        if not vocabulary:
            return []
        fits = np.array([self.expected(song_id, gloss, locale) for _, gloss in vocabulary])
        perceived = fits + rng.normal(0.0, self.noise_sd, size=len(vocabulary))
        best = np.argsort(-perceived, kind="stable")[:count]
        return [vocabulary[i][0] for i in best]

    def rate_tag(
        self,
        rater: RaterProfile,
        song_id: str,
        gloss: str,
        locale: str,
        rng: np.random.Generator,
    ) -> int | None:
        """A star rating for an elicited tag, or None when a careful rater flags it irrelevant."""
        expected = self.expected(song_id, gloss, locale)
        disagreement = self.disagreement(song_id, gloss, locale)
        if rater.kind is RaterKind.CAREFUL:
            perceived = expected + rater.leniency + rng.normal(0.0, rater.noise_sd * disagreement)
            if perceived < self.irrelevance_threshold:
                return None
        return self._rate(rater, expected, rng, disagreement=disagreement)

    @staticmethod
    def _rate(
        rater: RaterProfile,
        expected: float,
        rng: np.random.Generator,
        *,
        cell: str = "",
        disagreement: float = 1.0,
    ) -> int:
        """A rating; for a song × term (`cell`), most of the noise is the rater's own.

        People hear a song their own way and say so again on a repeat: three quarters of
        the noise variance is fixed per rater and cell, a quarter is drawn each time. The
        spread across raters is the same as with all of it drawn each time. Both parts
        scale with the cell's `disagreement` (`MoodModel.disagreement`).
        """
        if rater.kind is RaterKind.STRAIGHT_LINER:
            return rater.constant_value
        if rater.kind is RaterKind.RANDOM:
            return int(rng.integers(SCALE_MIN, SCALE_MAX + 1))
        noise_sd = rater.noise_sd * disagreement
        noise = rng.normal(0.0, noise_sd)
        if cell:
            own = _stable_normal(f"{rater.key}:{cell}")
            noise = _LASTING_NOISE * noise_sd * own + _OCCASION_NOISE * noise
        value = round(expected + rater.leniency + noise)
        return min(max(value, SCALE_MIN), SCALE_MAX)


def world_seed_for(study_slug: str) -> int:
    """The seed of a study's simulated world (song coordinates, unknown-term loadings).

    Fixed per study, so participants simulated on different days rate one world; the
    raters themselves are drawn anew each run.
    """
    digest = hashlib.sha256(f"moodlab-world:{study_slug}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


DIVERGENT_LOADING: Loading = (0.0, 0.9)


def parse_divergent_term(spec: str) -> tuple[tuple[str, str], Loading]:
    """``LOCALE:GLOSS[=VALENCE,AROUSAL]`` as a ``term_overrides`` entry.

    Without a loading the term loads on arousal only, (0, 0.9): e.g. ``ko-KR:sad`` makes
    Korean "sad" mean "intense", a dictionary equivalent that ranks songs differently.
    """
    target, _, loading = spec.partition("=")
    locale, _, gloss = target.partition(":")
    if not locale.strip() or not gloss.strip():
        raise ValueError(f"{spec!r}: give LOCALE:GLOSS[=VALENCE,AROUSAL], e.g. ko-KR:sad")
    if loading:
        try:
            valence, arousal = (float(x) for x in loading.split(","))
        except ValueError:
            raise ValueError(f"{spec!r}: the loading must be two numbers, e.g. =0,0.9") from None
        if not (-1 <= valence <= 1 and -1 <= arousal <= 1):
            raise ValueError(f"{spec!r}: valence and arousal must lie in [-1, 1]")
    else:
        valence, arousal = DIVERGENT_LOADING
    return (_language(locale), _normalise(gloss)), (valence, arousal)


def _language(locale: str) -> str:
    return locale.split("-")[0].split("_")[0].lower()


def _normalise(gloss: str) -> str:
    return gloss.strip().lower()


def _stable_normal(key: str) -> float:
    """A standard normal number drawn from ``key`` (Box–Muller over `_unit_pair`)."""
    first, second = _unit_pair(key)
    radius = math.sqrt(-2.0 * math.log(max((first + 1.0) / 2.0, 1e-300)))
    return radius * math.cos(math.pi * (second + 1.0))


@lru_cache(maxsize=65536)
def _unit_pair(key: str) -> Loading:
    """Two numbers in [-1, 1] drawn from ``key`` by SHA-256, identical in every process."""
    digest = hashlib.sha256(key.encode()).digest()
    first, second = (int.from_bytes(digest[i : i + 8], "big") / 2**64 for i in (0, 8))
    return (2.0 * first - 1.0, 2.0 * second - 1.0)
