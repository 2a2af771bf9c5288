// The progress bar over the trials: done / total and the time that is probably left. The
// fill grows from the inline start, so it runs right to left on Arabic pages.

export function createProgress(root, i18n) {
  const track = root.querySelector("[role=progressbar]");
  const fill = root.querySelector(".progress-fill");
  const count = root.querySelector("[data-progress-count]");
  const time = root.querySelector("[data-progress-time]");

  return {
    update(done, total, secondsLeft) {
      root.hidden = false;
      const share = total > 0 ? Math.min(done / total, 1) : 0;
      fill.style.inlineSize = `${share * 100}%`;
      track.setAttribute("aria-valuemax", String(total));
      track.setAttribute("aria-valuenow", String(done));
      count.textContent = i18n.t("progress", {
        done: i18n.number(done),
        total: i18n.number(total),
      });
      time.textContent =
        secondsLeft < 60
          ? i18n.t("time_left_short")
          : i18n.t("time_left", { duration: i18n.minutes(Math.ceil(secondsLeft / 60)) });
    },
    hide() {
      root.hidden = true;
    },
  };
}
