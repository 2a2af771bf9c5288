"""Researchers see only their own studies' data in the admin; every app's admin uses this.

Scoping covers the rows, and everything else a page could list or answer: the changelist's
filters (their choices and the lookups they accept) and the choices of every form field.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest

from moodlab.studies.models import Study
from moodlab.studies.selectors import studies_visible_to

# What the declared filters' own links put after a field path (`study__id__exact`,
# `status__exact`, `started_at__gte`, `…__isnull`); anything else is a lookup no filter
# offers, such as `token_hash__regex` or `study__title__startswith`.
FILTER_LOOKUP_PARTS = frozenset(
    {"exact", "isnull", "id", "pk", "in", "gte", "gt", "lt", "lte", "year", "month", "day"}
)


def scoped_to_studies(queryset: QuerySet[Any], studies: QuerySet[Study]) -> QuerySet[Any]:
    """Rows of any study-owned model (through `study` or `locale`) among these studies."""
    model = queryset.model
    if model is Study:
        return queryset.filter(pk__in=studies)
    for path in ("study", "locale__study"):
        try:
            _resolve(model, path)
        except FieldDoesNotExist:
            continue
        return queryset.filter(**{f"{path}__in": studies})
    return queryset


def _resolve(model: type[Model], path: str) -> Any:
    field = None
    for part in path.split(LOOKUP_SEP):
        field = model._meta.get_field(part)
        if field.is_relation and field.related_model is not None:
            model = field.related_model
    return field


class ScopedAllValuesFieldListFilter(admin.AllValuesFieldListFilter):
    """Values only from the rows the user may see; Django's lists a related model's values
    across every study (`locale__code`: other studies' locales)."""

    def __init__(
        self,
        field: Any,
        request: HttpRequest,
        params: Any,
        model: Any,
        model_admin: Any,
        field_path: str,
    ) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = (
            model_admin.get_queryset(request)
            .exclude(**{f"{field_path}__isnull": True})
            .order_by(field_path)
            .values_list(field_path, flat=True)
            .distinct()
        )


# Django's own choice, per field, of the filter for a field path named in list_filter.
_SCOPED_FILTERS = {
    admin.RelatedFieldListFilter: admin.RelatedOnlyFieldListFilter,
    admin.AllValuesFieldListFilter: ScopedAllValuesFieldListFilter,
}


def _scoped_filter(model: type[Model], item: Any) -> Any:
    if not isinstance(item, str):
        return item
    field = _resolve(model, item)
    registry: list[tuple[Any, Any]] = admin.FieldListFilter._field_list_filters  # type: ignore[attr-defined]
    for test, filter_class in registry:
        if test(field):
            scoped = _SCOPED_FILTERS.get(filter_class)
            return (item, scoped) if scoped else item
    return item


_ModelT = TypeVar("_ModelT", bound=Model)


class StudyScopedAdmin(admin.ModelAdmin[_ModelT]):
    """Filter rows to studies the user manages; `study_path` is the lookup to the study.

    Change and delete views load objects through get_queryset, so another study's rows
    answer 404 rather than leaking their existence.
    """

    study_path = "study"

    def get_queryset(self, request: HttpRequest) -> QuerySet[_ModelT]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        lookup = "pk__in" if self.study_path == "" else f"{self.study_path}__in"
        return queryset.filter(**{lookup: studies_visible_to(request.user)})

    def get_list_filter(self, request: HttpRequest) -> Any:
        """Declared filters, each choosing only among what the user's rows hold."""
        return [_scoped_filter(self.model, item) for item in super().get_list_filter(request)]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """Only the lookups the declared filters make; Django allows any on a local field,
        which turned `?token__regex=^p7G` into an oracle of a participant's secret."""
        filters = self.get_list_filter(request) if request is not None else self.list_filter
        for item in filters:
            if isinstance(item, type) and issubclass(item, admin.SimpleListFilter):
                if lookup == item.parameter_name:
                    return True
                continue
            path = str(item[0] if isinstance(item, list | tuple) else item)
            if lookup == path or (
                lookup.startswith(path + LOOKUP_SEP)
                and set(lookup[len(path) + 2 :].split(LOOKUP_SEP)) <= FILTER_LOOKUP_PARTS
            ):
                return True
        hierarchy = self.date_hierarchy
        return bool(hierarchy) and lookup in {
            f"{hierarchy}__{part}" for part in ("year", "month", "day")
        }

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if not request.user.is_superuser:
            if db_field.related_model is get_user_model():
                return _username_field(db_field, **kwargs)
            kwargs["queryset"] = scoped_to_studies(
                db_field.related_model._default_manager.all(), studies_visible_to(request.user)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if not request.user.is_superuser and db_field.related_model is get_user_model():
            # Co-researchers of the user's own studies, never the whole user table.
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(studies__in=studies_visible_to(request.user))
                .distinct()
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


def _username_field(db_field: Any, **kwargs: Any) -> forms.ModelChoiceField[Any]:
    """A user typed by exact username: a researcher may name a data user without being
    shown every account's name."""
    return forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True),
        to_field_name="username",
        widget=forms.TextInput,
        required=not db_field.blank,
        label=kwargs.get("label", db_field.verbose_name.capitalize()),
        help_text="The exact username of the account.",
        error_messages={"invalid_choice": "No active account has this username."},
    )


class NoAddNoDeleteAdminMixin:
    """For records that only the services create and remove (snapshots, exclusion decisions):
    the admin may act on one through its actions or a service-backed form, never add or
    delete it."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdminMixin(NoAddNoDeleteAdminMixin):
    """For records that only the participant flow and the services write (chains, trials,
    ratings, job runs, aggregates): an admin edit would bypass their bookkeeping."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Apps that run the platform rather than a study: login lockouts, task results, schedules.
PLATFORM_APPS = {"axes", "django_celery_beat", "django_celery_results"}


def _superuser_only(request: HttpRequest, obj: Any = None) -> bool:
    return bool(request.user.is_superuser)


def platform_apps_for_superusers_only(site: admin.AdminSite) -> None:
    """Keep the platform's own apps off a researcher's index (and out of reach): superusers
    operate them."""
    for model, model_admin in site._registry.items():
        if model._meta.app_label in PLATFORM_APPS:
            model_admin.has_module_permission = _superuser_only  # type: ignore[method-assign]
            model_admin.has_view_permission = _superuser_only  # type: ignore[method-assign]
            model_admin.has_change_permission = _superuser_only  # type: ignore[method-assign]
