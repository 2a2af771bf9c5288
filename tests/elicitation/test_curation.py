import pytest
from django.utils import timezone

from elicitation.models import ChainTag
from elicitation.services.curation import (
    TermsFrozenError,
    term_rename,
    term_set_excluded,
    term_split,
    terms_merge,
    terms_recompute,
    terms_select_top,
)
from moodlab.studies.models import Term
from tests.elicitation.factories import chain_with_tags, elicitation_study
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TERMS_URL = "/api/v1/elicitation/studies/{slug}/locales/{code}/terms/"


@pytest.fixture
def locale():
    """Two songs, three chains; every expected number below is worked out by hand."""
    study = elicitation_study(songs=2, terms_per_locale=1, terms_per_participant=1)
    locale = study.locales.get()
    song_a, song_b = study.songs.order_by("pk")
    chain_with_tags(locale, song_a, {"sad": [4, 5, "flag"], "calm": [2, 3]})
    chain_with_tags(locale, song_b, {"Sad": [3], "sadness": [5, 4]})
    chain_with_tags(locale, song_b, {"calm": ["flag", "flag"]}, index=1)
    return locale


def numbers(term):
    return (term.frequency, term.mean_rating, term.score, term.chain_count, term.song_count)


def test_the_term_table_counts_occurrences_means_with_flags_as_zero_and_scores(locale):
    terms_recompute(locale=locale)
    terms = {term.key: term for term in locale.terms.all()}
    assert numbers(terms["sad"]) == (2, 3.0, 6.0, 2, 2)  # 12 / 4 ratings; 2 × 3.0
    assert numbers(terms["calm"]) == (2, 1.25, 2.5, 2, 2)  # 5 / 4; 2 × 1.25
    assert numbers(terms["sadness"]) == (1, 4.5, 4.5, 1, 1)
    assert terms["sad"].label_en == "sad"


def test_merged_terms_sum_their_scores_and_split_ones_get_them_back(locale):
    terms_recompute(locale=locale)
    sad, sadness = locale.terms.get(key="sad"), locale.terms.get(key="sadness")
    merged = terms_merge(locale=locale, term_ids=[sadness.pk, sad.pk]).term
    assert merged.pk == sad.pk  # the best scored term absorbs the others
    assert numbers(merged) == (3, 3.5, 10.5, 2, 2)  # 21 / 6 ratings; 6.0 + 4.5
    assert not Term.objects.filter(key="sadness").exists()

    terms_recompute(locale=locale)  # a recompute keeps the merge
    assert numbers(locale.terms.get(key="sad")) == (3, 3.5, 10.5, 2, 2)

    [split] = term_split(term=merged)
    assert split.key == "sadness" and numbers(split) == (1, 4.5, 4.5, 1, 1)
    assert numbers(locale.terms.get(key="sad")) == (2, 3.0, 6.0, 2, 2)


def test_the_top_terms_by_score_are_selected_and_excluded_ones_never(locale):
    terms_recompute(locale=locale)
    assert [t.key for t in terms_select_top(locale=locale, count=2)] == ["sad", "sadness"]
    term_set_excluded(term=locale.terms.get(key="sad"), excluded=True)
    assert [t.key for t in terms_select_top(locale=locale)] == ["sadness"]
    selected = locale.terms.filter(is_selected=True).values_list("key", flat=True)
    assert list(selected) == ["sadness"]


def test_a_term_can_be_renamed_and_glossed_in_english():
    study = elicitation_study(songs=1, locales=("es-MX",))
    locale = study.locales.get()
    chain_with_tags(locale, study.songs.get(), {"alegría": [4]})
    terms_recompute(locale=locale)
    term = term_rename(term=locale.terms.get(), label="alegria", gloss="joy")
    assert (term.key, term.label_es, term.label_en) == ("alegria", "alegria", "joy")


def test_every_curation_change_is_refused_once_the_terms_are_frozen(locale):
    terms_recompute(locale=locale)
    terms_select_top(locale=locale)
    locale.terms_frozen_at = timezone.now()
    locale.save()
    sad, sadness = locale.terms.get(key="sad"), locale.terms.get(key="sadness")
    for change in (
        lambda: terms_recompute(locale=locale),
        lambda: terms_select_top(locale=locale),
        lambda: terms_merge(locale=locale, term_ids=[sad.pk, sadness.pk]),
        lambda: term_rename(term=sad, label="sorrow"),
        lambda: term_set_excluded(term=sad, excluded=True),
    ):
        with pytest.raises(TermsFrozenError, match="frozen"):
            change()
    assert locale.terms.get(key="sad").is_selected


