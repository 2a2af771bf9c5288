"""The one byte-range file response that audio and snapshot downloads both answer with."""

from __future__ import annotations

import io

import pytest

from moodlab.media import audio_response
from moodlab.ranged import ranged_file_response

DATA = bytes(range(256)) * 1000  # 256 000 bytes: several 64 KiB chunks


def respond(header: str, data: bytes = DATA) -> tuple[object, io.BytesIO]:
    source = io.BytesIO(data)
    response = ranged_file_response(
        header, source, size=len(data), content_type="application/octet-stream"
    )
    return response, source


@pytest.mark.parametrize(
    ("header", "status", "body", "content_range"),
    [
        ("", 200, DATA, None),
        ("bytes=10-19", 206, DATA[10:20], "bytes 10-19/256000"),
        ("bytes=250000-", 206, DATA[250000:], "bytes 250000-255999/256000"),
        ("bytes=-5", 206, DATA[-5:], "bytes 255995-255999/256000"),
        ("bytes=0-999999", 206, DATA, "bytes 0-255999/256000"),
        # Several ranges, or a form we do not read: the Range is ignored, the whole file sent.
        ("bytes=0-1,5-9", 200, DATA, None),
        ("items=0-9", 200, DATA, None),
    ],
)
def test_one_range_gets_206_and_anything_else_the_whole_file(header, status, body, content_range):
    response, source = respond(header)
    assert response.status_code == status
    assert b"".join(response.streaming_content) == body
    assert response["Content-Length"] == str(len(body))
    assert response["Accept-Ranges"] == "bytes"
    assert response.get("Content-Range") == content_range
    assert source.closed


@pytest.mark.parametrize("header", ["bytes=256000-", "bytes=-0", "bytes=20-10"])
def test_a_range_outside_the_file_gets_416_and_the_file_is_closed(header):
    response, source = respond(header)
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */256000"
    assert source.closed


@pytest.mark.django_db  # closing a response sends request_finished, which closes old connections
def test_the_file_is_closed_with_the_response_even_when_the_body_is_never_read():
    response, source = respond("bytes=0-9")  # e.g. a HEAD request: the server never reads it
    response.close()
    assert source.closed


def test_audio_ignores_a_multi_range_request_like_snapshot_downloads_do():
    response = audio_response(
        {"Range": "bytes=0-1,5-9"},
        source=io.BytesIO(DATA),
        size=len(DATA),
        content_type="audio/mp4",
        cache_control="private, max-age=60, immutable",
        etag="abc",
    )
    assert response.status_code == 200 and "Content-Range" not in response
    assert response["Content-Length"] == str(len(DATA))
    assert response["Content-Disposition"] == "inline"
