// The steps before and after the trials: consent, volume, headphone check, vocabulary check
// and the questionnaire. Each ends by routing to the state the API answers with.

import { cloneTemplate } from "./dom.js";
import { ClipPlayer } from "./player.js";

export function showConsent(ctx, state) {
  const section = ctx.show("consent");
  const custom = section.querySelector("[data-consent-custom]");
  // The researcher's text: a paragraph per blank-line-separated block, as text only.
  custom.replaceChildren(
    ...state.consent_text
      .split(/\n\s*\n/)
      .filter((block) => block.trim())
      .map((block) => {
        const paragraph = document.createElement("p");
        paragraph.textContent = block.trim();
        return paragraph;
      }),
  );
  custom.hidden = !state.consent_text;
  section.querySelector("[data-consent-default]").hidden = Boolean(state.consent_text);
  const buttons = [...section.querySelectorAll("[data-consent]")];
  for (const button of buttons) {
    button.disabled = false;
    button.onclick = async () => {
      const agree = button.dataset.consent === "agree";
      const next = await ctx.submit(buttons, ctx.me("consent"), { agree });
      if (next) ctx.route(next);
    };
  }
}

export async function showVolumeCalibration(ctx) {
  const { audio_url: audioUrl } = await ctx.api.get(ctx.me("volume"));
  const section = ctx.show("volume_calibration");
  const done = section.querySelector("[data-volume-done]");
  const slider = section.querySelector("[data-volume-level]");
  const player = new ClipPlayer(section.querySelector("[data-player]"), ctx.i18n, {
    loop: true,
    volume: ctx.volume,
    onChange: () => (done.disabled = !player.started),
  });
  slider.value = String(ctx.volume);
  slider.oninput = () => {
    ctx.volume = Number(slider.value);
    player.volume = ctx.volume;
  };
  done.disabled = true;
  done.onclick = async () => {
    player.pause();
    const next = await ctx.submit([done], ctx.me("volume"), { level: Number(slider.value) });
    if (next) ctx.route(next);
  };
  player.load(audioUrl);
}

export async function showHeadphoneCheck(ctx) {
  const { trials } = await ctx.api.get(ctx.me("headphones"));
  const section = ctx.show("headphone_check");
  const { i18n } = ctx;
  const choices = [...section.querySelectorAll("[data-headphones-choices] button")];
  const count = section.querySelector("[data-headphones-count]");
  const hint = section.querySelector("[data-headphones-hint]");
  const answers = [];
  const player = new ClipPlayer(section.querySelector("[data-player]"), i18n, {
    // The answer opens once all three sounds have played to the end.
    onChange: () => {
      for (const choice of choices) choice.disabled = !player.listened;
      hint.textContent = player.listened ? "" : i18n.t("headphones_answer_first");
    },
    volume: ctx.volume,
  });

  function present() {
    i18n.fill(count, "headphones_trial", {
      number: i18n.number(answers.length + 1),
      total: i18n.number(trials.length),
    });
    for (const choice of choices) choice.disabled = true;
    hint.textContent = i18n.t("headphones_answer_first");
    player.load(trials[answers.length].audio_url);
  }

  for (const choice of choices) {
    choice.onclick = async () => {
      player.pause();
      answers.push(Number(choice.value));
      if (answers.length < trials.length) {
        present();
        section.querySelector("[data-play]").focus();
        return;
      }
      const result = await ctx.submit(choices, ctx.me("headphones"), { answers });
      if (result) {
        ctx.route(result.state);
      } else {
        answers.pop(); // answered again by the next click, with the same payload
      }
    };
  }
  present();
}

