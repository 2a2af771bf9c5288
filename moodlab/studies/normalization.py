"""Cleaning and language-aware grouping of free-text mood tags.

`clean_tag` decides what a participant may enter and the form in which the tag is shown
again; `grouping_key` decides which typed tags count as one term when the elicited tags
are curated, so that inflected, accent-less or differently spelled variants add up to
the same frequency and score. Pure Python, so the curation code and the benchmarks can
use it without Django.
"""

import re
import unicodedata
from functools import cache, lru_cache

import simplemma
from simplemma.strategies import DEFAULT_DICTIONARY_FACTORY

DEFAULT_MAX_LENGTH = 40
DEFAULT_MAX_WORDS = 3

_LEMMATISED_LANGUAGES = frozenset({"en", "fr", "es"})
# Speakers of these languages often leave accents out when typing (the released
# Spanish terms are accent-stripped), so keys are compared without them.
_ACCENT_OPTIONAL_LANGUAGES = frozenset({"fr", "es"})
# simplemma treats some French feminine forms as lemmas of their own (rythmée,
# joyeuse); these regular endings lead back to the masculine form.
_FEMININE_TO_MASCULINE_ENDINGS = {"fr": (("ée", "é"), ("euse", "eux"))}

# Combining accents, except the tilde of ñ: a letter of its own in Spanish (año is not ano).
_ACCENTS = re.compile("[\u0300-\u036f](?<!n\u0303)")

_URL = re.compile(r"[a-z][a-z0-9+.-]*://|www\.|[^\s./]+\.[a-z]{2,}\b", re.IGNORECASE)
# Joiners are part of the spelling of some scripts and of emoji sequences.
_ALLOWED_FORMAT_CHARACTERS = frozenset({"\u200c", "\u200d"})

_ARABIC_DIACRITICS_AND_TATWEEL = re.compile("[\u064b-\u065f\u0670\u0640]")
_ARABIC_LETTER_VARIANTS = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"}
)
# The definite article, alone or behind a clitic ("and the", "with the", "for the", ...),
# as in Larkey et al.'s light stemmer for Arabic retrieval.
_ARABIC_ARTICLES = ("وال", "بال", "كال", "فال", "لل", "ال")
_MIN_ARABIC_STEM = 2


