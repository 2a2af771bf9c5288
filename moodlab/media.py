"""Serving audio from our own origin: fixed audio types, byte ranges, immutable caching.

Whatever is served here is served as audio: the content type comes from the extension we
gave the file (never from the upload), `nosniff` stops a browser guessing otherwise, and a
sandboxing CSP keeps anything opened directly from running as our origin. Browsers fetch
media by byte ranges (to start playing and to seek): moodlab.ranged answers those.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from django.core.files.storage import storages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_safe

from moodlab.audio_codec import CONTENT_TYPES
from moodlab.ranged import ranged_file_response
from moodlab.studies.services.song_audio import public_audio_name, signed_audio_name

YEAR_SECONDS = 365 * 24 * 60 * 60


def audio_content_type(name: str) -> str:
    extension = Path(name).suffix.lstrip(".").lower()
    if extension not in CONTENT_TYPES:
        raise Http404("not an audio file")
    return CONTENT_TYPES[extension]


def audio_response(
    headers: Mapping[str, str],
    *,
    source: IO[bytes],
    size: int,
    content_type: str,
    cache_control: str,
    etag: str,
) -> HttpResponse | StreamingHttpResponse:
    """The file or the range asked for (see moodlab.ranged), or 304 for a version already held."""
    quoted = f'"{etag}"'
    response: HttpResponse | StreamingHttpResponse
    if headers.get("If-None-Match") == quoted:
        source.close()
        response = HttpResponse(status=304)
        response["Accept-Ranges"] = "bytes"
    else:
        response = ranged_file_response(
            headers.get("Range", ""), source, size=size, content_type=content_type
        )
    response["ETag"] = quoted
    response["Cache-Control"] = cache_control
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Content-Disposition"] = "inline"
    return response


def _stored_audio(
    request: HttpRequest, name: str, cache_control: str
) -> HttpResponse | StreamingHttpResponse:
    storage = storages["default"]
    content_type = audio_content_type(name)
    try:
        size = storage.size(name)
        source = storage.open(name, "rb")
    except (FileNotFoundError, OSError) as error:
        raise Http404("no such audio") from error
    return audio_response(
        request.headers,
        source=source,
        size=size,
        content_type=content_type,
        cache_control=cache_control,
        etag=Path(name).stem,
    )


@require_safe
def signed_audio(request: HttpRequest, signed: str) -> HttpResponse | StreamingHttpResponse:
    """A study's audio by signed link; cached by the browser until the link expires."""
    granted = signed_audio_name(signed)
    if granted is None:
        raise Http404("This audio link is invalid or has expired.")
    name, expires = granted
    remaining = max(int(expires - time.time()), 0)
    return _stored_audio(request, name, f"private, max-age={remaining}, immutable")


@require_safe
def public_audio(request: HttpRequest, name: str) -> HttpResponse | StreamingHttpResponse:
    """Audio a study publishes: content-named, so cacheable by anyone for a year."""
    stored = public_audio_name(name)
    if stored is None:
        raise Http404("no such audio")
    return _stored_audio(request, stored, f"public, max-age={YEAR_SECONDS}, immutable")
