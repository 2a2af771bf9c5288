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
const DIGITS = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, "١": 1, "٢": 2, "٣": 3, "٤": 4, "٥": 5 };

function digitOf(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  return DIGITS[event.key] ?? null;
}

// A digit typed inside one of the form's scales (each a `groupSelector` element holding
// inputs valued 1–5) checks and focuses that value, then calls `onAnswer`.
export function answerScalesByDigit(form, groupSelector, onAnswer) {
  form.onkeydown = (event) => {
    const value = digitOf(event);
    const group = event.target.closest(groupSelector);
    if (value === null || !group) return;
    event.preventDefault();
    const input = group.querySelector(`input[value="${value}"]`);
    input.checked = true;
    input.focus();
    onAnswer();
  };
}
