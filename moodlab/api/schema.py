"""OpenAPI generation tweaks shared by every app."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers


class MoodLabAutoSchema(AutoSchema):
    """Name components after their full path, so nested serializers never collide.

    Views follow the `<Entity><Action>Api` pattern with nested `InputSerializer` and
    `OutputSerializer` classes; `TermsMergeApi.InputSerializer` becomes `TermsMergeApiInput`.
    """

    def get_serializer_name(self, serializer: Any, direction: Any) -> str:
        return type(serializer).__qualname__.replace(".", "")


# The shape moodlab/api/errors.py gives every error, for the schema ("fields" cannot be a
# declared field name: it is the serializer's own attribute).
ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "status": serializers.IntegerField(),
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(),
            },
        )
    },
)
