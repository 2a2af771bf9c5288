"""Researchers see only their own studies' data in the admin; every app's admin uses this."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from moodlab.studies.models import Study
from moodlab.studies.selectors import studies_visible_to


class StudyScopedAdmin(admin.ModelAdmin):
    """Filter rows to studies the user manages; `study_path` is the lookup to the study.

    Change and delete views load objects through get_queryset, so another study's rows
    answer 404 rather than leaking their existence.
    """

    study_path = "study"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        lookup = "pk__in" if self.study_path == "" else f"{self.study_path}__in"
        return queryset.filter(**{lookup: studies_visible_to(request.user)})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is Study and not request.user.is_superuser:
            kwargs["queryset"] = studies_visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdminMixin:
    """For records that only the participant flow and the services write (chains, trials,
    ratings): an admin edit would bypass their bookkeeping."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
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
