// The session page: ask the API which step comes next and show it. Every step ends by
// handing the new participant state back to `route`, and a reload simply starts here again,
// so the page resumes wherever the session stands.

import { ApiError, NetworkError, createApi } from "./api.js";
import { showEnding } from "./ending.js";
import { startElicitation } from "./elicitation.js";
import { createI18n } from "./i18n.js";
import { createProgress } from "./progress.js";
import { startRating } from "./rating.js";
import {
  showConsent,
  showHeadphoneCheck,
  showQuestionnaire,
  showVocabularyCheck,
  showVolumeCalibration,
} from "./steps.js";

const VOLUME_KEY = "moodlab.volume";

const config = JSON.parse(document.getElementById("participant-config").textContent);
const i18n = createI18n(config.strings, config.locale);
const alertBox = document.querySelector("[data-alert]");

const ctx = {
  config,
  i18n,
  urls: config.urls,
  api: createApi({
    csrfToken: config.csrf_token,
    onRetry: () => ctx.alert(i18n.t("network_retrying")),
  }),
  progress: createProgress(document.querySelector("[data-progress]"), i18n),
  me: (step = "") => `${config.urls.participants}me/${step ? `${step}/` : ""}`,

  get volume() {
    return Number(sessionStorage.getItem(VOLUME_KEY) || 1);
  },
  set volume(level) {
    sessionStorage.setItem(VOLUME_KEY, String(level));
  },

  show(step) {
    for (const section of document.querySelectorAll("[data-step]")) {
      section.hidden = section.dataset.step !== step;
    }
    ctx.alert("");
    const section = document.querySelector(`[data-step="${step}"]`);
    const heading = [...section.querySelectorAll("h1")].find((h) => !h.closest("[hidden]"));
    if (heading) heading.focus();
    return section;
  },

  // Titled before it is shown, so the heading that takes the focus is already read out.
  trialTitle(step, progress) {
    i18n.fill(document.querySelector(`[data-step="${step}"] [data-trial-title]`), "trial_title", {
      number: i18n.number(progress.done + 1),
      total: i18n.number(progress.total),
    });
  },

  // Shown at the top of the page, and brought into view: a participant who pressed a
  // button at the bottom of a long page on a phone would not see it otherwise.
  alert(message) {
    alertBox.textContent = message;
    alertBox.hidden = !message;
    if (message) alertBox.scrollIntoView({ block: "nearest" });
  },

  // What a failed request means to the participant; the caller lets them try again.
  explain(error) {
    if (error instanceof NetworkError || (error instanceof ApiError && error.status >= 500)) {
      ctx.alert(i18n.t("network_failed"));
    } else {
      ctx.alert(i18n.t("server_refused"));
    }
  },

  // For every failed request: a session that ended under the page (time limit, exclusion,
  // a finished phase) shows how it ended; anything else lets the participant try again.
  async fail(error) {
    if (error instanceof ApiError && (error.status === 403 || error.status === 409)) {
      const state = await ctx.api.get(ctx.me()).catch(() => null);
      if (state && ["complete", "ended", "questionnaire"].includes(state.next_step)) {
        await route(state);
        return;
      }
    }
    ctx.explain(error);
  },

  // POST a step's answer with its buttons disabled; null when it failed (and was explained).
  // A 400 goes to `onInvalid`, which marks the fields the participant has to change.
  async submit(buttons, url, body, { onInvalid = null } = {}) {
    for (const button of buttons) button.disabled = true;
    try {
      return await ctx.api.post(url, body);
    } catch (error) {
      for (const button of buttons) button.disabled = false;
      if (onInvalid && error instanceof ApiError && error.status === 400) {
        onInvalid(error);
      } else {
        await ctx.fail(error);
      }
      return null;
    }
  },

  route,
  refresh: async () => route(await ctx.api.get(ctx.me())),
};

const STEPS = {
  consent: showConsent,
  volume_calibration: showVolumeCalibration,
  headphone_check: showHeadphoneCheck,
  vocabulary_check: showVocabularyCheck,
  trials: (c, state) => (state.phase === "rating" ? startRating(c) : startElicitation(c)),
  questionnaire: showQuestionnaire,
  complete: showEnding,
  ended: showEnding,
};

async function route(state) {
  // The level set at calibration comes with the session, so a new browser keeps it.
  if (typeof state.volume === "number") ctx.volume = state.volume;
  if (state.next_step !== "trials") ctx.progress.hide();
  try {
    await STEPS[state.next_step](ctx, state);
  } catch (error) {
    await ctx.fail(error);
  }
}

ctx.refresh().catch((error) => ctx.explain(error));
