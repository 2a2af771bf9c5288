// Elicitation turns: play the clip, rate the earlier listeners' tags (stars or a flag),
// add tags of one's own with suggestions from the locale's earlier tags, submit, next.

import { ApiError } from "./api.js";
import { answerScalesByDigit, cloneTemplate, listItem } from "./dom.js";
import { checkedChoices, keptPlayer, keptTrial, restoreChoices, wasShown } from "./keep.js";
import { stopWaiting, waitForWork } from "./waiting.js";

const SUGGEST_DELAY_MS = 200;

export async function startElicitation(ctx) {
  const state = await ctx.api.get(ctx.urls.elicitation_turn);
  if (state.turn && state.progress.done === 0 && !wasShown(`turn.${state.turn.id}`)) {
    const section = ctx.show("instructions_elicitation");
    section.querySelector("[data-start]").onclick = () => showTurn(ctx, state);
  } else {
    await proceed(ctx, state);
  }
}

async function proceed(ctx, state) {
  if (state.waiting) await waitForWork(ctx, state.retry_after_seconds, () => startElicitation(ctx));
  else if (state.done) await ctx.refresh();
  else showTurn(ctx, state);
}

function starsFor(ctx, tag) {
  const group = cloneTemplate("rate-tag");
  ctx.i18n.fill(group.querySelector("legend"), "tag_rate_question", { tag: tag.text });
  const stars = group.querySelector(".stars");
  const option = (value, text, className) => {
    const label = document.createElement("label");
    label.className = className;
    const input = document.createElement("input");
    input.type = "radio";
    input.name = `tag-${tag.id}`;
    input.value = String(value);
    const caption = document.createElement("span");
    caption.className = "visually-hidden";
    caption.textContent = text;
    label.append(input, caption);
    return label;
  };
  const { scale_min: fewest, scale_max: most } = ctx.config.elicitation;
  for (let value = fewest; value <= most; value += 1) {
    stars.append(
      option(value, ctx.i18n.t("tag_stars", { stars: ctx.i18n.number(value) }), "star"),
    );
  }
  const flag = option("flag", "", "flag");
  flag.querySelector("span").className = "flag-text";
  flag.querySelector("span").textContent = ctx.i18n.t("tag_flag");
  stars.append(flag);
  return group;
}

