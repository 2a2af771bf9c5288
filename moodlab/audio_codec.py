"""Reading, measuring and encoding audio with PyAV (FFmpeg) and pyloudnorm.

An upload is audio when FFmpeg finds exactly an audio stream in a container we accept and
decodes all of it: the file name plays no part, so a script or a page renamed `.wav` is
refused. Songs are delivered as AAC in M4A, the one compressed format every target browser
plays (Safari and iOS included), at a bitrate listeners cannot tell from the source, after
loudness normalisation to the study's target (ITU-R BS.1770 integrated loudness).
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import av
import numpy as np
import pyloudnorm
from scipy.signal import resample_poly

# FFmpeg's container names (av's `format.name`) → the extension we store the original under.
_CONTAINERS = {
    "wav": "wav",
    "mp3": "mp3",
    "ogg": "ogg",
    "flac": "flac",
    "mov,mp4,m4a,3gp,3g2,mj2": "m4a",
    "matroska,webm": "webm",
}
CONTENT_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
}
DELIVERY_EXTENSION = "m4a"
DELIVERY_SAMPLE_RATES = (44100, 48000)
# 128 kbps AAC-LC stereo is transparent for most music; mono needs less for the same quality.
STEREO_BITRATE = 128_000
MONO_BITRATE = 96_000
# Normalising up must not clip: 1 dB below full scale, measured on a 4× oversampled signal.
TRUE_PEAK_CEILING_DB = -1.0
_MIN_LOUDNESS_SECONDS = 0.4  # BS.1770 gates 400 ms blocks: shorter clips have no loudness

AudioInput = str | Path | IO[bytes]


@dataclass(frozen=True)
class ProbedAudio:
    extension: str
    duration_seconds: float
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class Delivery:
    """An encoded delivery file (in `path`) and the loudness figures that produced it."""

    path: Path
    loudness_lufs: float | None
    gain_db: float


def audio_probe(source: AudioInput) -> ProbedAudio:
    """What the content is, decoding all of it; ValueError when it is not playable audio."""
    try:
        with av.open(_rewound(source), mode="r") as container:
            extension = _CONTAINERS.get(container.format.name)
            if extension is None:
                raise ValueError(f"{container.format.long_name or 'this format'} is not accepted")
            if len(container.streams) != 1 or not container.streams.audio:
                raise ValueError("the file must hold exactly one audio stream")
            stream = container.streams.audio[0]
            samples = 0
            for frame in container.decode(stream):
                samples += frame.samples
            rate = stream.codec_context.sample_rate or stream.rate or 0
            channels = stream.codec_context.channels
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise ValueError(f"not decodable audio ({error})") from error
    if samples == 0 or not rate:
        raise ValueError("the file holds no sound")
    return ProbedAudio(extension, samples / rate, int(rate), int(channels))


def audio_decode(source: AudioInput) -> tuple[np.ndarray, int]:
    """Samples as float32 (frames × channels, at most stereo) at 44.1 or 48 kHz."""
    with av.open(_rewound(source), mode="r") as container:
        stream = container.streams.audio[0]
        source_rate = stream.codec_context.sample_rate
        rate = source_rate if source_rate in DELIVERY_SAMPLE_RATES else DELIVERY_SAMPLE_RATES[0]
        layout = "mono" if stream.codec_context.channels == 1 else "stereo"
        resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
        chunks = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1, out.layout.nb_channels))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1, out.layout.nb_channels))
    return np.concatenate(chunks).astype(np.float32), rate


def integrated_loudness(samples: np.ndarray, rate: int) -> float | None:
    """ITU-R BS.1770-4 integrated loudness in LUFS; None for silence or a too-short clip."""
    if len(samples) < _MIN_LOUDNESS_SECONDS * rate:
        return None
    loudness = float(pyloudnorm.Meter(rate).integrated_loudness(samples))
    return loudness if np.isfinite(loudness) else None


def true_peak_db(samples: np.ndarray) -> float:
    """Peak level in dBFS of the signal oversampled 4×, which is what a decoder may reach."""
    peak = float(np.max(np.abs(resample_poly(samples, 4, 1, axis=0)))) if len(samples) else 0.0
    return 20 * np.log10(peak) if peak > 0 else -np.inf


def audio_deliver(source: AudioInput, *, target_lufs: float | None) -> Delivery:
    """Encode `source` as AAC in M4A, normalised to `target_lufs` (None: level unchanged).

    The gain is what brings the measured loudness to the target, lowered when the louder
    signal would peak above the ceiling, so a quiet song may stay below the target. The
    caller owns (and deletes) the returned file.
    """
    samples, rate = audio_decode(source)
    loudness = integrated_loudness(samples, rate)
    gain_db = 0.0
    if target_lufs is not None and loudness is not None:
        gain_db = target_lufs - loudness
        sample_peak = float(np.max(np.abs(samples)))
        # Oversampling costs more than the rest: only when the gain brings peaks near the top.
        if sample_peak > 0 and 20 * np.log10(sample_peak) + gain_db > TRUE_PEAK_CEILING_DB - 3:
            gain_db = min(gain_db, TRUE_PEAK_CEILING_DB - true_peak_db(samples))
        samples = samples * np.float32(10 ** (gain_db / 20))
    with tempfile.NamedTemporaryFile(suffix=f".{DELIVERY_EXTENSION}", delete=False) as out:
        path = Path(out.name)
    try:
        _encode_m4a(samples, rate, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Delivery(path, None if loudness is None else round(loudness, 2), round(gain_db, 2))


def wav_to_m4a(data: bytes) -> bytes:
    """A WAV's sound as M4A at its own level (prescreen sounds keep their calibration)."""
    delivery = audio_deliver(io.BytesIO(data), target_lufs=None)
    try:
        return delivery.path.read_bytes()
    finally:
        delivery.path.unlink(missing_ok=True)


def _encode_m4a(samples: np.ndarray, rate: int, path: Path) -> None:
    channels = samples.shape[1]
    # faststart puts the index before the sound, so playback begins with the first bytes.
    with av.open(str(path), mode="w", format="ipod", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("aac", rate=rate)
        stream.codec_context.layout = "mono" if channels == 1 else "stereo"
        stream.codec_context.bit_rate = MONO_BITRATE if channels == 1 else STEREO_BITRATE
        planar = np.ascontiguousarray(np.clip(samples, -1.0, 1.0).T)
        block = 1024 * 16
        for start in range(0, planar.shape[1], block):
            frame = av.AudioFrame.from_ndarray(
                planar[:, start : start + block], format="fltp", layout=stream.codec_context.layout
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _rewound(source: AudioInput) -> str | IO[bytes]:
    if isinstance(source, Path):
        return str(source)
    if not isinstance(source, str):
        source.seek(0)
    return source