def test_researchers_curate_through_the_api_and_a_frozen_selection_is_refused(api_client, locale):
    researcher = UserFactory(permissions=["elicitation.change_curationterm"])
    locale.study.researchers.add(researcher)
    api_client.force_authenticate(researcher)
    url = TERMS_URL.format(slug=locale.study.slug, code=locale.code)

    response = api_client.post(f"{url}recompute/")
    assert response.status_code == 200
    ids = {term["key"]: term["id"] for term in response.json()}
    response = api_client.post(
        f"{url}merge/", {"terms": [ids["sad"], ids["sadness"]]}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["score"], response.json()["merged_keys"]) == (10.5, ["sad", "sadness"])
    response = api_client.patch(f"{url}{ids['calm']}/", {"gloss": "calm", "is_excluded": True})
    assert response.json()["is_excluded"] is True
    response = api_client.post(f"{url}select-top/", {"count": 1}, format="json")
    assert [t["key"] for t in response.json() if t["is_selected"]] == ["sad"]

    locale.terms_frozen_at = timezone.now()
    locale.save()
    response = api_client.patch(f"{url}{ids['sad']}/", {"label": "sorrow"})
    assert response.status_code == 400
    assert "frozen" in str(response.json()["error"]["fields"])
    assert locale.terms.get(key="sad").label_en == "sad"


def test_another_studys_researcher_cannot_see_or_curate_the_terms(api_client, locale):
    api_client.force_authenticate(UserFactory(permissions=["elicitation.change_curationterm"]))
    url = TERMS_URL.format(slug=locale.study.slug, code=locale.code)
    assert api_client.get(url).status_code == 404
    assert api_client.post(f"{url}recompute/").status_code == 404


def test_the_admin_shows_tags_escaped_and_says_why_frozen_terms_cannot_change(client, locale):
    admin_user = UserFactory(is_superuser=True)
    client.force_login(admin_user)
    chain = ChainTag.objects.get(key="sadness").chain
    ChainTag.objects.create(
        chain=chain, locale=locale, text="<script>alert(1)</script>", key="<script>"
    )
    list_page = client.get("/admin/elicitation/chain/").content.decode()
    detail = client.get(f"/admin/elicitation/chain/{chain.pk}/change/").content.decode()
    for page in (list_page, detail):
        assert "<script>alert(1)" not in page
        assert "&lt;script&gt;alert(1)" in page

    client.post(f"/admin/elicitation/curationterm/recompute/{locale.pk}/")
    terms_page = client.get("/admin/elicitation/curationterm/").content.decode()
    assert "&lt;script&gt;" in terms_page and "<script>alert" not in terms_page

    locale.terms_frozen_at = timezone.now()
    locale.save()
    sad = locale.terms.get(key="sad")
    response = client.post(
        "/admin/elicitation/curationterm/",
        {"action": "merge_selected", "_selected_action": [sad.pk, locale.terms.get(key="calm").pk]},
        follow=True,
    )
    assert "frozen" in response.content.decode()
    assert locale.terms.filter(key="calm").exists()
    response = client.post(
        f"/admin/elicitation/curationterm/{sad.pk}/change/",
        {"label_text": "sorrow", "gloss": "sorrow"},
    )
    assert response.status_code == 200 and "frozen" in response.content.decode()
    assert locale.terms.get(key="sad").label_en == "sad"


def curate_url(locale):
    return f"/admin/elicitation/curationterm/study/{locale.study_id}/?locale={locale.code}"


def test_the_curation_page_renames_and_glosses_many_terms_in_one_save(client):
    from tests.elicitation.factories import chain_with_tags, elicitation_study

    study = elicitation_study(songs=1, locales=("ko-KR",))
    locale = study.locales.get()
    chain_with_tags(locale, study.songs.get(), {"슬픈": [4, 5], "차분한": [3]})
    terms_recompute(locale=locale)
    sad, calm = locale.terms.get(key="슬픈"), locale.terms.get(key="차분한")
    client.force_login(UserFactory(is_superuser=True))
    page = client.get(curate_url(locale)).content.decode()
    assert f'name="label-{sad.pk}"' in page and f'name="gloss-{calm.pk}"' in page
    form = {
        "action": "save",
        f"label-{sad.pk}": "슬프다",
        f"gloss-{sad.pk}": "sad",
        f"label-{calm.pk}": "차분한",
        f"gloss-{calm.pk}": "calm",
    }
    response = client.post(curate_url(locale), form, follow=True)
    assert "2 terms renamed or glossed" in response.content.decode()
    sad.refresh_from_db(), calm.refresh_from_db()
    assert (sad.label_ko, sad.label_en, calm.label_ko, calm.label_en) == (
        "슬프다",
        "sad",
        "차분한",
        "calm",
    )


