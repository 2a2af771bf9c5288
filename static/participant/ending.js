// The last page: thanks, the code for the panel, and the panel's return link, followed
// automatically after a short countdown.

const REDIRECT_SECONDS = 5;

export function showEnding(ctx, state) {
  const { exit } = state;
  const { i18n } = ctx;
  let section;
  if (state.next_step === "complete") {
    section = ctx.show("complete");
  } else {
    const kinds = [...document.querySelectorAll("[data-step=ended] [data-kind]")];
    const kind = kinds.some((block) => block.dataset.kind === exit.kind) ? exit.kind : "excluded";
    for (const block of kinds) block.hidden = block.dataset.kind !== kind;
    section = ctx.show("ended");
  }

  showExit(section, exit, i18n);
}

// The code with its copy button and the panel's return link with its countdown, in an
// end page's `[data-exit]` block (exit.html); also used by the entry link's end pages.
export function showExit(section, exit, i18n) {
  const code = exit.code || "";
  section.querySelector("[data-exit-code-block]").hidden = !code;
  section.querySelector("[data-exit-code]").textContent = code;
  section.querySelector("[data-copy-code]").onclick = async (event) => {
    await navigator.clipboard.writeText(code).catch(() => {});
    event.target.textContent = i18n.t("copied");
  };

  // Only web links: a redirect URL is researcher-entered, but never a script.
  const url = /^https?:\/\//i.test(exit.redirect_url || "") ? exit.redirect_url : "";
  section.querySelector("[data-exit-link-block]").hidden = !url;
  section.querySelector("[data-exit-close]").hidden = Boolean(url);
  const countdown = section.querySelector("[data-exit-countdown]");
  if (!url) {
    countdown.textContent = "";
    return;
  }
  section.querySelector("[data-exit-link]").href = url;
  let left = REDIRECT_SECONDS;
  const tick = () => {
    if (left <= 0) {
      window.location.assign(url);
      return;
    }
    countdown.textContent = i18n.t("redirect_countdown", { seconds: i18n.number(left) });
    left -= 1;
    setTimeout(tick, 1000);
  };
  tick();
}
