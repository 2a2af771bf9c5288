// A session with no work free right now (other participants hold every song or chain)
// waits on this page and asks again, less often each time, instead of ending unpaid.

const MAX_WAIT_SECONDS = 60;
let delay = 0;

export async function waitForWork(ctx, retryAfterSeconds, askAgain) {
  ctx.progress.hide();
  const section = ctx.show("waiting");
  const status = section.querySelector("[data-waiting-status]");
  delay = Math.min(delay ? delay * 2 : retryAfterSeconds, MAX_WAIT_SECONDS);
  let left = delay;
  await new Promise((resolve) => {
    const tick = () => {
      if (left <= 0) {
        resolve();
        return;
      }
      ctx.i18n.fill(status, "waiting_retry", { seconds: ctx.i18n.number(left) });
      left -= 1;
      setTimeout(tick, 1000);
    };
    tick();
  });
  try {
    await askAgain();
  } catch (error) {
    await ctx.fail(error);
  }
}

// Work was found: the next wait starts short again.
export function stopWaiting() {
  delay = 0;
}
