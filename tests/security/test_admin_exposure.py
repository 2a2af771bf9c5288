"""The admin answers only what a researcher may see: no filter a page does not declare (a
secret's oracle), and no choice, filter or list naming other studies or every account."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from analysis.models import SnapshotAccessGrant
from moodlab.studies.services.studies import study_add_locale
from tests.factories import UserFactory
from tests.security.conftest import World

PARTICIPANTS = "/admin/studies/participant/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "query",
    [
        "token__regex=^.",
        "token_hash__regex=^a",
        "token_hash__startswith=a",
        "recruiter_identity__recruiter_participant_id__startswith=PANEL",
        "user_agent__contains=Mozilla",
        "study__title__startswith=s",
        "study__researchers__password__startswith=pbkdf2",
    ],
)
def test_a_changelist_refuses_lookups_it_does_not_declare(world: World, query):
    response = logged_in(world.superuser).get(f"{PARTICIPANTS}?{query}")
    assert response.status_code == 400, (response.status_code, response.get("Location"))
    assert b"1 participant" not in response.content and b"0 participants" not in response.content


def test_declared_filters_still_filter(world: World):
    superuser = logged_in(world.superuser)
    for query in (
        f"study__id__exact={world.x.pk}",
        "status__exact=started",
        "locale__code=en-US",
        "phase__exact=rating",
    ):
        assert superuser.get(f"{PARTICIPANTS}?{query}").status_code == 200, query
    songs = reverse("admin:studies_song_changelist")
    assert superuser.get(f"{songs}?study__id__exact={world.x.pk}").status_code == 200


def test_the_participant_admin_never_shows_or_searches_the_token(world: World):
    superuser = logged_in(world.superuser)
    change = reverse("admin:studies_participant_change", args=[world.participant_a.pk])
    page = superuser.get(change).content.decode()
    assert world.participant_a.token_hash not in page
    listing = superuser.get(f"{PARTICIPANTS}?q={world.participant_a.token_hash[:12]}")
    assert world.participant_a.token_hash not in listing.content.decode()
    assert "0 participants" in listing.content.decode()


def test_filters_list_only_the_researchers_own_studies_and_locales(world: World):
    study_add_locale(study=world.y, code="de-AT")
    client = logged_in(world.researcher_x)
    for url in (
        PARTICIPANTS,
        reverse("admin:studies_song_changelist"),
        reverse("admin:studies_term_changelist"),
        reverse("admin:analysis_snapshot_changelist"),
        reverse("admin:rating_trial_changelist"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert f"study__id__exact={world.y.pk}" not in page, url
        assert world.y.title not in page, url
        assert "de-AT" not in page, url


def test_the_access_grant_form_lists_no_usernames(world: World):
    client = logged_in(world.researcher_x)
    add = reverse("admin:analysis_snapshotaccessgrant_add")
    page = client.get(add).content.decode()
    for username in ("researcher-y", "root", "reader-study-y"):
        assert username not in page
    UserFactory(username="a-data-user")
    created = client.post(add, {"study": world.x.pk, "user": "a-data-user", "note": ""})
    assert created.status_code == 302, created.content[:2000]
    assert SnapshotAccessGrant.objects.filter(study=world.x, user__username="a-data-user").exists()
    other_study = client.post(add, {"study": world.y.pk, "user": "a-data-user", "note": ""})
    assert other_study.status_code == 200  # the form refuses study Y: not a choice
    assert not SnapshotAccessGrant.objects.filter(study=world.y, user__username="a-data-user")


def test_the_study_form_offers_only_co_researchers(world: World):
    page = logged_in(world.researcher_x).get(
        reverse("admin:studies_study_change", args=[world.x.pk])
    )
    content = page.content.decode()
    assert "researcher-x" in content
    assert "researcher-y" not in content and ">root<" not in content
