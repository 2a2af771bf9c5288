"""Every route × every role: who may reach what.

Participants reach only their own session, researchers only their own studies (object level),
anonymous users only what a researcher published. Each URL pattern of the project must be
classified below: a new route that is not fails `test_every_route_is_classified` until
someone decides who may call it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from analysis.crosscultural.models import CrossCulturalAnalysis
from analysis.services.tokens import api_token_create
from moodlab.studies.admin_scoping import StudyScopedAdmin
from moodlab.studies.services.prescreens import prescreen_audio_url
from tests.security.conftest import World

ROLES = (
    "anonymous",
    "participant_a",
    "participant_b",
    "researcher_x",
    "viewer_x",
    "researcher_y",
    "superuser",
)
DENIED = {401, 403, 404, 405}
# Researchers of study X with only view_* permissions: they read what researcher X reads,
# and every write refuses them, as the admin does.
VIEW_ONLY = {"viewer_x"}
SAFE_METHODS = {"get", "head", "options"}
RESEARCHER_KINDS = {"researcher_listing", "researcher_of_study", "unpublished_data"}

# Who may pass, by kind of route; "own" is participant A, whose objects the probes name.
ALLOWED = {
    "public": set(ROLES),
    "participant_session": {"participant_a", "participant_b"},  # the token picks the session
    "researcher_listing": {"researcher_x", "viewer_x", "researcher_y", "superuser"},
    "participant_object": {"participant_a"},
    "researcher_of_study": {"researcher_x", "viewer_x", "superuser"},
    "unpublished_data": {"researcher_x", "viewer_x", "superuser"},
    "published_data": set(ROLES),
    "forged_signature": set(),  # a signed URL nobody signed: refused to everyone alike
    "browser_session": set(),  # only the session cookie opens it, no API credential
    "token_owner": {"researcher_x"},  # a user's own API token (any signed-in user has some)
    # What any signed-in user does for themselves (their own API tokens): no study permission
    # is involved, so a view-only researcher may too.
    "signed_in_user": {"researcher_x", "viewer_x", "researcher_y", "superuser"},
}


@dataclass(frozen=True)
class Probe:
    kind: str
    method: str
    url: Callable[[World], str]
    data: dict | None = None
    phase: str = "rating"  # which of A's and B's sessions the participant roles use
    format: str = "json"


def terms_url(world: World, suffix: str = "") -> str:
    return f"/api/v1/elicitation/studies/{world.x.slug}/locales/en-US/terms/{suffix}"


def a_term(world: World) -> int:
    return world.x.locales.get().terms.first().pk


def snapshot_url(snapshot_attr: str, suffix: str = "") -> Callable[[World], str]:
    def url(world: World) -> str:
        snapshot = getattr(world, snapshot_attr)
        return f"/api/v1/data/studies/{world.x.slug}/snapshots/{snapshot.version}/{suffix}"

    return url


def figure_url(world: World) -> str:
    """A figure of X's run; its stand-in results get the one key that figure draws from."""
    CrossCulturalAnalysis.objects.filter(pk=world.analysis_x.pk).update(
        results={"marker": "x", "equivalent_terms": []}
    )
    return f"/api/v1/analyses/{world.analysis_x.pk}/figures/equivalent-terms.svg"


def own_token_url(world: World) -> str:
    token, _key = api_token_create(user=world.researcher_x, name="matrix")
    return f"/api/v1/data/tokens/{token.pk}/"


