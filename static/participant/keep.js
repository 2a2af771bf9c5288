// What the participant did on the trial on screen (answers clicked, seconds heard), kept in
// this tab's sessionStorage under the trial's id: a reload shows it again instead of asking
// for the clip and the answers a second time. The server still checks both on submission.

import { ClipPlayer } from "./player.js";

const PREFIX = "moodlab.trial.";

// Whether the trial was on screen before (a reload): its instructions need not come again.
export function wasShown(key) {
  return sessionStorage.getItem(PREFIX + key) !== null;
}

export function keptTrial(key) {
  const storageKey = PREFIX + key;
  let data = {};
  try {
    data = JSON.parse(sessionStorage.getItem(storageKey) || "{}") || {};
  } catch {
    data = {};
  }
  const write = () => {
    try {
      sessionStorage.setItem(storageKey, JSON.stringify(data));
    } catch {
      // Storage full or refused (private mode): the page works, only a reload forgets.
    }
  };
  return {
    data,
    save(patch) {
      Object.assign(data, patch);
      write();
    },
    clear() {
      sessionStorage.removeItem(storageKey);
    },
  };
}

// The trial on screen saves what it heard when the page goes away mid-clip.
let rememberCurrent = null;
window.addEventListener("pagehide", () => rememberCurrent?.());

// Keep the seconds the player has counted, and give them back after a reload. Call after
// the clip is loaded; call the returned function whenever the player reports a change.
function keepListening(player, kept) {
  const remember = () => kept.save({ played: player.played, listened: player.listened });
  if (kept.data.played) player.played = kept.data.played;
  if (kept.data.listened) player.heard();
  kept.save({}); // marks the trial as shown
  rememberCurrent = remember;
  return remember;
}

// The trial's clip player, whose seconds heard are kept with the trial's answers; `onChange`
// runs after each change is kept. Call `load(clip)` once the trial is on screen.
export function keptPlayer(root, i18n, kept, { onChange, onSkip, volume }) {
  let remember = () => {};
  const player = new ClipPlayer(root, i18n, {
    onChange: () => {
      remember();
      onChange();
    },
    onSkip,
    volume,
  });
  return {
    player,
    load(clip) {
      player.loadClip(clip);
      remember = keepListening(player, kept);
    },
  };
}

// Check the radio buttons named in `answers` (input name to value) inside `form`.
export function restoreChoices(form, answers = {}) {
  for (const [name, value] of Object.entries(answers)) {
    const input = form.querySelector(`input[name="${CSS.escape(name)}"][value="${CSS.escape(String(value))}"]`);
    if (input) input.checked = true;
  }
}

export function checkedChoices(form, selector = "input:checked") {
  const answers = {};
  for (const input of form.querySelectorAll(selector)) answers[input.name] = input.value;
  return answers;
}
