"""The vocabulary prescreen's word lists: the shipped defaults and a locale's own list."""

import pytest
from django.core.exceptions import ValidationError

from moodlab.studies.models import Study, StudyLocale
from moodlab.studies.services.studies import PhaseMoveRefused, study_add_locale, study_set_phase
from moodlab.studies.vocabulary import default_vocabulary, validate_vocabulary_items
from tests.conftest import build_study
from tests.factories import StudyLocaleFactory

SCRIPTS = {
    "en": ("a", "z"),
    "fr": ("a", "ÿ"),
    "es": ("a", "ÿ"),
    "ko": ("\uac00", "\ud7a3"),  # Hangul syllables
    "ar": ("\u0621", "\u064a"),  # Arabic letters
}


@pytest.mark.parametrize("language", sorted(SCRIPTS))
def test_each_reference_language_ships_a_balanced_list_in_its_own_script(language):
    items = list(default_vocabulary(language))
    validate_vocabulary_items(items)
    assert len(items) == 12
    assert sum(item["real"] for item in items) == 6
    low, high = SCRIPTS[language]
    assert all(low <= ch <= high for item in items for ch in item["word"].lower())


def test_a_language_without_a_list_has_none():
    assert default_vocabulary("de") == ()
    assert default_vocabulary("../en") == ()


@pytest.mark.parametrize(
    "items",
    [
        {"word": "house", "real": True},
        [{"word": "house", "real": True}, {"word": "blick", "real": "no"}],
        [{"word": "house", "real": True}, {"word": "", "real": False}],
        [{"word": "house", "real": True}, {"word": "blick", "real": False, "extra": 1}],
        [{"word": "house", "real": True}, {"word": "house", "real": False}],
        [{"word": "house", "real": True}, {"word": "garden", "real": True}],
        ["house", "blick"],
    ],
)
def test_a_malformed_own_list_is_refused_on_the_locale(db, items):
    locale = StudyLocaleFactory(vocabulary_items=items)
    with pytest.raises(ValidationError) as error:
        locale.full_clean()
    assert "vocabulary_items" in error.value.message_dict


def test_a_well_formed_own_list_or_none_is_accepted(db):
    StudyLocaleFactory(
        vocabulary_items=[{"word": "house", "real": True}, {"word": "blick", "real": False}]
    ).full_clean()
    StudyLocaleFactory(code="fr-FR").full_clean()


def german_study(**params) -> tuple[Study, StudyLocale]:
    study = build_study(locales=(), phase="draft", **params)
    return study, study_add_locale(study=study, code="de-DE")


def test_a_study_with_the_vocabulary_check_opens_only_with_a_list_for_each_locale(db):
    study, locale = german_study()
    with pytest.raises(PhaseMoveRefused, match="de-DE"):
        study_set_phase(study=study, phase=Study.Phase.ELICITATION, confirm=True)
    locale.vocabulary_items = [{"word": "Haus", "real": True}, {"word": "Blarf", "real": False}]
    locale.save()
    moved = study_set_phase(study=study, phase=Study.Phase.ELICITATION, confirm=True)
    assert moved.phase == "elicitation"


def test_a_study_without_the_vocabulary_check_opens_without_a_list(db):
    study, _ = german_study(vocabulary_check=False)
    moved = study_set_phase(study=study, phase=Study.Phase.ELICITATION, confirm=True)
    assert moved.phase == "elicitation"