# Mutating probes send an empty or invalid body: an allowed role gets a 4xx from validation
# (so nothing changes), a refused role must be stopped before validation.
API_ROUTES: dict[str, list[Probe]] = {
    "healthz": [Probe("public", "get", lambda w: "/healthz")],
    "schema": [Probe("public", "get", lambda w: "/api/schema/")],
    "api-docs": [Probe("public", "get", lambda w: "/api/docs/")],
    "v1:participant-enter": [Probe("public", "post", lambda w: "/api/v1/participants/", {})],
    "v1:participant-state": [
        Probe("participant_session", "get", lambda w: "/api/v1/participants/me/")
    ],
    "v1:participant-consent": [
        Probe("participant_session", "post", lambda w: "/api/v1/participants/me/consent/", {})
    ],
    "v1:participant-volume": [
        Probe("participant_session", "post", lambda w: "/api/v1/participants/me/volume/", {})
    ],
    "v1:participant-headphones": [
        Probe("participant_session", "post", lambda w: "/api/v1/participants/me/headphones/", {})
    ],
    "v1:participant-vocabulary": [
        Probe("participant_session", "post", lambda w: "/api/v1/participants/me/vocabulary/", {})
    ],
    "v1:participant-questionnaire": [
        Probe("participant_session", "post", lambda w: "/api/v1/participants/me/questionnaire/", {})
    ],
    # A prescreen sound by signed, expiring link: <audio> elements cannot send a token.
    "v1:participant-prescreen-audio": [
        Probe("forged_signature", "get", lambda w: "/api/v1/participants/audio/forged:sig/"),
        Probe(
            "public",
            "get",
            lambda w: prescreen_audio_url(participant=w.participant_a, kind="volume"),
        ),
    ],
    # Song audio by signed, expiring link, or a content name a study publishes (issue 16.15).
    "signed-audio": [Probe("forged_signature", "get", lambda w: "/audio/forged:sig")],
    "public-audio": [Probe("forged_signature", "get", lambda w: "/audio/public/" + "0" * 64)],
    # The participant pages: the entry link is public; the session page serves only the
    # browser holding the session cookie (see test_the_session_page_opens_only_for_its_browser).
    "participant-entry": [
        Probe("public", "get", lambda w: f"/study/{w.x.slug}/en-US/?PROLIFIC_PID=matrix")
    ],
    "participant-session": [
        Probe("browser_session", "get", lambda w: f"/study/{w.x.slug}/en-US/session/")
    ],
    "v1:study-list": [Probe("researcher_listing", "get", lambda w: "/api/v1/studies/")],
    "v1:study-detail": [
        Probe("researcher_of_study", "get", lambda w: f"/api/v1/studies/{w.x.slug}/")
    ],
    "v1:study-phase": [
        Probe(
            "researcher_of_study",
            "get",
            lambda w: f"/api/v1/studies/{w.x.slug}/phase/?phase=closed",
        ),
        # An unknown phase: those allowed get a 400 and nothing moves.
        Probe(
            "researcher_of_study",
            "post",
            lambda w: f"/api/v1/studies/{w.x.slug}/phase/",
            {"phase": "finished"},
        ),
    ],
    "v1:song-list": [
        Probe("researcher_of_study", "get", lambda w: f"/api/v1/studies/{w.x.slug}/songs/")
    ],
    "v1:elicitation-turn": [
        Probe("participant_session", "get", lambda w: "/api/v1/elicitation/turn/", None, "tags")
    ],
    "v1:elicitation-turn-submit": [
        Probe(
            "participant_session",
            "post",
            lambda w: "/api/v1/elicitation/turn/submit/",
            {"turn": 0, "ratings": {}, "new_tags": [], "audio_played_seconds": 1},
            "tags",
        )
    ],
    "v1:elicitation-turn-audio-failed": [
        Probe(
            "participant_session",
            "post",
            lambda w: "/api/v1/elicitation/turn/audio-failed/",
            {"turn": 0},
            "tags",
        )
    ],
    "v1:elicitation-tags": [
        Probe(
            "participant_session",
            "get",
            lambda w: "/api/v1/elicitation/tags/?prefix=ca",
            None,
            "tags",
        )
    ],
    "v1:curation-terms": [Probe("researcher_of_study", "get", terms_url)],
    "v1:curation-recompute": [
        Probe("researcher_of_study", "post", lambda w: terms_url(w, "recompute/"), {"x": 1})
    ],
    "v1:curation-select-top": [
        Probe("researcher_of_study", "post", lambda w: terms_url(w, "select-top/"), {"n": "x"})
    ],
    "v1:curation-merge": [
        Probe("researcher_of_study", "post", lambda w: terms_url(w, "merge/"), {"terms": [0, 0]})
    ],
    "v1:curation-term": [
        Probe("researcher_of_study", "patch", lambda w: terms_url(w, f"{a_term(w)}/"), {"x": 1})
    ],
    "v1:curation-split": [
        Probe("researcher_of_study", "post", lambda w: terms_url(w, f"{a_term(w)}/split/"), {})
    ],
    "v1:snapshot-list": [
        Probe("published_data", "get", lambda w: f"/api/v1/data/studies/{w.x.slug}/snapshots/"),
    ],
    "v1:snapshot-detail": [
        Probe("published_data", "get", snapshot_url("published_x")),
        Probe("unpublished_data", "get", snapshot_url("unpublished_x")),
    ],
    "v1:snapshot-file": [
        Probe("published_data", "get", snapshot_url("published_x", "files/manifest.json")),
        Probe("unpublished_data", "get", snapshot_url("unpublished_x", "files/manifest.json")),
    ],
    "v1:mean-rating-list": [
        Probe("unpublished_data", "get", lambda w: f"/api/v1/data/studies/{w.x.slug}/mean-ratings/")
    ],
    "v1:crosscultural-analysis-list": [
        # Study X has a published snapshot: anyone lists the runs on snapshots they may read
        # (none here; the live-ratings run stays hidden, tests/analysis/test_data_users.py).
        Probe("published_data", "get", lambda w: f"/api/v1/studies/{w.x.slug}/analyses/"),
        Probe(
            "researcher_of_study",
            "post",
            lambda w: f"/api/v1/studies/{w.x.slug}/analyses/",
            {"params": "not an object"},
        ),
    ],
    "v1:crosscultural-analysis-detail": [
        Probe("researcher_of_study", "get", lambda w: f"/api/v1/analyses/{w.analysis_x.pk}/")
    ],
    "v1:crosscultural-analysis-figure": [Probe("researcher_of_study", "get", figure_url)],
    "v1:catalogue": [Probe("public", "get", lambda w: "/api/v1/data/snapshots/")],
    "v1:snapshot-croissant": [
        Probe("published_data", "get", snapshot_url("published_x", "croissant")),
        Probe("unpublished_data", "get", snapshot_url("unpublished_x", "croissant")),
    ],
    # Any signed-in user's own tokens: participants and anonymous callers have none.
    "v1:api-token-list": [
        Probe("signed_in_user", "get", lambda w: "/api/v1/data/tokens/"),
        Probe("signed_in_user", "post", lambda w: "/api/v1/data/tokens/", {"name": ""}),
    ],
    "v1:api-token-revoke": [Probe("token_owner", "delete", own_token_url)],
    # The data users' pages: public, except the token page, which only a browser session
    # opens (API credentials get the log-in redirect; tests/analysis/test_data_users.py).
    "data-catalogue": [Probe("public", "get", lambda w: "/data/")],
    "data-sign-up": [Probe("public", "get", lambda w: "/data/sign-up/")],
    "data-login": [Probe("public", "get", lambda w: "/data/login/")],
    "data-logout": [Probe("public", "post", lambda w: "/data/logout/")],
    "data-tokens": [],
    "v1:crosscultural-prediction-set-list": [
        Probe("researcher_of_study", "get", lambda w: f"/api/v1/studies/{w.x.slug}/predictions/"),
        Probe(
            "researcher_of_study",
            "post",
            lambda w: f"/api/v1/studies/{w.x.slug}/predictions/",
            {"name": ""},
            format="multipart",
        ),
    ],
    "v1:rating-trial-current": [
        Probe("participant_session", "get", lambda w: "/api/v1/rating/trial/")
    ],
    "v1:rating-trial-submit": [
        Probe(
            "participant_object",
            "post",
            lambda w: f"/api/v1/rating/trials/{w.trial_a.pk}/submit/",
            {"ratings": {"999999999": 3}, "audio_played_seconds": 1},
        )
    ],
    "v1:rating-trial-audio-failed": [
        Probe(
            "participant_object",
            "post",
            lambda w: f"/api/v1/rating/trials/{w.trial_a.pk}/audio-failed/",
        )
    ],
    "v1:rating-finish": [Probe("participant_session", "post", lambda w: "/api/v1/rating/finish/")],
}

