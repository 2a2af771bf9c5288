"""What a rating session costs a phone in audio: bytes, requests and time to first sound.

A one-locale rating study whose songs are CD-quality WAV clips (44.1 kHz, 16-bit stereo,
20 s by default: real studies play 15–30 s) runs on the embedded default (SQLite in a
temporary folder, tasks in-process) behind `manage.py runserver`. Debian's chromium, driven
by Playwright, takes one rating session under Chromium's "Fast 3G" network emulation
(562.5 ms latency, 1.44 Mbps down, 675 kbps up, through a CDP session), twice:

- **wav**: the songs' delivery files removed, so the page plays the original WAVs, which is
  what every session transferred before transcoding;
- **m4a**: the delivery files (AAC 128 kbps in M4A, loudness-normalised), each trial
  fetching the next trial's clip while it is rated.

Bytes are what crossed the emulated network (CDP `encodedDataLength`, headers included),
for audio and for the whole session. Time to first sound is measured in the page, from the
click on Submit (and from the next trial appearing) to the `playing` event of the next
trial's clip; Play is clicked as soon as the player offers it. Clips play at 4× speed so a
session takes seconds, which changes no byte and no time to first sound.

    .venv/bin/python -m bench.audio_delivery [--trials 6] [--clip-seconds 20]
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FAST_3G = {
    "offline": False,
    "latency": 562.5,
    "downloadThroughput": 1.6 * 1000 * 1000 / 8 * 0.9,
    "uploadThroughput": 750 * 1000 / 8 * 0.9,
}
TARGET_SHARE = 0.20
TARGET_FIRST_SOUND_SECONDS = 1.0
SONGS = 12
PLAYBACK_RATE = 4

# Every clip plays at 4× and the page notes when a clip starts playing and when a trial's
# title changes (a new trial shown).
INIT_SCRIPT = f"""
const play = HTMLMediaElement.prototype.play;
window.__playing = [];
window.__heard = 0;
HTMLMediaElement.prototype.play = function () {{
  this.playbackRate = {PLAYBACK_RATE};
  // The players are detached Audio objects: their events never reach the document.
  const once = {{ once: true }};
  this.addEventListener("playing", () => window.__playing.push(performance.now()), once);
  this.addEventListener("ended", () => (window.__heard += this.duration), once);
  return play.call(this);
}};
window.__shown = [];
let title = null;
new MutationObserver(() => {{
  const now = document.querySelector('[data-step="rating"] [data-trial-title]')?.textContent;
  if (now && now !== title) {{
    title = now;
    window.__shown.push(performance.now());
  }}
}}).observe(document, {{ subtree: true, characterData: true, childList: true }});
"""


def cd_quality_wav(seed: int, seconds: float) -> bytes:
    """A synthesised song at CD quality: the stand-in clip upsampled to stereo with room noise."""
    from moodlab.audio import song_clip_wav

    with wave.open(
        io.BytesIO(song_clip_wav(f"bench-{seed}", seconds=seconds, sample_rate=44100))
    ) as w:
        mono = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    rng = np.random.default_rng(seed)
    left = mono + rng.normal(0, 60, len(mono))
    right = np.roll(mono, 40) * 0.9 + rng.normal(0, 60, len(mono))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(44100)
        stereo = np.column_stack([left, right]).clip(-32768, 32767).astype("<i2")
        writer.writeframes(stereo.tobytes())
    return buffer.getvalue()


class BenchClips:
    def __init__(self, external_ids: list[str], seconds: float) -> None:
        self.external_ids, self.seconds = external_ids, seconds

    def names(self) -> dict[str, str]:
        return {external_id: f"{external_id}.wav" for external_id in self.external_ids}

    def open(self, name: str) -> io.BytesIO:
        index = self.external_ids.index(name.removesuffix(".wav"))
        return io.BytesIO(cd_quality_wav(index, self.seconds))


def build_study(slug: str, *, trials: int, clip_seconds: float, deliver: bool) -> None:
    from moodlab.studies.models import Song, Study
    from moodlab.studies.services.song_import import songs_import
    from moodlab.studies.services.studies import study_add_locale, study_set_phase
    from moodlab.studies.services.term_import import terms_import

    study = Study.objects.create(
        slug=slug,
        title=slug,
        trials_per_participant=trials,
        repeat_trials=1,
        terms_per_participant=3,
        require_recruiter_id=False,
        ask_consent=False,
        volume_calibration=False,
        headphone_check=False,
        vocabulary_check=False,
        questionnaire=False,
    )
    locale = study_add_locale(study=study, code="en-US")
    terms_import(
        locale=locale,
        csv_source=(REPO / "moodlab/studies/demo_data/terms_en.csv").read_bytes(),
    )
    external_ids = [f"{slug}-{index:02d}" for index in range(SONGS)]
    csv = "videoID,iso2,country,song,artist\n" + "".join(
        f"{external_id},FR,France,{external_id},Bench\n" for external_id in external_ids
    )
    songs_import(study=study, csv_source=csv, audio=BenchClips(external_ids, clip_seconds))
    if not deliver:
        Song.objects.filter(study=study).update(delivery_audio="")
    study_set_phase(study=study, phase=Study.Phase.RATING)


@dataclass
class Session:
    bytes_total: int = 0
    bytes_audio: int = 0
    requests_total: int = 0
    requests_audio: int = 0
    audio_seconds: float = 0.0
    from_submit: list[float] = field(default_factory=list)
    from_shown: list[float] = field(default_factory=list)


def run_session(base_url: str, slug: str, trials: int) -> Session:
    from playwright.sync_api import expect, sync_playwright

    session = Session()
    urls: dict[str, str] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required"],
        )
        # Only so that Playwright may evaluate its waiting functions; nothing else changes.
        context = browser.new_context(viewport={"width": 360, "height": 800}, bypass_csp=True)
        context.add_init_script(INIT_SCRIPT)
        page = context.new_page()
        page.set_default_timeout(60_000)
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", FAST_3G)

        def sent(event: dict) -> None:
            urls[event["requestId"]] = event["request"]["url"]
            session.requests_total += 1
            if "/audio/" in event["request"]["url"]:
                session.requests_audio += 1

        def finished(event: dict) -> None:
            size = int(event.get("encodedDataLength", 0))
            session.bytes_total += size
            if "/audio/" in urls.get(event["requestId"], ""):
                session.bytes_audio += size

        cdp.on("Network.requestWillBeSent", sent)
        cdp.on("Network.loadingFinished", finished)

        page.goto(f"{base_url}/study/{slug}/en-US/")
        page.locator('[data-step="instructions_rating"] [data-start]').click()
        for number in range(1, trials + 2):  # the regular trials, then one repeat
            trial = page.locator('[data-step="rating"]')
            expect(trial.locator("[data-trial-title]")).to_contain_text(str(number))
            trial.locator("[data-play]").click()
            for term in trial.locator(".term").all():
                term.locator('input[value="3"]').check(force=True)
            submit = trial.locator("[type=submit]")
            expect(submit).to_be_enabled(timeout=120_000)
            clicked = page.evaluate("performance.now()")
            submit.click()
            if number <= trials:
                next_trial = page.locator('[data-step="rating"] [data-trial-title]')
                expect(next_trial).to_contain_text(str(number + 1))
                page.locator('[data-step="rating"] [data-play]').click()
                page.wait_for_function(f"window.__playing.some((t) => t > {clicked})")
                playing = page.evaluate(f"window.__playing.find((t) => t > {clicked})")
                shown = page.evaluate(f"window.__shown.find((t) => t > {clicked}) ?? {clicked}")
                session.from_submit.append((playing - clicked) / 1000)
                session.from_shown.append((playing - min(shown, playing)) / 1000)
        page.locator('[data-step="complete"]').wait_for()
        session.audio_seconds = page.evaluate("window.__heard")
        browser.close()
    return session


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=6, help="regular trials (plus one repeat)")
    parser.add_argument("--clip-seconds", type=float, default=20.0)
    args = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="moodlab-audio-bench-")
    env = {**os.environ, "MOODLAB_VAR_DIR": var_dir, "DEBUG": "1"}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "AWS_STORAGE_BUCKET_NAME"):
        env.pop(name, None)
    os.environ.clear()
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "moodlab.settings.base"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    build_study("bench-wav", trials=args.trials, clip_seconds=args.clip_seconds, deliver=False)
    build_study("bench-m4a", trials=args.trials, clip_seconds=args.clip_seconds, deliver=True)
    print(
        f"studies built (import + transcoding of {2 * SONGS} clips): "
        f"{time.perf_counter() - started:.1f} s"
    )

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):  # runserver's checks take a while on a busy machine
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        base_url = f"http://127.0.0.1:{port}"
        results = {
            mode: run_session(base_url, f"bench-{mode}", args.trials) for mode in ("wav", "m4a")
        }
    finally:
        server.terminate()
        server.wait()

    print(
        f"\none rating session, {args.trials} trials + 1 repeat, "
        f"{args.clip_seconds:g} s CD-quality clips, Fast 3G"
    )
    per_minute = {}
    for mode, session in results.items():
        minutes = session.audio_seconds / 60
        per_minute[mode] = session.bytes_audio / minutes if minutes else float("nan")
        print(
            f"{mode}: audio {session.bytes_audio:,} bytes in {session.requests_audio} requests; "
            f"session {session.bytes_total:,} bytes in {session.requests_total} requests; "
            f"{minutes:.2f} min of audio heard, {per_minute[mode] / 1e6:.2f} MB per minute"
        )
        print(
            f"  first sound of the next trial: from Submit median "
            f"{statistics.median(session.from_submit):.2f} s (max {max(session.from_submit):.2f}),"
            f" from the trial shown median {statistics.median(session.from_shown):.2f} s "
            f"(max {max(session.from_shown):.2f})"
        )
    share = per_minute["m4a"] / per_minute["wav"]
    first = statistics.median(results["m4a"].from_shown)
    worst = max(results["m4a"].from_shown)
    print(
        f"\nbytes per minute of audio: {share:.1%} of the WAV session "
        f"(target ≤ {TARGET_SHARE:.0%}): {'PASS' if share <= TARGET_SHARE else 'FAIL'}"
    )
    print(
        f"first sound of the next trial, from the trial shown: median {first:.2f} s, "
        f"max {worst:.2f} s (target < {TARGET_FIRST_SOUND_SECONDS:g} s): "
        f"{'PASS' if worst < TARGET_FIRST_SOUND_SECONDS else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
