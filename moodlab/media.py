"""Serving audio from our own origin: fixed audio types, byte ranges, immutable caching.

Whatever is served here is served as audio: the content type comes from the extension we
gave the file (never from the upload), `nosniff` stops a browser guessing otherwise, and a
sandboxing CSP keeps anything opened directly from running as our origin. Browsers fetch
media by byte ranges (to start playing and to seek), so ranges get 206 answers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from django.core.files.storage import storages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_safe

from moodlab.audio_codec import CONTENT_TYPES
from moodlab.studies.song_audio import public_audio_name, signed_audio_name

YEAR_SECONDS = 365 * 24 * 60 * 60
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 64 * 1024


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
    """200 with the whole file, 206 with one requested range, or 416 for a range past the end."""
    quoted = f'"{etag}"'
    response: HttpResponse | StreamingHttpResponse
    if headers.get("If-None-Match") == quoted:
        source.close()
        response = HttpResponse(status=304)
    else:
        span = _requested_range(headers.get("Range", ""), size)
        if span is None:
            source.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
        else:
            start, end = span
            source.seek(start)
            response = StreamingHttpResponse(
                _read(source, end - start + 1), content_type=content_type
            )
            response["Content-Length"] = str(end - start + 1)
            if (start, end) != (0, size - 1) or "Range" in headers:
                response.status_code = 206
                response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = quoted
    response["Cache-Control"] = cache_control
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Content-Disposition"] = "inline"
    return response


def _requested_range(header: str, size: int) -> tuple[int, int] | None:
    """The one byte range asked for (whole file when none or several); None if unsatisfiable."""
    whole = (0, size - 1)
    match = _RANGE.match(header.strip())
    if not match or not any(match.groups()):
        return whole  # no Range header, or a form we do not serve partially (multi-range)
    first, last = match.groups()
    if not first:  # a suffix: the last N bytes
        length = int(last)
        return (max(size - length, 0), size - 1) if length > 0 and size > 0 else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None
    return start, end


def _read(source: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            chunk = source.read(min(_CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        source.close()


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
