import io
import wave

import numpy as np
import pytest

from moodlab.audio import (
    calibration_wav,
    headphone_trial_wav,
    headphone_trials,
    is_valid_wav,
    song_clip_wav,
    wav_duration_seconds,
)

FULL_SCALE = 32767


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Samples as floats in [-1, 1], shape (frames, channels), and the sample rate."""
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getsampwidth() == 2
        frames = reader.readframes(reader.getnframes())
        samples = np.frombuffer(frames, "<i2").reshape(-1, reader.getnchannels())
        return samples / FULL_SCALE, reader.getframerate()


def silent_wav(*, frames: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(22050)
        writer.writeframes(bytes(2 * frames))
    return buffer.getvalue()


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2)))


def pulse_rate(data: bytes) -> float:
    """The strongest rhythm of a clip (notes per second), from its loudness envelope."""
    samples, sample_rate = decode(data)
    hop = sample_rate // 100
    loudness = np.abs(samples[: len(samples) // hop * hop, 0]).reshape(-1, hop).mean(axis=1)
    spectrum = np.abs(np.fft.rfft(loudness - loudness.mean()))
    frequencies = np.fft.rfftfreq(len(loudness), d=hop / sample_rate)
    plausible = (frequencies > 1) & (frequencies < 10)
    return float(frequencies[plausible][np.argmax(spectrum[plausible])])


def opening_chord(data: bytes) -> str:
    """Whether the strongest three pitch classes of the first bar form a major or a minor
    triad; at the neutral tempo (arousal 0, 120 beats per minute) a bar lasts 2 s."""
    samples, sample_rate = decode(data)
    power = np.abs(np.fft.rfft(samples[: 2 * sample_rate, 0])) ** 2
    frequencies = np.fft.rfftfreq(2 * sample_rate, 1 / sample_rate)
    audible = (frequencies > 80) & (frequencies < 2000)
    pitch_classes = np.round(12 * np.log2(frequencies[audible] / 440)).astype(int) % 12
    chroma = np.bincount(pitch_classes, weights=power[audible], minlength=12)
    strongest = {int(pitch_class) for pitch_class in np.argsort(chroma)[-3:]}
    for root in range(12):
        for quality, third in (("major", 4), ("minor", 3)):
            if strongest == {root, (root + third) % 12, (root + 7) % 12}:
                return quality
    return "neither"


def sounds_of(data: bytes) -> list[np.ndarray]:
    """The three 1-second stereo sounds of a headphone trial (0.5 s gaps between them)."""
    samples, sample_rate = decode(data)
    return [samples[round(start * sample_rate) :][:sample_rate] for start in (0.0, 1.5, 3.0)]


def test_a_song_clip_is_a_mono_16_bit_wav_of_the_requested_length():
    data = song_clip_wav("dQw4w9WgXcQ", seconds=5.0, sample_rate=16000)
    samples, sample_rate = decode(data)

    assert samples.shape == (5 * 16000, 1)
    assert sample_rate == 16000
    assert wav_duration_seconds(data) == 5.0


def test_a_default_song_clip_lasts_eight_seconds_in_under_400_kb():
    data = song_clip_wav("dQw4w9WgXcQ")

    assert wav_duration_seconds(data) == 8.0
    assert len(data) < 400_000


def test_a_song_clip_is_the_same_every_time_and_differs_between_songs():
    assert song_clip_wav("a") == song_clip_wav("a")
    assert song_clip_wav("a") != song_clip_wav("b")
    assert song_clip_wav("a", valence=0.9) != song_clip_wav("a", valence=-0.9)


def test_song_clips_are_audible_and_never_clip():
    for arousal in (-1.0, 0.0, 1.0):
        for valence in (-1.0, 1.0):
            samples, _ = decode(song_clip_wav("x", valence=valence, arousal=arousal))

            assert np.max(np.abs(samples)) < 1.0
            assert rms(samples) > 0.1


def test_a_song_clip_fades_in_and_out_instead_of_starting_with_a_click():
    samples, sample_rate = decode(song_clip_wav("x"))

    assert np.max(np.abs(samples[:10])) < 0.01
    assert np.max(np.abs(samples[-10:])) < 0.01
    assert np.max(np.abs(samples[sample_rate : 2 * sample_rate])) > 0.2


def test_higher_arousal_plays_faster():
    rates = [pulse_rate(song_clip_wav("x", arousal=arousal)) for arousal in (-1.0, 0.0, 1.0)]

    assert rates == sorted(rates)
    assert rates[-1] > 2 * rates[0]


@pytest.mark.parametrize("song_id", ["a", "b", "c", "d"])
def test_positive_valence_plays_in_major_and_negative_valence_in_minor(song_id):
    assert opening_chord(song_clip_wav(song_id, valence=0.8, arousal=0.0)) == "major"
    assert opening_chord(song_clip_wav(song_id, valence=-0.8, arousal=0.0)) == "minor"


def test_the_calibration_noise_is_as_loud_as_the_songs_it_calibrates_for():
    noise, _ = decode(calibration_wav(seconds=3.0))
    song, _ = decode(song_clip_wav("x"))

    assert len(noise) == 3 * 22050
    assert rms(noise) == pytest.approx(rms(song), rel=0.05)
    assert np.max(np.abs(noise)) < 1.0


def test_the_calibration_noise_has_more_power_in_low_than_in_high_octaves():
    noise, sample_rate = decode(calibration_wav())
    power = np.abs(np.fft.rfft(noise[:, 0])) ** 2
    frequencies = np.fft.rfftfreq(len(noise), 1 / sample_rate)

    def octave_power(low: float) -> float:
        return float(power[(frequencies >= low) & (frequencies < 2 * low)].sum())

    # Pink noise has equal power per octave; white noise doubles it with each octave up.
    assert octave_power(4000) == pytest.approx(octave_power(250), rel=0.3)


@pytest.mark.parametrize("kind", ["antiphase", "huggins"])
def test_a_headphone_trial_is_three_stereo_sounds_with_silent_gaps(kind):
    data = headphone_trial_wav(2, kind=kind)
    samples, sample_rate = decode(data)

    assert samples.shape[1] == 2
    assert wav_duration_seconds(data) == 4.0
    assert np.all(samples[sample_rate : round(1.5 * sample_rate)] == 0)
    assert np.all(samples[round(2.5 * sample_rate) : 3 * sample_rate] == 0)
    assert all(rms(sound) > 0.05 for sound in sounds_of(data))
    assert np.max(np.abs(samples)) < 1.0
    assert headphone_trial_wav(2, kind=kind) == data


@pytest.mark.parametrize("odd_position", [1, 2, 3])
def test_in_the_antiphase_trial_the_answer_is_quieter_and_another_tone_is_phase_inverted(
    odd_position,
):
    sounds = sounds_of(headphone_trial_wav(odd_position, kind="antiphase"))
    answer = sounds[odd_position - 1]
    others = [sound for i, sound in enumerate(sounds, start=1) if i != odd_position]
    inverted = [np.allclose(sound[:, 0], -sound[:, 1], atol=1e-4) for sound in others]

    assert np.array_equal(answer[:, 0], answer[:, 1])
    assert rms(answer) == pytest.approx(rms(others[0]) / 2, rel=0.01)
    assert sorted(inverted) == [False, True]
    assert all(rms(sound) == pytest.approx(rms(others[0]), rel=0.01) for sound in others)


@pytest.mark.parametrize("odd_position", [1, 2, 3])
def test_in_the_huggins_trial_only_the_answer_differs_between_the_ears_and_only_near_600_hz(
    odd_position,
):
    sounds = sounds_of(headphone_trial_wav(odd_position, kind="huggins"))
    answer = sounds[odd_position - 1]
    difference = np.abs(np.fft.rfft(answer[:, 0] - answer[:, 1]))
    frequencies = np.fft.rfftfreq(len(answer), 1 / 22050)
    near_600_hz = np.abs(frequencies - 600) < 60

    for position, sound in enumerate(sounds, start=1):
        assert np.array_equal(sound[:, 0], sound[:, 1]) == (position != odd_position)
    assert np.sum(difference[near_600_hz] ** 2) > 0.95 * np.sum(difference**2)


def test_an_unknown_headphone_test_or_position_is_refused():
    with pytest.raises(ValueError, match="kind"):
        headphone_trial_wav(1, kind="beep")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="odd_position"):
        headphone_trial_wav(4)


def test_the_six_headphone_trials_use_each_position_twice_in_a_seeded_order():
    trials = headphone_trials(seed=11)

    assert sorted(trials) == [1, 1, 2, 2, 3, 3]
    assert headphone_trials(seed=11) == trials
    assert len({tuple(headphone_trials(seed)) for seed in range(20)}) > 5


def test_wav_checks_accept_any_complete_pcm_wav():
    assert is_valid_wav(silent_wav(frames=11025))
    assert wav_duration_seconds(silent_wav(frames=11025)) == 0.5


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"ID3\x03\x00\x00\x00\x00\x0f\x76 an mp3 header",
        b"RIFF\x00\x00\x00\x00WAVEnot really",
        song_clip_wav("x", seconds=1.0)[:-1000],
        silent_wav(frames=0),
    ],
    ids=["empty", "mp3", "broken-riff", "truncated", "no-samples"],
)
def test_unreadable_or_empty_audio_is_rejected(data):
    assert not is_valid_wav(data)
    with pytest.raises(ValueError):
        wav_duration_seconds(data)


def test_more_headphone_trials_keep_the_positions_balanced():
    assert sorted(headphone_trials(seed=3, count=9)) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert sorted(headphone_trials(seed=3, count=4)) == [1, 1, 2, 3]


def test_headphone_trial_variants_differ_in_bytes_and_lure_slot_but_not_in_levels():
    variants = [headphone_trial_wav(1, kind="antiphase", variant=seed) for seed in range(12)]
    assert len(set(variants)) == len(variants)
    lure_slots = set()
    for data in variants:
        sounds = sounds_of(data)
        others = sounds[1:]
        assert rms(sounds[0]) == pytest.approx(rms(others[0]) / 2, rel=0.01)
        lure_slots |= {
            slot
            for slot, sound in enumerate(others, start=2)
            if np.allclose(sound[:, 0], -sound[:, 1], atol=1e-4)
        }
    assert lure_slots == {2, 3}
