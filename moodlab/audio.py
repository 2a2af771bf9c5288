"""Synthesised stimuli and WAV checks: song stand-ins, a calibration noise, a headphone test.

Real recordings cannot ship with the code, so demos, simulated studies and tests play short
synthesised clips instead; the prescreen sounds are synthesised too, so their exact acoustic
properties are known. All audio is 16-bit PCM WAV written with the standard library, and
every sound is deterministic (the same arguments give the same bytes).

Only WAV can be read back here; uploads of any format are decoded with PyAV in
``moodlab/audio_codec.py``.
"""

from __future__ import annotations

import hashlib
import io
import wave
from typing import Literal

import numpy as np

HeadphoneTestKind = Literal["antiphase", "huggins"]

# All sounds share one loudness, so the level a participant sets on the calibration noise
# is the level at which they hear the songs and the headphone test.
_TARGET_RMS = 0.15
_MAX_PEAK = 0.95
_FULL_SCALE = 32767

_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
# Four-bar progressions as scale degrees (0 = tonic): I-V-vi-IV, I-vi-IV-V, I-IV-V-IV
# in major; i-VI-III-VII, i-iv-v-i, i-VII-VI-VII in minor.
_MAJOR_PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 3))
_MINOR_PROGRESSIONS = ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6))
# Which chord tone (root, third, fifth, octave) each eighth note of a bar plays.
_ARPEGGIO = np.array([0, 1, 2, 3, 2, 1, 0, 1])
_EIGHTHS_PER_BAR = len(_ARPEGGIO)

_HEADPHONE_SAMPLE_RATE = 22050
_HEADPHONE_SOUND_SECONDS = 1.0
_HEADPHONE_GAP_SECONDS = 0.5
_HEADPHONE_TRIALS = 6


