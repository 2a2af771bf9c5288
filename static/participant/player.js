// One sound at a time: buffer it fully before offering Play, say clearly when it fails to
// load (with a retry), play only the clip's part of the file, and count the seconds really
// heard, which the server checks before it accepts an answer.

const MAX_STEP_SECONDS = 1.5; // a larger jump of currentTime is a seek, not listening
const LISTEN_MARGIN_SECONDS = 0.25; // the server forgives 0.5 s; stay well inside that
const FAILURES_BEFORE_SKIP = 2; // the first load and one retry

export class ClipPlayer {
  // `onSkip`: offered once the clip failed to load twice, so a broken file never traps the
  // participant; the caller records the failure and moves on.
  constructor(container, i18n, { onChange = () => {}, onSkip = null, loop = false, volume = 1 } = {}) {
    container.replaceChildren(document.getElementById("audio-player").content.cloneNode(true));
    this.i18n = i18n;
    this.onChange = onChange;
    this.playButton = container.querySelector("[data-play]");
    this.retryButton = container.querySelector("[data-retry]");
    this.skipButton = container.querySelector("[data-skip]");
    this.onSkip = onSkip;
    this.failures = 0;
    this.status = container.querySelector("[data-player-status]");
    this.fill = container.querySelector(".player-fill");
    this.audio = new Audio();
    this.audio.preload = "auto";
    this.audio.loop = loop;
    this.audio.volume = volume;
    this.playButton.addEventListener("click", () => this.play());
    this.retryButton.addEventListener("click", () => this.reload());
    this.skipButton.addEventListener("click", () => {
      this.skipButton.disabled = true;
      this.onSkip();
    });
    this.audio.addEventListener("canplaythrough", () => this.ready());
    this.audio.addEventListener("error", () => this.failed());
    this.audio.addEventListener("timeupdate", () => this.tick());
    this.audio.addEventListener("seeked", () => (this.lastTime = this.audio.currentTime));
    this.audio.addEventListener("ended", () => this.stopped());
  }

  // `required`: seconds that must be heard (null: the whole file, known once it ends).
  load(url, { start = null, end = null, required = null } = {}) {
    this.start = start ?? 0;
    this.end = end;
    this.required = required;
    this.played = 0;
    this.started = false;
    this.listened = false;
    this.loaded = false;
    this.failures = 0;
    this.skipButton.hidden = true;
    this.skipButton.disabled = false;
    this.lastTime = this.start;
    this.fill.style.inlineSize = "0%";
    this.audio.src = url;
    this.reload();
  }

  // A trial's song or an elicitation turn: both carry the same audio and clip fields.
  loadClip({ audio_url, clip_start_seconds, clip_end_seconds, clip_seconds }) {
    this.load(audio_url, {
      start: clip_start_seconds,
      end: clip_end_seconds,
      required: clip_seconds,
    });
  }

  set volume(level) {
    this.audio.volume = level;
  }

  get playedSeconds() {
    return Math.round(this.played * 100) / 100;
  }

  reload() {
    this.retryButton.hidden = true;
    this.playButton.disabled = true;
    this.playButton.textContent = this.i18n.t("audio_play");
    this.status.textContent = this.i18n.t("audio_loading");
    this.audio.load();
  }

  ready() {
    if (this.loaded) return;
    this.loaded = true;
    this.playButton.disabled = false;
    this.status.textContent = "";
  }

  failed() {
    this.loaded = false;
    this.failures += 1;
    this.audio.pause();
    this.playButton.disabled = true;
    this.retryButton.hidden = false;
    const skippable = this.onSkip !== null && this.failures >= FAILURES_BEFORE_SKIP;
    this.skipButton.hidden = !skippable;
    this.status.textContent = this.i18n.t(skippable ? "audio_failed_skip" : "audio_failed");
    if (skippable) this.skipButton.focus();
  }

  async play() {
    const time = this.audio.currentTime;
    if (time < this.start || (this.end !== null && time >= this.end) || this.audio.ended) {
      this.audio.currentTime = this.start;
    }
    this.lastTime = this.audio.currentTime;
    this.playButton.disabled = true;
    this.playButton.textContent = this.i18n.t("audio_playing");
    try {
      await this.audio.play();
    } catch {
      this.failed();
      return;
    }
    this.started = true;
    this.onChange();
  }

  pause() {
    this.audio.pause();
  }

  tick() {
    const time = this.audio.currentTime;
    const step = time - this.lastTime;
    if (step > 0 && step < MAX_STEP_SECONDS) this.played += step;
    this.lastTime = time;
    const length = (this.end ?? this.audio.duration) - this.start;
    if (length > 0) {
      const share = Math.min(Math.max((time - this.start) / length, 0), 1);
      this.fill.style.inlineSize = `${share * 100}%`;
    }
    if (this.required !== null && this.played >= this.required - LISTEN_MARGIN_SECONDS) {
      this.heard();
    }
    if (this.end !== null && time >= this.end && !this.audio.loop) {
      this.audio.pause();
      this.stopped();
    }
  }

  stopped() {
    // The last timeupdate comes up to 250 ms before the end: count that stretch too.
    const endTime = this.end ?? this.audio.duration;
    const rest = endTime - this.lastTime;
    if (rest > 0 && rest < MAX_STEP_SECONDS) this.played += rest;
    this.lastTime = endTime;
    this.fill.style.inlineSize = "100%";
    this.playButton.disabled = false;
    this.playButton.textContent = this.i18n.t("audio_replay");
    if (this.required === null || this.played >= this.required - LISTEN_MARGIN_SECONDS) {
      this.heard();
    }
    this.onChange();
  }

  heard() {
    if (this.listened) return;
    this.listened = true;
    this.status.textContent = this.i18n.t("audio_listened");
    this.onChange();
  }
}

// Fetch the clip the next trial will likely play while this one is rated, into the HTTP
// cache: audio links stay the same and immutable for an hour, so the next player reads the
// file from there and can start at once even on a slow connection.
const preloaded = new Set();

export function preloadAudio(url) {
  if (!url || preloaded.has(url)) return;
  preloaded.add(url);
  fetch(url, { mode: "no-cors", credentials: "same-origin", priority: "low" })
    .then((response) => response.arrayBuffer())
    .catch(() => preloaded.delete(url));
}
