// Strings of the page's scripts, translated on the server into the participant's language.
// Placeholders look like {name}; `fill` puts each value in its own <bdi>, so a Latin word
// inside Arabic text (or the reverse) keeps its own direction.

const PLACEHOLDER = /\{(\w+)\}/g;

export function createI18n(strings, locale) {
  const numbers = new Intl.NumberFormat(locale);
  const minutes = new Intl.NumberFormat(locale, {
    style: "unit",
    unit: "minute",
    unitDisplay: "long",
  });

  function t(key, values = {}) {
    const text = strings[key] ?? key;
    return text.replace(PLACEHOLDER, (match, name) => (name in values ? String(values[name]) : match));
  }

  function fill(element, key, values = {}) {
    const text = strings[key] ?? key;
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(PLACEHOLDER)) {
      parts.push(text.slice(last, match.index));
      const isolated = document.createElement("bdi");
      isolated.textContent = String(values[match[1]] ?? match[0]);
      parts.push(isolated);
      last = match.index + match[0].length;
    }
    parts.push(text.slice(last));
    element.replaceChildren(...parts);
  }

  return {
    t,
    fill,
    number: (value) => numbers.format(value),
    minutes: (value) => minutes.format(value),
  };
}