class TagError(ValueError):
    """A typed tag that cannot be accepted; `code` is stable, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def language_of(locale_code: str) -> str:
    """The language part of a locale code: "fr-FR" -> "fr", "ko_KR" -> "ko"."""
    return re.split(r"[-_]", locale_code.strip(), maxsplit=1)[0].lower()


def clean_tag(
    text: str,
    *,
    language: str,
    max_length: int = DEFAULT_MAX_LENGTH,
    max_words: int = DEFAULT_MAX_WORDS,
) -> str:
    """Return the tag as it will be stored and displayed, or raise `TagError`.

    The display form keeps the participant's spelling (accents, hamza, spacing inside
    the tag) and only trims, collapses whitespace, composes (NFC) and lower-cases it.
    """
    display = " ".join(unicodedata.normalize("NFC", text).split()).lower()
    if not display:
        raise TagError("empty", "Enter a tag.")
    if any(_is_control(char) for char in display):
        raise TagError("control", "Remove the invisible control characters.")
    if "<" in display or ">" in display:
        raise TagError("markup", "Tags cannot contain < or >.")
    if _URL.search(display):
        raise TagError("url", "Tags cannot contain web addresses.")
    if len(display) > max_length:
        raise TagError("too_long", f"Keep tags to {max_length} characters or fewer.")
    if len(display.split()) > max_words:
        raise TagError("too_many_words", f"Use at most {max_words} words.")
    # Checked on the key so that every accepted tag has a non-empty group (a run of
    # Arabic tatweel counts as letters in Unicode but vanishes from the key).
    if not any(char.isalpha() for char in grouping_key(display, language=language)):
        raise TagError("no_letters", "Tags need at least one letter.")
    return display


def grouping_key(text: str, *, language: str) -> str:
    """The key under which variants of a tag are grouped within one language.

    English, French and Spanish words are lemmatised one by one (a compound keeps its
    words and their order); French and Spanish keys also drop accents. Arabic keys drop
    diacritics and the definite article and unify letter variants; Korean keys ignore
    spacing. Other languages are only compatibility-normalised and case-folded.
    """
    language = language_of(language)
    words = unicodedata.normalize("NFKC", text).casefold().split()
    if language == "ko":
        return "".join(words)
    if language == "ar":
        return " ".join(_arabic_word_key(word) for word in words)
    if language in _LEMMATISED_LANGUAGES:
        return " ".join(_lemmatised_word_key(word, language) for word in words)
    return " ".join(words)


def prefix_keys(text: str, *, language: str) -> set[str]:
    """The key prefixes a half-typed tag may stand for, for autocomplete.

    The last word may be unfinished, and lemmatising a fragment leads astray ("cal" becomes
    "calorie"), so it is also tried only folded (case, accents) after the keyed words before
    it; the whole text keyed as a tag still finds finished inflected words ("happier").
    """
    keys = {grouping_key(text, language=language)}
    language = language_of(language)
    words = unicodedata.normalize("NFKC", text).casefold().split()
    if words and language in _LEMMATISED_LANGUAGES:
        *finished, last = words
        if language in _ACCENT_OPTIONAL_LANGUAGES:
            last = _fold_accents(last)
        keys.add(" ".join([grouping_key(" ".join(finished), language=language), last]).lstrip())
    return {key for key in keys if key}


def _is_control(char: str) -> bool:
    category = unicodedata.category(char)
    return category == "Cc" or (category == "Cf" and char not in _ALLOWED_FORMAT_CHARACTERS)


def _fold_accents(word: str) -> str:
    return unicodedata.normalize("NFC", _ACCENTS.sub("", unicodedata.normalize("NFD", word)))


@lru_cache(maxsize=65536)
def _lemmatised_word_key(word: str, language: str) -> str:
    if language in _ACCENT_OPTIONAL_LANGUAGES:
        # The lemmatiser only knows accented spellings, so restore them first.
        if not simplemma.is_known(word, language):
            word = _accented_spellings(language).get(word, word)
        return _fold_accents(_settled_lemma(word, language))
    return _settled_lemma(word, language)


def _settled_lemma(word: str, language: str) -> str:
    """Lemmatise until the lemma stops changing.

    simplemma maps some inflected forms to an intermediate lemma (entraînante ->
    entraînant) and that one further (entraînant -> entraîner); following the chain
    puts all forms of a word on the same lemma.
    """
    seen = {word}
    lemma = _lemma_step(word, language)
    while lemma not in seen:
        seen.add(lemma)
        lemma = _lemma_step(lemma, language)
    return lemma


def _lemma_step(word: str, language: str) -> str:
    lemma = simplemma.lemmatize(word, lang=language)
    if lemma != word:
        return lemma
    for feminine, masculine in _FEMININE_TO_MASCULINE_ENDINGS.get(language, ()):
        if word.endswith(feminine):
            candidate = word.removesuffix(feminine) + masculine
            if simplemma.is_known(candidate, language):
                return candidate
    return word


@cache
def _accented_spellings(language: str) -> dict[str, str]:
    """Accent-less spelling -> accented spelling, for the lemmatiser's word forms.

    Built once per language from simplemma's dictionary (under 0.5 s for French, about
    1.5 s for Spanish). Where several accented forms share a spelling, the first in sort
    order wins, so that keys do not depend on dictionary order.
    """
    spellings: dict[str, str] = {}
    for form in DEFAULT_DICTIONARY_FACTORY.get_dictionary(language):
        if form.isascii():  # most forms: nothing to fold, and skipping them halves the time
            continue
        bare = _fold_accents(form)
        if bare != form:
            spellings[bare] = min(form, spellings.get(bare, form))
    return spellings


def _arabic_word_key(word: str) -> str:
    word = _ARABIC_DIACRITICS_AND_TATWEEL.sub("", word).translate(_ARABIC_LETTER_VARIANTS)
    for article in _ARABIC_ARTICLES:
        if word.startswith(article) and len(word) - len(article) >= _MIN_ARABIC_STEM:
            return word.removeprefix(article)
    return word