function showTurn(ctx, state) {
  stopWaiting();
  const { turn, progress } = state;
  const { i18n } = ctx;
  const limits = ctx.config.elicitation;
  ctx.progress.update(progress.done, progress.total, state.estimated_seconds_remaining);
  ctx.trialTitle("elicitation", progress);
  const section = ctx.show("elicitation");
  const form = section.querySelector("[data-turn-form]");
  const button = form.querySelector("[type=submit]");
  const hint = section.querySelector("[data-turn-hint]");
  const input = section.querySelector("[data-new-tag]");
  const suggestions = section.querySelector("[data-tag-suggestions]");
  const added = section.querySelector("[data-new-tags]");
  const newTags = [];
  let busy = false;
  let suggestTimer = 0;
  const kept = keptTrial(`turn.${turn.id}`);

  const { player, load } = keptPlayer(section.querySelector("[data-player]"), i18n, kept, {
    onChange: update,
    onSkip: skip,
    volume: ctx.volume,
  });

  section.querySelector("[data-frozen-block]").hidden = turn.frozen_tags.length === 0;
  section
    .querySelector("[data-frozen-tags]")
    .replaceChildren(...turn.frozen_tags.map((tag) => listItem(tag.text, "tag")));
  section.querySelector("[data-rate-block]").hidden = turn.tags_to_rate.length === 0;
  section
    .querySelector("[data-tags-to-rate]")
    .replaceChildren(...turn.tags_to_rate.map((tag) => starsFor(ctx, tag)));
  const first = section.querySelector("[data-first-listener]");
  first.hidden = turn.tags_to_rate.length + turn.frozen_tags.length > 0;
  first.textContent = i18n.t("tags_none_yet");
  input.value = "";
  input.maxLength = limits.max_tag_length;
  suggestions.replaceChildren();
  added.replaceChildren();
  restoreChoices(form, kept.data.answers);

  function keep() {
    kept.save({ answers: checkedChoices(form, ".tags-to-rate input:checked"), newTags });
  }

  // The clip failed to load twice: the turn is recorded as an audio failure, uncounted.
  async function skip() {
    let nextState;
    try {
      nextState = await ctx.api.post(ctx.urls.elicitation_audio_failed, { turn: turn.id });
    } catch (error) {
      await refused(ctx, error, hint);
      return;
    }
    kept.clear();
    await proceed(ctx, nextState).catch((failure) => ctx.fail(failure));
  }

  function ratings() {
    const answered = {};
    for (const checked of form.querySelectorAll(".tags-to-rate input:checked")) {
      const value = checked.value === "flag" ? "flag" : Number(checked.value);
      answered[checked.name.slice("tag-".length)] = value;
    }
    return answered;
  }

  function update() {
    const rated = Object.keys(ratings()).length === turn.tags_to_rate.length;
    const something = turn.tags_to_rate.length > 0 || newTags.length > 0;
    button.disabled = busy || !player.listened || !rated || !something;
    if (busy) return;
    if (!player.listened) hint.textContent = i18n.t("audio_listen_first");
    else if (!rated) hint.textContent = i18n.t("rate_all_tags");
    else if (!something) hint.textContent = i18n.t("add_tag_first");
    else hint.textContent = "";
  }

  function known(text) {
    const key = text.toLocaleLowerCase(ctx.config.locale);
    return [...turn.frozen_tags, ...turn.tags_to_rate, ...newTags.map((t) => ({ text: t }))].some(
      (tag) => tag.text.toLocaleLowerCase(ctx.config.locale) === key,
    );
  }

  function addTag() {
    const text = input.value.trim().replace(/\s+/g, " ");
    if (!text) return;
    if (text.split(" ").length > limits.max_tag_words || text.length > limits.max_tag_length) {
      hint.textContent = i18n.t("tag_too_long", {
        words: i18n.number(limits.max_tag_words),
        characters: i18n.number(limits.max_tag_length),
      });
      return;
    }
    if (known(text)) {
      hint.textContent = i18n.t("tag_duplicate");
      return;
    }
    if (newTags.length >= limits.max_new_tags) {
      hint.textContent = i18n.t("tag_limit", { count: i18n.number(limits.max_new_tags) });
      return;
    }
    newTags.push(text);
    added.append(addedTag(text));
    input.value = "";
    suggestions.replaceChildren();
    keep();
    update();
  }

  function addedTag(text) {
    const item = listItem("", "tag");
    const label = document.createElement("bdi");
    label.textContent = text;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "tag-remove";
    remove.textContent = "×";
    remove.setAttribute("aria-label", i18n.t("tag_remove", { tag: text }));
    remove.onclick = () => {
      newTags.splice(newTags.indexOf(text), 1);
      item.remove();
      input.focus();
      keep();
      update();
    };
    item.append(label, " ", remove);
    return item;
  }

  async function suggest() {
    const query = input.value.trim();
    if (!query) {
      suggestions.replaceChildren();
      return;
    }
    const url = `${ctx.urls.elicitation_tags}?${new URLSearchParams({ q: query })}`;
    const found = await ctx.api.peek(url).catch(() => []);
    if (input.value.trim() === query) {
      suggestions.replaceChildren(...found.map((tag) => new Option(tag.text, tag.text)));
    }
  }

  input.oninput = () => {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, SUGGEST_DELAY_MS);
  };
  input.onkeydown = (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      addTag();
    }
  };
  section.querySelector("[data-add-tag]").onclick = addTag;
  for (const text of kept.data.newTags || []) {
    newTags.push(text);
    added.append(addedTag(text));
  }
  const changed = () => {
    keep();
    update();
  };
  form.onchange = changed;
  answerScalesByDigit(form, ".tag-rating", changed);
  form.onsubmit = async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    busy = true;
    update();
    hint.textContent = i18n.t("saving");
    const body = {
      turn: turn.id,
      ratings: ratings(),
      new_tags: [...newTags],
      audio_played_seconds: player.playedSeconds,
    };
    let nextState;
    try {
      nextState = await ctx.api.post(ctx.urls.elicitation_submit, body);
    } catch (error) {
      busy = false;
      update();
      await refused(ctx, error, hint);
      return;
    }
    player.pause();
    kept.clear();
    await proceed(ctx, nextState).catch((failure) => ctx.fail(failure));
  };

  load(turn);
  update();
}

async function refused(ctx, error, hint) {
  const { i18n } = ctx;
  if (error instanceof ApiError && error.status === 409 && error.code !== "session_ended") {
    // The turn timed out or was answered in another tab: carry on with the current one.
    const state = await ctx.api.get(ctx.urls.elicitation_turn).catch((failure) => ctx.fail(failure));
    if (!state) return;
    await proceed(ctx, state);
    if (error.code === "turn_expired") ctx.alert(i18n.t("turn_expired"));
  } else if (error instanceof ApiError && error.status === 400) {
    if (error.fields.audio_played_seconds) hint.textContent = i18n.t("audio_listen_first");
    else if (error.fields.new_tags) hint.textContent = i18n.t("tags_rejected");
    else hint.textContent = i18n.t("rate_all_tags");
  } else {
    await ctx.fail(error);
  }
}