PUBLIC_WITHOUT_NAME: set[str] = set()


def walk(patterns: list, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    """(route, namespaced name) of every URL pattern, nested includes resolved."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else ""
            yield prefix + str(pattern.pattern), name


def client_as(world: World, role: str, phase: str = "rating") -> APIClient:
    client = APIClient()
    a, b = (
        (world.participant_a, world.participant_b)
        if phase == "rating"
        else (world.elicitation_a, world.elicitation_b)
    )
    credentials = {
        "participant_a": f"Participant {a.token}",
        "participant_b": f"Participant {b.token}",
        "researcher_x": world.token(world.researcher_x),
        "researcher_y": world.token(world.researcher_y),
        "viewer_x": world.token(world.viewer_x),
        "superuser": world.token(world.superuser),
    }
    if role in credentials:
        client.credentials(HTTP_AUTHORIZATION=credentials[role])
    return client


def test_every_route_is_classified():
    routes = list(walk(get_resolver().url_patterns))
    unclassified = [
        route
        for route, name in routes
        if not route.startswith("admin/")
        and name not in API_ROUTES
        and route not in PUBLIC_WITHOUT_NAME
    ]
    assert not unclassified, f"classify these routes in API_ROUTES: {unclassified}"
    admin_names = {name for route, name in routes if route.startswith("admin/") and name}
    unclassified_admin = sorted(
        name
        for name in admin_names
        if name not in ADMIN_SITE_VIEWS
        and name not in ADMIN_CUSTOM_VIEWS
        and not name.endswith(MODEL_ADMIN_SUFFIXES)
    )
    assert not unclassified_admin, f"classify these admin views: {unclassified_admin}"
    stale = set(API_ROUTES) - {name for _route, name in routes}
    assert not stale, f"API_ROUTES names routes that no longer exist: {stale}"


def test_every_api_route_answers_only_the_roles_it_is_for(world, settings):
    settings.CELERY_BROKER_URL = ""  # /healthz in-process mode: 200 when the database answers
    wrong = []
    for name, probes in API_ROUTES.items():
        for probe in probes:
            url = probe.url(world)
            for role in ROLES:
                client = client_as(world, role, probe.phase)
                response = getattr(client, probe.method)(url, probe.data, format=probe.format)
                allowed = role in ALLOWED[probe.kind] and not (
                    role in VIEW_ONLY
                    and probe.kind in RESEARCHER_KINDS
                    and probe.method not in SAFE_METHODS
                )
                if response.status_code >= 500 or (allowed == (response.status_code in DENIED)):
                    wrong.append(
                        f"{role} {probe.method.upper()} {url} ({name}): {response.status_code}, "
                        f"expected {'access' if allowed else 'refusal'}: {response.content[:200]}"
                    )
    assert not wrong, "\n".join(wrong)


WRITE_METHODS = ("post", "put", "patch", "delete")


def test_every_write_route_of_the_api_is_probed(world):
    """Each write method of each API view has a probe above, so the matrix (with its view-only
    researcher) checks it; a new write route fails here until someone adds one."""
    missing, writes = [], []
    for pattern in _api_patterns(get_resolver().url_patterns):
        view = getattr(pattern.callback, "cls", None) or getattr(
            pattern.callback, "view_class", None
        )
        if view is None:
            continue
        name = f"v1:{pattern.name}"
        probed = {probe.method for probe in API_ROUTES.get(name, [])}
        writes += [(name, method) for method in WRITE_METHODS if hasattr(view, method)]
        missing += [
            f"{method.upper()} {name}"
            for method in WRITE_METHODS
            if hasattr(view, method) and method not in probed
        ]
    assert ("v1:curation-term", "patch") in writes  # the walk sees the researchers' writes
    assert ("v1:crosscultural-prediction-set-list", "post") in writes
    assert not missing, f"add a Probe for each: {missing}"


def _api_patterns(patterns: list) -> Iterator[URLPattern]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "v1" or str(pattern.pattern).startswith("api/v1"):
                yield from _all_patterns(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            continue


def _all_patterns(patterns: list) -> Iterator[URLPattern]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _all_patterns(pattern.url_patterns)
        else:
            yield pattern


def test_a_view_only_researcher_cannot_rename_or_exclude_a_term(world):
    term = world.x.locales.get().terms.first()
    url = terms_url(world, f"{term.pk}/")
    refused = client_as(world, "viewer_x").patch(
        url, {"label": "renamed", "is_excluded": True}, format="json"
    )
    assert refused.status_code == 403
    term.refresh_from_db()
    assert term.label != "renamed" and not term.is_excluded
    assert client_as(world, "viewer_x").get(terms_url(world)).status_code == 200


def test_a_view_only_researcher_cannot_curate_in_the_admin_either(world):
    terms = list(world.x.locales.get().terms.order_by("pk")[:2])
    viewer = admin_client(world, "viewer_x")
    changelist = reverse("admin:elicitation_curationterm_changelist")
    viewer.post(
        changelist,
        {"action": "merge_selected", "_selected_action": [t.pk for t in terms]},
    )
    assert all(type(t).objects.filter(pk=t.pk).exists() for t in terms)
    assert world.x.locales.get().terms.filter(pk__in=[t.pk for t in terms]).count() == 2
    recompute = reverse("admin:elicitation_curationterm_recompute", args=[world.x.locales.get().pk])
    assert viewer.post(recompute).status_code == 403


def test_a_participant_session_shows_only_its_own_trial(world):
    own = client_as(world, "participant_a").get("/api/v1/rating/trial/").json()
    other = client_as(world, "participant_b").get("/api/v1/rating/trial/").json()
    assert own["trial"]["id"] == world.trial_a.pk
    assert other["trial"]["id"] != world.trial_a.pk


def test_the_session_page_opens_only_for_its_browser(world):
    browser = Client()
    entered = browser.get(f"/study/{world.x.slug}/en-US/?PROLIFIC_PID=browser-1", follow=True)
    assert entered.status_code == 200
    assert browser.get(f"/study/{world.x.slug}/en-US/session/").status_code == 200
    assert browser.get(f"/study/{world.y.slug}/en-US/session/").status_code == 403
    assert Client().get(f"/study/{world.x.slug}/en-US/session/").status_code == 403


def test_lists_show_a_researcher_only_their_own_studies(world):
    listed = client_as(world, "researcher_y").get("/api/v1/studies/").json()["results"]
    assert [study["slug"] for study in listed] == [world.y.slug]
    everything = client_as(world, "superuser").get("/api/v1/studies/").json()["results"]
    assert {study["slug"] for study in everything} >= {world.x.slug, world.y.slug}


def test_anonymous_users_see_only_published_snapshots(world):
    def versions(role: str, study: object) -> list[int]:
        response = client_as(world, role).get(f"/api/v1/data/studies/{study.slug}/snapshots/")
        return (
            [s["version"] for s in response.json()["results"]]
            if response.status_code == 200
            else []
        )

    assert versions("anonymous", world.x) == [world.published_x.version]
    assert versions("researcher_y", world.x) == [world.published_x.version]
    assert versions("researcher_x", world.x) == [
        world.unpublished_x.version,
        world.published_x.version,
    ]
    assert versions("anonymous", world.y) == []
    assert versions("researcher_x", world.y) == []


# --- the admin ---------------------------------------------------------------------------

MODEL_ADMIN_SUFFIXES = ("_changelist", "_add", "_history", "_delete", "_change")
ADMIN_SITE_VIEWS = {
    "admin:index",
    "admin:login",
    "admin:logout",
    "admin:password_change",
    "admin:password_change_done",
    "admin:autocomplete",
    "admin:jsi18n",
    "admin:view_on_site",
    "admin:app_list",
    "admin:auth_user_password_change",  # superusers only: auth's admin checks change_user
}
# Custom admin views: how to call each on study X's objects (None: a listing of one's own).
ADMIN_CUSTOM_VIEWS: dict[str, Callable[[World], tuple[str, str]]] = {
    "admin:studies_song_import": lambda w: ("get", reverse("admin:studies_song_import")),
    "admin:elicitation_curationterm_recompute": lambda w: (
        "post",
        reverse("admin:elicitation_curationterm_recompute", args=[w.x.locales.get().pk]),
    ),
    "admin:rating_progress_index": lambda w: ("get", reverse("admin:rating_progress_index")),
    "admin:studies_term_import": lambda w: ("get", reverse("admin:studies_term_import")),
    "admin:elicitation_chain_export": lambda w: ("get", reverse("admin:elicitation_chain_export")),
    "admin:studies_study_phase": lambda w: (
        "get",
        reverse("admin:studies_study_phase", args=[w.x.pk, "closed"]),
    ),
    "admin:studies_study_dashboard": lambda w: (
        "get",
        reverse("admin:studies_study_dashboard", args=[w.x.pk]),
    ),
    "admin:studies_study_dashboard_data": lambda w: (
        "get",
        reverse("admin:studies_study_dashboard_data", args=[w.x.pk]),
    ),
    "admin:elicitation_curationterm_study": lambda w: (
        "get",
        reverse("admin:elicitation_curationterm_study", args=[w.x.pk]),
    ),
    "admin:rating_progress": lambda w: ("get", reverse("admin:rating_progress", args=[w.x.pk])),
    "admin:crosscultural_analysis_run": lambda w: (
        "get",
        reverse("admin:crosscultural_analysis_run"),
    ),
    "admin:crosscultural_analysis_report": lambda w: (
        "get",
        reverse("admin:crosscultural_analysis_report", args=[w.x.slug]),
    ),
    "admin:crosscultural_analysis_figure": lambda w: (
        "get",
        reverse("admin:crosscultural_analysis_figure", args=[w.analysis_x.pk, "nope", "png"]),
    ),
    "admin:crosscultural_analysis_json": lambda w: (
        "get",
        reverse("admin:crosscultural_analysis_json", args=[w.analysis_x.pk]),
    ),
    "admin:crosscultural_predictionset_upload": lambda w: (
        "get",
        reverse("admin:crosscultural_predictionset_upload"),
    ),
}
# Views whose URL names no object of study X: every researcher may open them.
ADMIN_CUSTOM_LISTINGS = {
    "admin:studies_song_import",
    "admin:studies_term_import",
    "admin:elicitation_chain_export",
    "admin:rating_progress_index",
    "admin:crosscultural_analysis_run",
    "admin:crosscultural_predictionset_upload",
}
# figure_view answers 404 to everyone for an unknown figure: it shows only that the view is
# scoped (researcher Y must get the same 404 as for anything else), not that X may pass.
ADMIN_DENY_ONLY = {"admin:crosscultural_analysis_figure"}


def admin_client(world: World, role: str) -> Client:
    client = Client()
    user = {
        "researcher_x": world.researcher_x,
        "viewer_x": world.viewer_x,
        "researcher_y": world.researcher_y,
        "superuser": world.superuser,
    }.get(role)
    if user is not None:
        client.force_login(user)
    return client


def change_url(model_admin: admin.ModelAdmin, obj: object, view: str = "change") -> str:
    opts = model_admin.model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])


def object_of(model_admin: StudyScopedAdmin, study: object) -> object:
    rows = model_admin.model._default_manager.all()
    lookup = "pk" if model_admin.study_path == "" else model_admin.study_path
    obj = rows.filter(**{lookup: study.pk}).order_by("pk").first()
    assert obj is not None, (
        f"the world has no {model_admin.model.__name__} of {study}: add one in "
        "tests/security/conftest.py so its admin is checked"
    )
    return obj


def test_every_admin_is_scoped_to_the_researchers_studies_or_kept_for_superusers(world):
    clients = {role: admin_client(world, role) for role in ROLES}
    wrong = []

    def expect(role: str, url: str, ok: bool) -> None:
        status = clients[role].get(url).status_code
        if status >= 500 or (status == 200) != ok:
            wrong.append(f"{role} GET {url}: {status}, expected {'200' if ok else 'no page'}")

    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        expect("anonymous", changelist, ok=False)
        expect("superuser", changelist, ok=True)
        if not isinstance(model_admin, StudyScopedAdmin):
            # Users, tokens, lockouts, schedules, task results: superusers only.
            expect("researcher_x", changelist, ok=False)
            continue
        own, other = object_of(model_admin, world.x), object_of(model_admin, world.y)
        page = clients["researcher_x"].get(changelist)
        if page.status_code != 200:
            wrong.append(f"researcher_x GET {changelist}: {page.status_code}")
        elif change_url(model_admin, other) in page.content.decode():
            wrong.append(f"{changelist} lists study Y's {opts.model_name} to researcher X")
        for view in ("change", "history"):
            expect("researcher_x", change_url(model_admin, own, view), ok=True)
            expect("researcher_x", change_url(model_admin, other, view), ok=False)
            expect("superuser", change_url(model_admin, other, view), ok=True)
        if model_admin.has_delete_permission(_request_of(world.researcher_x)):
            expect("researcher_x", change_url(model_admin, other, "delete"), ok=False)
    assert not wrong, "\n".join(wrong)


def _request_of(user: object) -> object:
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.mark.parametrize("name", sorted(ADMIN_CUSTOM_VIEWS))
def test_custom_admin_views_refuse_other_studies(world, name):
    method, url = ADMIN_CUSTOM_VIEWS[name](world)
    statuses = {
        role: getattr(admin_client(world, role), method)(url).status_code
        for role in ("anonymous", "researcher_x", "researcher_y", "superuser")
    }
    assert statuses["anonymous"] == 302  # to the login page
    assert max(statuses.values()) < 500, statuses
    if name in ADMIN_CUSTOM_LISTINGS:
        assert statuses["researcher_y"] in (200, 302), statuses
        return
    assert statuses["researcher_y"] in (403, 404), statuses
    if name not in ADMIN_DENY_ONLY:
        assert statuses["researcher_x"] in (200, 302), statuses
        assert statuses["superuser"] in (200, 302), statuses


def test_the_custom_listings_show_only_ones_own_studies(world):
    page = admin_client(world, "researcher_y").get(reverse("admin:rating_progress_index"))
    assert world.y.title in page.content.decode()
    assert world.x.title not in page.content.decode()
