"""Serving a stored file whole or by one byte range, for every view that streams files.

Browsers fetch media by ranges (to start playing and to seek) and download tools resume by
ranges, so one requested range gets a 206, a range outside the file a 416, and anything
else (no Range header, several ranges, a form we do not read) the whole file with a 200,
which RFC 9110 allows a server to answer to a Range it ignores. Callers add only their own
headers (caching, disposition, security) to the response this returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Literal

from django.http import HttpResponse, StreamingHttpResponse

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_CHUNK_BYTES = 64 * 1024


def ranged_file_response(
    range_header: str, source: IO[bytes], *, size: int, content_type: str
) -> HttpResponse | StreamingHttpResponse:
    """200 with the whole file, 206 with the one range asked for, 416 for a range past the end.

    The response owns `source`: it is closed once streamed, when the response is closed,
    or at once for a 416.
    """
    span = _requested_range(range_header, size)
    response: HttpResponse | StreamingHttpResponse
    if span == "unsatisfiable":
        source.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    elif span == "whole":
        response = StreamingHttpResponse(_Chunks(source, size), content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        start, end = span
        source.seek(start)
        response = StreamingHttpResponse(
            _Chunks(source, end - start + 1), status=206, content_type=content_type
        )
        response["Content-Length"] = str(end - start + 1)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    return response


def _requested_range(header: str, size: int) -> tuple[int, int] | Literal["whole", "unsatisfiable"]:
    """The one byte range asked for, the whole file when none is (or several are)."""
    match = _RANGE.fullmatch(header.strip())
    if not match or not any(match.groups()):
        return "whole"
    first, last = match.groups()
    if not first:  # a suffix: the last N bytes (none of them for bytes=-0)
        start, end = (max(size - int(last), 0) if int(last) else size), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, end


class _Chunks:
    """`length` bytes of `source` in chunks; `close()` lets the response close the file even
    when the body is never read (a HEAD request, a client that went away)."""

    def __init__(self, source: IO[bytes], length: int) -> None:
        self._source = source
        self._length = length

    def __iter__(self) -> Iterator[bytes]:
        length = self._length
        try:
            while length > 0:
                chunk = self._source.read(min(_CHUNK_BYTES, length))
                if not chunk:
                    break
                length -= len(chunk)
                yield chunk
        finally:
            self._source.close()

    def close(self) -> None:
        self._source.close()
