// The participant API over fetch: JSON in and out, the session cookie and the CSRF token,
// and patient retries of the *same* request when the network or the server blinks. Every
// POST of the participant API answers an identical retry with the same state, so resending
// never records an answer twice.

const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const RETRY_DELAYS_MS = [1000, 2000, 4000];

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "";
    this.fields = error.fields || {};
  }
}

export class NetworkError extends Error {}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function retryDelay(response, attempt) {
  const header = response && Number(response.headers.get("Retry-After"));
  return header > 0 ? Math.min(header, 30) * 1000 : RETRY_DELAYS_MS[attempt];
}

export function createApi({ csrfToken, onRetry }) {
  async function send(method, url, body, retries = RETRY_DELAYS_MS.length) {
    const init = {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = csrfToken;
      init.body = JSON.stringify(body); // serialised once: every retry sends the same bytes
    }
    for (let attempt = 0; ; attempt += 1) {
      let response = null;
      try {
        response = await fetch(url, init);
      } catch {
        if (attempt >= retries) throw new NetworkError();
      }
      if (response && !(RETRY_STATUSES.has(response.status) && attempt < retries)) {
        const data = await response.json().catch(() => null);
        if (!response.ok) throw new ApiError(response.status, data);
        return data;
      }
      if (onRetry) onRetry();
      await sleep(retryDelay(response, attempt));
    }
  }

  return {
    get: (url) => send("GET", url),
    // For requests nobody waits on (suggestions): one try, no retry notice.
    peek: (url) => send("GET", url, undefined, 0),
    post: (url, body = {}) => send("POST", url, body),
  };
}