def song_clip_wav(
    song_id: str,
    *,
    seconds: float = 8.0,
    sample_rate: int = 22050,
    valence: float | None = None,
    arousal: float | None = None,
) -> bytes:
    """A mono arpeggio over a chord progression that stands in for a song's recording.

    Arousal in [-1, 1] sets the tempo (72 to 168 beats per minute) and valence the mode
    (major when >= 0). Both default to values drawn from the song id, as do the key and
    the progression, so every song sounds different but always the same.
    """
    if seconds <= 0:
        raise ValueError(f"a clip must last some time, got {seconds} s")
    rng = np.random.default_rng(_stable_seed(song_id))
    drawn_valence, drawn_arousal = rng.uniform(-1.0, 1.0, size=2)
    valence = drawn_valence if valence is None else valence
    arousal = drawn_arousal if arousal is None else arousal
    tonic = int(rng.integers(45, 57))  # A2 to G#3
    variant = int(rng.integers(3))

    major = valence >= 0
    scale = _MAJOR_SCALE if major else _MINOR_SCALE
    progression = (_MAJOR_PROGRESSIONS if major else _MINOR_PROGRESSIONS)[variant]
    # One row per bar: the chord's root, third and fifth as MIDI notes, then in Hz with the
    # octave added as a fourth tone.
    chord_notes = np.array(
        [
            [tonic + 12 * ((degree + step) // 7) + scale[(degree + step) % 7] for step in (0, 2, 4)]
            for degree in progression
        ]
    )
    chord_hz = 440.0 * 2.0 ** ((np.column_stack([chord_notes, chord_notes[:, 0] + 12]) - 69) / 12)

    beats_per_minute = 120.0 + 48.0 * float(np.clip(arousal, -1.0, 1.0))
    eighth = 30.0 / beats_per_minute
    bar = eighth * _EIGHTHS_PER_BAR
    time = np.arange(round(seconds * sample_rate)) / sample_rate

    step = (time // eighth).astype(int)
    bar_index = step // _EIGHTHS_PER_BAR
    chord = bar_index % len(progression)
    since_note = time - step * eighth
    # The melody plays the arpeggio an octave above the chords, as plucked notes.
    phase = 2 * np.pi * 2 * chord_hz[chord, _ARPEGGIO[step % _EIGHTHS_PER_BAR]] * since_note
    pluck = _ramp(since_note, eighth, edge=0.005) * np.exp(-since_note / (0.6 * eighth))
    melody = pluck * (np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase))

    since_bar = time - bar_index * bar
    pad_phases = 2 * np.pi * chord_hz[chord, :3] * since_bar[:, np.newaxis]
    pad = _ramp(since_bar, bar, edge=0.05) * np.sin(pad_phases).sum(axis=1)

    clip = (0.7 * melody + 0.15 * pad) * _ramp(time, seconds, edge=0.02, tail=0.5)
    return _encode_wav(_normalise(clip), sample_rate)


def calibration_wav(*, seconds: float = 4.0, sample_rate: int = 22050) -> bytes:
    """Pink noise at the loudness of the study sounds, for setting a comfortable volume."""
    white = np.random.default_rng(_stable_seed("calibration")).standard_normal(
        round(seconds * sample_rate)
    )
    spectrum = np.fft.rfft(white)
    frequencies = np.fft.rfftfreq(len(white), 1 / sample_rate)
    # Power falling as 1/f (pink); below 40 Hz it is cut, as laptop speakers cannot play it.
    spectrum *= np.where(frequencies >= 40.0, 1 / np.sqrt(np.maximum(frequencies, 40.0)), 0.0)
    noise = np.fft.irfft(spectrum, n=len(white))
    time = np.arange(len(noise)) / sample_rate
    return _encode_wav(_normalise(noise * _ramp(time, seconds, edge=0.05)), sample_rate)


def headphone_trial_wav(
    odd_position: int, *, kind: HeadphoneTestKind = "antiphase", variant: int | None = None
) -> bytes:
    """A stereo headphone-check trial: three 1-second sounds, 0.5 s apart.

    The sound at ``odd_position`` (1 to 3) is the right answer, and it can be told apart
    over headphones but not over loudspeakers:

    - ``"antiphase"`` (Woods et al. 2017, prompt "which sound is the quietest?"): three
      200 Hz tones; the answer is 6 dB quieter than the others, and one of the others is
      played with its right channel phase-inverted. Over headphones the inverted tone is as
      loud as the standard; over loudspeakers the two channels cancel in the air, so it
      seems the quietest and lures the listener away from the answer.
    - ``"huggins"`` (Milne et al. 2021, prompt "which sound is different / contains a
      faint tone?"): three white-noise bursts; in the answer, a narrow band around 600 Hz
      is phase-inverted in the right channel, which the brain hears as a faint tone only
      when each ear gets its own channel. This matches the GlobalMood prescreen's wording,
      "which of three sounds is different".

    With a ``variant`` (a seed), each trial sounds the same but its bytes differ: the tones'
    starting phase, the lure's slot and the noise are drawn from it, so no file, hash or
    length tells the answer across trials or participants. Levels are unchanged.
    """
    if odd_position not in (1, 2, 3):
        raise ValueError(f"odd_position must be 1, 2 or 3, got {odd_position}")
    sample_rate = _HEADPHONE_SAMPLE_RATE
    time = np.arange(round(_HEADPHONE_SOUND_SECONDS * sample_rate)) / sample_rate
    rng = None if variant is None else np.random.default_rng(variant)
    if kind == "antiphase":
        sounds = _antiphase_sounds(odd_position, time, rng)
    elif kind == "huggins":
        sounds = _huggins_sounds(odd_position, sample_rate, rng)
    else:
        raise ValueError(f"unknown headphone test kind {kind!r}")

    envelope = _ramp(time, _HEADPHONE_SOUND_SECONDS, edge=0.1)[:, np.newaxis]
    gap = np.zeros((round(_HEADPHONE_GAP_SECONDS * sample_rate), 2))
    trial = np.concatenate(
        [sounds[0] * envelope, gap, sounds[1] * envelope, gap, sounds[2] * envelope]
    )
    return _encode_wav(trial, sample_rate)


def headphone_trials(seed: int, count: int = _HEADPHONE_TRIALS) -> list[int]:
    """Odd positions for the trials of one test (six by default), in shuffled order.

    Each position comes equally often (as nearly as `count` allows), so that always
    answering the same position scores 2 of 6, below the pass mark.
    """
    positions = ([1, 2, 3] * -(-count // 3))[:count]
    return [int(p) for p in np.random.default_rng(seed).permutation(positions)]


def wav_duration_seconds(data: bytes) -> float:
    """Length of a PCM WAV file; ValueError if the bytes are not a complete, readable WAV."""
    try:
        with wave.open(io.BytesIO(data)) as reader:
            frames = reader.getnframes()
            frame_bytes = reader.getsampwidth() * reader.getnchannels()
            # A truncated upload keeps its header's frame count but lacks the samples.
            complete = len(reader.readframes(frames)) == frames * frame_bytes
            rate = reader.getframerate()
    except (wave.Error, EOFError) as error:
        raise ValueError(f"not a readable WAV file: {error}") from error
    if not complete or frames == 0 or rate == 0:
        raise ValueError("WAV file is empty or truncated")
    return frames / rate


def is_valid_wav(data: bytes) -> bool:
    try:
        wav_duration_seconds(data)
    except ValueError:
        return False
    return True


def _antiphase_sounds(
    odd_position: int, time: np.ndarray, rng: np.random.Generator | None
) -> list[np.ndarray]:
    def tone() -> np.ndarray:
        phase = 0.0 if rng is None else rng.uniform(0, 2 * np.pi)
        return np.sqrt(2) * _TARGET_RMS * np.sin(2 * np.pi * 200.0 * time + phase)

    # Without a variant the lure sits right after the answer (cyclically); with one, in
    # either of the other slots. The standard takes the remaining slot.
    others = [position for position in (1, 2, 3) if position != odd_position]
    lure_position = odd_position % 3 + 1 if rng is None else int(rng.choice(others))
    sounds = []
    for position in (1, 2, 3):
        wave = tone()
        if position == odd_position:
            sounds.append(np.column_stack([wave, wave]) / 2)  # -6 dB
        elif position == lure_position:
            sounds.append(np.column_stack([wave, -wave]))
        else:
            sounds.append(np.column_stack([wave, wave]))
    return sounds


def _huggins_sounds(
    odd_position: int, sample_rate: int, rng: np.random.Generator | None
) -> list[np.ndarray]:
    rng = rng or np.random.default_rng(_stable_seed(f"huggins:{odd_position}"))
    length = round(_HEADPHONE_SOUND_SECONDS * sample_rate)
    frequencies = np.fft.rfftfreq(length, 1 / sample_rate)
    band = np.abs(frequencies - 600.0) <= 0.06 * 600.0
    sounds = []
    for position in (1, 2, 3):
        noise = rng.standard_normal(length)
        noise *= _TARGET_RMS / np.sqrt(np.mean(noise**2))
        right = noise
        if position == odd_position:
            spectrum = np.fft.rfft(noise)
            spectrum[band] *= -1
            right = np.fft.irfft(spectrum, n=length)
        sounds.append(np.column_stack([noise, right]))
    return sounds


def _ramp(
    elapsed: np.ndarray, length: float, *, edge: float, tail: float | None = None
) -> np.ndarray:
    """An envelope rising linearly over ``edge`` seconds and falling over ``tail`` (default:
    ``edge``) before ``length``, so that no sound starts or stops with a click."""
    fall = edge if tail is None else tail
    return np.clip(np.minimum(elapsed / edge, (length - elapsed) / fall), 0.0, 1.0)


def _normalise(signal: np.ndarray) -> np.ndarray:
    """Scale to the shared loudness, backing off if that would bring peaks near clipping."""
    gain = _TARGET_RMS / np.sqrt(np.mean(signal**2))
    return signal * min(gain, _MAX_PEAK / np.max(np.abs(signal)))


def _encode_wav(signal: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV of a float signal in [-1, 1]: shape (samples,) or (samples, channels)."""
    channels = 1 if signal.ndim == 1 else signal.shape[1]
    samples = np.round(np.clip(signal, -1.0, 1.0) * _FULL_SCALE).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(samples.tobytes())
    return buffer.getvalue()


def _stable_seed(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