def test_the_curation_page_shows_a_merge_and_its_effect_on_the_score(client, locale):
    client.force_login(UserFactory(is_superuser=True))
    terms_recompute(locale=locale)
    sad, sadness = locale.terms.get(key="sad"), locale.terms.get(key="sadness")
    response = client.post(
        curate_url(locale), {"action": "merge", "term": [sad.pk, sadness.pk]}, follow=True
    )
    page = response.content.decode()
    assert "Merged sadness into “sad”: score 6.0 → 10.5" in page
    assert "sadness (4.5)" in page  # the merged key and its share of the score


def test_select_top_takes_n_from_the_page_and_says_when_fewer_exist(client, locale):
    client.force_login(UserFactory(is_superuser=True))
    terms_recompute(locale=locale)
    response = client.post(curate_url(locale), {"action": "select_top", "count": "2"}, follow=True)
    assert "the top 2 terms by score selected" in response.content.decode()
    assert locale.terms.filter(is_selected=True).count() == 2
    response = client.post(curate_url(locale), {"action": "select_top", "count": "20"}, follow=True)
    assert "only 3 were there, not 20" in response.content.decode()


def bad_merge(locale, case):
    """The terms and target of a merge the rules refuse, and the field that says why."""
    sad, sadness, calm = (locale.terms.get(key=key) for key in ("sad", "sadness", "calm"))
    if case == "term of another locale":
        other = elicitation_study(songs=1).locales.get()
        foreign = Term.objects.create(locale=other, key="x", label_en="x")
        return [sad.pk, foreign.pk], None, "terms", f"not among them: {foreign.pk}"
    if case == "target not among the merged":
        return [sad.pk, sadness.pk], calm.pk, "into", "Merge into one of the terms merged."
    if case == "excluded target":
        term_set_excluded(term=calm, excluded=True)
        return [sad.pk, calm.pk], calm.pk, "into", "“calm” is excluded"
    if case == "frozen locale":
        locale.terms_frozen_at = timezone.now()
        locale.save()
        return [sad.pk, sadness.pk], None, "terms", "frozen"
    raise AssertionError(case)


BAD_MERGES = [
    "term of another locale",
    "target not among the merged",
    "excluded target",
    "frozen locale",
]


@pytest.mark.parametrize("case", BAD_MERGES)
def test_a_bad_merge_is_refused_alike_by_the_api_and_the_curation_page(
    api_client, client, locale, case
):
    terms_recompute(locale=locale)
    term_ids, into, field, message = bad_merge(locale, case)
    before = sorted(locale.terms.values_list("key", flat=True))
    user = UserFactory(is_superuser=True)
    api_client.force_authenticate(user)
    body = {"terms": term_ids} | ({"into": into} if into else {})
    answer = api_client.post(
        TERMS_URL.format(slug=locale.study.slug, code=locale.code) + "merge/", body, format="json"
    )
    assert answer.status_code == 400
    [error] = answer.json()["error"]["fields"][field]
    assert message in error

    client.force_login(user)
    form = {"action": "merge", "term": term_ids} | ({"into": into} if into else {})
    page = client.post(curate_url(locale), form, follow=True).content.decode()
    assert message in page and "”: score" not in page
    assert sorted(locale.terms.values_list("key", flat=True)) == before


def test_the_admin_list_merges_through_the_same_checks(client, locale):
    terms_recompute(locale=locale)
    calm, sad = locale.terms.get(key="calm"), locale.terms.get(key="sad")
    term_set_excluded(term=sad, excluded=True)
    other = elicitation_study(songs=1).locales.get()
    foreign = Term.objects.create(locale=other, key="x", label_en="x")
    client.force_login(UserFactory(is_superuser=True))

    def merge(*terms):
        form = {"action": "merge_selected", "_selected_action": [term.pk for term in terms]}
        return client.post("/admin/elicitation/curationterm/", form, follow=True)

    page = merge(calm, foreign).content.decode()
    assert f"not among them: {foreign.pk}" in page
    assert Term.objects.filter(pk=foreign.pk).exists() and locale.terms.filter(key="calm").exists()
    page = merge(calm, sad).content.decode()  # into the best scored that is not excluded
    assert "Merged sad into “calm”" in page
    aliases = locale.terms.get(key="calm").aliases.order_by("key")
    assert list(aliases.values_list("key", flat=True)) == ["calm", "sad"]


def test_one_api_edit_applies_every_change_or_none(api_client, locale):
    terms_recompute(locale=locale)
    sad = locale.terms.get(key="sad")
    api_client.force_authenticate(UserFactory(is_superuser=True))
    url = TERMS_URL.format(slug=locale.study.slug, code=locale.code) + f"{sad.pk}/"
    answer = api_client.patch(url, {"gloss": "sorrowful", "is_excluded": True, "is_selected": True})
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"] == {
        "is_selected": ["An excluded term cannot be selected."]
    }
    sad.refresh_from_db()
    assert (sad.label_en, sad.is_excluded, sad.is_selected) == ("sad", False, False)
