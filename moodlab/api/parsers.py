"""The API's JSON parser: hostile documents are a 400, never a 500.

Python's json module raises RecursionError (not ValueError) on deeply nested documents, and
accepts NUL characters and unpaired surrogates (`"\\u0000"`, `"\\ud800"`) that PostgreSQL
refuses to store, in keys as well as values, where no serializer field validates them.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

_SURROGATES = range(0xD800, 0xE000)


def _unstorable(text: str) -> bool:
    return "\x00" in text or any(ord(char) in _SURROGATES for char in text)


def _check_strings(document: Any) -> None:
    """Walk the document without recursion: its depth is the attacker's choice."""
    pending = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _unstorable(item):
                raise ParseError("Text may not contain NUL characters or unpaired surrogates.")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


class StrictJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            document = json.loads(stream.read().decode(encoding), parse_constant=_no_constants)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {type(exc).__name__}") from exc
        _check_strings(document)
        return document


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")  # NaN and Infinity, as DRF's strict mode


class StrictFormParser(FormParser):
    """Form bodies with the JSON parser's rule: no NUL or unpaired surrogate, keys included."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _check_strings({key: data.getlist(key) for key in data})
        return data


class StrictMultiPartParser(MultiPartParser):
    """Multipart bodies: the same rule for their text fields (file parts are not text)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        _check_strings({key: parsed.data.getlist(key) for key in parsed.data})
        for name in parsed.files:
            _check_strings(name)
        return parsed
