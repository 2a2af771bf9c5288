// Markup lives in the page's <template> elements (translated on the server); scripts clone
// it and fill in data with textContent only.

export function cloneTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

export function listItem(text, className = "") {
  const item = document.createElement("li");
  if (className) item.className = className;
  item.textContent = text;
  return item;
}

// Digit keys answer a scale, Latin or Arabic-Indic (an Egyptian keyboard types the latter).
const ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩";

function digitOf(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) return null;
  if (event.key >= "0" && event.key <= "9") return Number(event.key);
  const arabic = ARABIC_INDIC_DIGITS.indexOf(event.key);
  return arabic === -1 ? null : arabic;
}

// A digit typed inside one of the form's scales (each a `groupSelector` element holding
// inputs valued on the scale) checks and focuses that value, then calls `onAnswer`.
export function answerScalesByDigit(form, groupSelector, onAnswer) {
  form.onkeydown = (event) => {
    const value = digitOf(event);
    const group = event.target.closest(groupSelector);
    // Only the scale's own points answer: a digit outside it does nothing.
    const input = value === null || !group ? null : group.querySelector(`input[value="${value}"]`);
    if (!input) return;
    event.preventDefault();
    input.checked = true;
    input.focus();
    onAnswer();
  };
}
