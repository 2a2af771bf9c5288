"""Serializer fields shared by the participant API."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rest_framework import serializers

# Database ids as JSON object keys: ASCII digits only (str.isdigit() accepts "²", which int()
# refuses) and short enough for int() and a bigint column.
_ID_KEY = re.compile(r"[1-9][0-9]{0,17}")


class IdKeyedDictField(serializers.DictField):
    """`{"<id>": value}` with at most `max_keys` entries, counted before anything else.

    A hostile body may hold a hundred thousand keys: counting them first keeps the work, and
    the error body, bounded by the limit rather than by the body.
    """

    def __init__(
        self, *, max_keys: int | Callable[[serializers.Field], int], **kwargs: Any
    ) -> None:
        self.max_keys = max_keys
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[int, Any]:
        limit = self.max_keys(self) if callable(self.max_keys) else self.max_keys
        if isinstance(data, dict) and len(data) > limit:
            raise serializers.ValidationError(f"At most {limit} entries.")
        if isinstance(data, dict) and not all(
            isinstance(key, str) and _ID_KEY.fullmatch(key) for key in data
        ):
            raise serializers.ValidationError("Keys must be ids (digits).")
        return {int(key): value for key, value in super().to_internal_value(data).items()}
