// Rating trials: play the clip, rate every term on the scale, submit, next. The scale's
// points and labels come with each trial from the API (moodlab/studies/scale.py): no number
// of it is written here. Submit unlocks once the clip has been heard and every term
// answered; the server checks both.

import { ApiError } from "./api.js";
import { answerScalesByDigit, cloneTemplate, listItem } from "./dom.js";
import { checkedChoices, keptPlayer, keptTrial, restoreChoices, wasShown } from "./keep.js";
import { preloadAudio } from "./player.js";
import { stopWaiting, waitForWork } from "./waiting.js";

export async function startRating(ctx) {
  const view = await ctx.api.get(ctx.urls.rating_trial);
  const reloaded = view.trial && wasShown(`rating.${view.trial.id}`);
  if (view.trial && view.progress.done === 0 && !reloaded) showInstructions(ctx, view);
  else await proceed(ctx, view);
}

async function proceed(ctx, view) {
  if (view.session_ended) {
    await ctx.refresh(); // the study filled up before this session had a song
  } else if (view.waiting) {
    await waitForWork(ctx, view.retry_after_seconds, () => startRating(ctx));
  } else if (view.finished) {
    await finish(ctx);
  } else {
    showTrial(ctx, view);
  }
}

async function next(ctx) {
  await proceed(ctx, await ctx.api.get(ctx.urls.rating_trial));
}

async function finish(ctx) {
  await ctx.api.post(ctx.urls.rating_finish);
  await ctx.refresh();
}

function showInstructions(ctx, view) {
  const section = ctx.show("instructions_rating");
  section
    .querySelector("[data-instructions-terms]")
    .replaceChildren(...view.trial.terms.map((term) => listItem(term.label)));
  section.querySelector("[data-instructions-scale]").replaceChildren(
    ...view.trial.scale.map((point) => {
      const item = listItem("");
      const number = document.createElement("span");
      number.className = "scale-number";
      number.textContent = ctx.i18n.number(point.value);
      item.append(number, " ", point.label);
      return item;
    }),
  );
  section.querySelector("[data-start]").onclick = () => showTrial(ctx, view);
}

function termGroup(ctx, trial, term) {
  const group = cloneTemplate("rating-term");
  ctx.i18n.fill(group.querySelector("legend"), "term_question", { term: term.label });
  group.querySelector(".scale").replaceChildren(
    ...trial.scale.map((point) => {
      const label = cloneTemplate("rating-point");
      const input = label.querySelector("input");
      input.name = `term-${term.id}`;
      input.value = String(point.value);
      label.querySelector(".scale-number").textContent = ctx.i18n.number(point.value);
      label.querySelector(".scale-label").textContent = point.label;
      return label;
    }),
  );
  return group;
}

function showTrial(ctx, view) {
  stopWaiting();
  const { trial, progress } = view;
  const { i18n } = ctx;
  // The time the participant takes, from here to submit (the server caps it by its own).
  const shownAt = performance.now();
  ctx.progress.update(progress.done, progress.total, view.estimated_seconds_remaining);
  ctx.trialTitle("rating", progress);
  const section = ctx.show("rating");
  const form = section.querySelector("[data-rating-form]");
  const button = form.querySelector("[type=submit]");
  const hint = section.querySelector("[data-rating-hint]");
  let busy = false;
  const kept = keptTrial(`rating.${trial.id}`);
  const { player, load } = keptPlayer(section.querySelector("[data-player]"), i18n, kept, {
    onChange: update,
    onSkip: skip,
    volume: ctx.volume,
  });
  form.querySelector("[data-terms]").replaceChildren(...trial.terms.map((term) => termGroup(ctx, trial, term)));
  restoreChoices(form, kept.data.answers);

  function ratings() {
    const answered = {};
    for (const input of form.querySelectorAll("input:checked")) {
      answered[input.name.slice("term-".length)] = Number(input.value);
    }
    return answered;
  }

  function update() {
    const complete = Object.keys(ratings()).length === trial.terms.length;
    button.disabled = busy || !player.listened || !complete;
    if (!busy) {
      hint.textContent = !player.listened
        ? i18n.t("audio_listen_first")
        : complete
          ? ""
          : i18n.t("answer_all_terms");
    }
  }

  function changed() {
    kept.save({ answers: checkedChoices(form) });
    update();
  }

  // The clip failed to load twice: the trial is recorded as an audio failure, uncounted.
  async function skip() {
    try {
      const nextView = await ctx.api.post(ctx.urls.rating_audio_failed.replace("{id}", String(trial.id)));
      kept.clear();
      await proceed(ctx, nextView);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        await next(ctx).catch((failure) => ctx.fail(failure));
      } else {
        await ctx.fail(error);
      }
    }
  }

  form.onchange = changed;
  answerScalesByDigit(form, ".term", changed);
  form.onsubmit = async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    busy = true;
    update();
    hint.textContent = i18n.t("saving");
    const body = {
      ratings: ratings(),
      audio_played_seconds: player.playedSeconds,
      response_seconds: (performance.now() - shownAt) / 1000,
    };
    try {
      const submitted = await ctx.api.post(
        ctx.urls.rating_submit.replace("{id}", String(trial.id)),
        body,
      );
      player.pause();
      kept.clear();
      await proceed(ctx, submitted.next); // the answer carries the next trial
    } catch (error) {
      // Pressing the button again resends these very answers, which the server accepts
      // once however often they arrive.
      busy = false;
      update();
      if (error instanceof ApiError && error.status === 409) {
        await next(ctx).catch((failure) => ctx.fail(failure)); // answered before, or released
      } else if (error instanceof ApiError && error.fields.audio_played_seconds) {
        hint.textContent = i18n.t("audio_listen_first");
      } else {
        await ctx.fail(error);
      }
    }
  };

  load(trial.song);
  // Once this clip can play, fetch the next one so it starts at once after the submit.
  player.audio.addEventListener("canplaythrough", () => preloadAudio(trial.upcoming_audio_url), {
    once: true,
  });
  update();
}
