"""The data users' pages under /data/: the catalogue of published snapshots, sign-up, log-in
and API token management. Server-rendered, English, no script; the same services and
serializers as the API."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView, LogoutView
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse, reverse_lazy
from django.views.decorators.http import require_http_methods
from rest_framework.request import Request
from rest_framework.views import APIView

from analysis.api.filters import CatalogueFilter
from analysis.api.serializers import CatalogueSnapshotOutputSerializer
from analysis.models import ApiToken
from analysis.selectors import published_snapshots
from analysis.services.tokens import api_token_create, api_token_revoke, data_user_sign_up
from moodlab.errors import Invalid, NotFound
from moodlab.studies.api.throttles import AddressThrottle

PAGE_SIZE = 20


class SignUpThrottle(AddressThrottle):
    scope = "data_sign_up"


def catalogue(request: HttpRequest) -> HttpResponse:
    """The API's catalogue (GET /api/v1/data/snapshots/) as a page: same filters, same entries."""
    filters = CatalogueFilter(request.GET, queryset=published_snapshots())
    snapshots = filters.qs if filters.is_valid() else published_snapshots().none()
    page = Paginator(snapshots, PAGE_SIZE).get_page(request.GET.get("page"))
    entries = CatalogueSnapshotOutputSerializer(
        page.object_list, many=True, context={"request": request}
    ).data
    query = request.GET.copy()
    query.pop("page", None)
    return TemplateResponse(
        request,
        "data/catalogue.html",
        {
            "filters": filters,
            "entries": entries,
            "page": page,
            "query": query.urlencode(),
            "api_url": request.build_absolute_uri(reverse("v1:catalogue")),
        },
    )


class SignUpForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField()
    password = forms.CharField(widget=forms.PasswordInput, strip=False)


@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    form = SignUpForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not SignUpThrottle().allow_request(Request(request), APIView()):
            form.add_error(None, "Too many sign-ups from your address; try again in an hour.")
            status = 429
        elif form.is_valid():
            try:
                user = data_user_sign_up(**form.cleaned_data)
            except Invalid as refused:
                for field, messages in refused.fields.items():
                    for message in messages:
                        form.add_error(field if field in form.fields else None, message)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect("data-tokens")
        if status == 200 and form.errors:
            status = 400
    return TemplateResponse(request, "data/sign_up.html", {"form": form}, status=status)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="e.g. the machine or project that uses it")


_NEW_KEY = "moodlab_new_api_key"


@login_required(login_url=reverse_lazy("data-login"))
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """Create a token or revoke one. A new key goes through the session to the page the
    POST redirects to, which shows it once and drops it: a reload neither repeats the POST
    nor shows the key again."""
    user = cast(User, request.user)  # login_required let only a user through
    form = TokenForm()
    if request.method == "POST" and "revoke" in request.POST:
        try:
            api_token_revoke(user=user, token_id=int(request.POST["revoke"]))
        except (ValueError, NotFound):
            raise Http404 from None
        return redirect("data-tokens")
    if request.method == "POST":
        form = TokenForm(request.POST)
        if form.is_valid():
            try:
                _token, key = api_token_create(user=user, name=form.cleaned_data["name"])
            except Invalid as refused:
                form.add_error("name", refused.fields.get("name", refused.messages))
            else:
                request.session[_NEW_KEY] = key
                return redirect("data-tokens")
    context: dict[str, Any] = {
        "form": form,
        "new_key": request.session.pop(_NEW_KEY, ""),
        "tokens": ApiToken.objects.filter(user=user),
    }
    response = TemplateResponse(
        request, "data/tokens.html", context, status=400 if form.errors else 200
    )
    response["Cache-Control"] = "no-store"  # a shown key must not sit in a cache
    return response


urlpatterns = [
    path("", catalogue, name="data-catalogue"),
    path("sign-up/", sign_up, name="data-sign-up"),
    path(
        "login/",
        LoginView.as_view(template_name="data/login.html", next_page=reverse_lazy("data-tokens")),
        name="data-login",
    ),
    path(
        "logout/", LogoutView.as_view(next_page=reverse_lazy("data-catalogue")), name="data-logout"
    ),
    path("tokens/", tokens, name="data-tokens"),
]