export async function showVocabularyCheck(ctx) {
  const { items } = await ctx.api.get(ctx.me("vocabulary"));
  const section = ctx.show("vocabulary_check");
  const list = section.querySelector("[data-vocabulary-items]");
  const hint = section.querySelector("[data-vocabulary-hint]");
  const form = section.querySelector("form");
  list.replaceChildren(
    ...items.map((item, index) => {
      const node = cloneTemplate("vocabulary-item");
      node.dataset.id = item.id;
      node.querySelector("legend").textContent = item.word;
      for (const input of node.querySelectorAll("input")) input.name = `word-${index}`;
      return node;
    }),
  );
  form.onchange = (event) => {
    const word = event.target.closest(".word");
    if (word) clearWordError(word);
  };
  form.onsubmit = async (event) => {
    event.preventDefault();
    const nodes = [...list.children];
    const unanswered = nodes.filter((node) => !node.querySelector("input:checked"));
    if (unanswered.length) {
      // Said at each word left out, and at the first of them, where the focus goes.
      hint.textContent = ctx.i18n.t("vocabulary_answer_all");
      for (const node of unanswered) markWord(node, ctx.i18n.t("vocabulary_word_unanswered"));
      showFirstError(unanswered[0], unanswered[0].querySelector("input"));
      return;
    }
    hint.textContent = "";
    const answers = nodes.map((node) => ({
      id: node.dataset.id,
      is_word: node.querySelector("input:checked").value === "yes",
    }));
    const result = await ctx.submit([form.querySelector("[type=submit]")], ctx.me("vocabulary"), {
      answers,
    });
    if (result) ctx.route(result.state);
  };
}

export async function showQuestionnaire(ctx) {
  const { fields } = await ctx.api.get(ctx.me("questionnaire"));
  const section = ctx.show("questionnaire");
  const form = section.querySelector("form");
  for (const field of fields) {
    const control = form.elements.namedItem(field.name);
    control.required = field.required;
    if (field.choices && control.tagName === "SELECT") {
      control.replaceChildren(
        new Option(ctx.i18n.t("choose"), ""),
        ...field.choices.map((choice) => new Option(choice.label, choice.value)),
      );
    }
  }

  form.onsubmit = async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const body = {};
    const missing = [];
    for (const field of fields) {
      const raw = form.elements.namedItem(field.name).value.trim();
      if (field.required && raw === "") missing.push(field.name);
      body[field.name] = field.type === "integer" ? (raw === "" ? null : Number(raw)) : raw;
    }
    if (missing.length) {
      for (const name of missing) markField(form, name, ctx.i18n.t("field_required"));
      return;
    }
    const next = await ctx.submit([form.querySelector("[type=submit]")], ctx.me("questionnaire"), body, {
      onInvalid: (error) => {
        for (const name of Object.keys(error.fields)) markField(form, name, ctx.i18n.t("field_invalid"));
      },
    });
    if (next) ctx.route(next);
  };
}

function markWord(node, text) {
  if (node.querySelector(".field-error")) return;
  const message = document.createElement("p");
  message.className = "field-error";
  message.id = `word-error-${node.dataset.id}`;
  message.textContent = text;
  node.querySelector("legend").after(message);
  node.setAttribute("aria-invalid", "true");
  node.setAttribute("aria-describedby", message.id);
}

function clearWordError(node) {
  node.querySelector(".field-error")?.remove();
  node.removeAttribute("aria-invalid");
  node.removeAttribute("aria-describedby");
}

// Bring the first problem to the middle of the screen and put the focus on it: on a phone
// the message must be where the participant looks, not a screen away.
function showFirstError(container, control) {
  control.focus({ preventScroll: true });
  container.scrollIntoView({ block: "center" });
}

function clearFieldErrors(form) {
  for (const message of form.querySelectorAll(".field-error")) message.remove();
  for (const control of form.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    control.removeAttribute("aria-describedby");
  }
}

function markField(form, name, text) {
  const control = form.elements.namedItem(name);
  if (!control) return;
  const message = document.createElement("p");
  message.className = "field-error";
  message.id = `${control.id}-error`;
  message.textContent = text;
  control.after(message);
  control.setAttribute("aria-invalid", "true");
  control.setAttribute("aria-describedby", message.id);
  if (!form.querySelector("[aria-invalid]:focus")) showFirstError(control.closest(".field") || control, control);
}
