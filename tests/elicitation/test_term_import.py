import pytest

from moodlab.studies.csv_import import ImportFailed
from moodlab.studies.models import Term
from moodlab.studies.services.term_import import terms_import
from tests.conftest import GLOBALMOOD, build_study
from tests.factories import StudyFactory, StudyLocaleFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "language,code",
    [("en", "en-US"), ("fr", "fr-FR"), ("es", "es-MX"), ("ko", "ko-KR"), ("ar", "ar-EG")],
)
def test_the_real_globalmood_lists_import_as_twenty_selected_terms(language, code):
    locale = StudyLocaleFactory(code=code)
    report = terms_import(
        locale=locale, csv_source=(GLOBALMOOD / f"terms_{language}.csv").read_bytes()
    )
    assert report.created == 20
    terms = list(locale.terms.order_by("rank"))
    assert len(terms) == 20 and all(term.is_selected for term in terms)
    assert [term.score for term in terms] == sorted((term.score for term in terms), reverse=True)


def test_a_term_keeps_its_own_wording_and_its_english_gloss():
    locale = StudyLocaleFactory(code="ko-KR")
    terms_import(locale=locale, csv_source=(GLOBALMOOD / "terms_ko.csv").read_bytes())
    top = locale.terms.get(rank=1)
    assert (top.label_ko, top.gloss, top.frequency) == ("리듬감있는", "Rhythmic", 129)
    assert top.key == "리듬감있는"


def test_only_the_studys_number_of_terms_is_selected():
    locale = StudyLocaleFactory(
        code="en-US", study=StudyFactory(terms_per_locale=10, terms_per_participant=5)
    )
    terms_import(locale=locale, csv_source=(GLOBALMOOD / "terms_en.csv").read_bytes())
    assert locale.terms.filter(is_selected=True).count() == 10


def test_reimporting_is_idempotent():
    locale = StudyLocaleFactory(code="fr-FR")
    data = (GLOBALMOOD / "terms_fr.csv").read_bytes()
    terms_import(locale=locale, csv_source=data)
    report = terms_import(locale=locale, csv_source=data)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 20)


def test_two_rows_that_group_together_are_reported():
    locale = StudyLocaleFactory(code="es-MX")
    with pytest.raises(ImportFailed) as failure:
        terms_import(
            locale=locale,
            csv_source="grouped_tag,translation,score\nalegría,joy,3\nalegria,joy,2\n",
        )
    assert [(e.row, e.field) for e in failure.value.report.errors] == [(3, "label")]
    assert not Term.objects.exists()


def test_frozen_terms_cannot_be_replaced():
    study = build_study(locales=("en-US",), phase="rating")
    locale = study.locales.get()
    before = list(locale.terms.values_list("key", "is_selected"))
    with pytest.raises(ImportFailed) as failure:
        terms_import(locale=locale, csv_source="grouped_tag,score\nbrand new,9\n")
    assert "frozen" in failure.value.report.errors[0].message
    assert list(locale.terms.values_list("key", "is_selected")) == before
