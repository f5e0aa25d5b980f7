// EventBridge browser client: one user's events over the gateway's SSE stream, resumed exactly
// after any drop. No dependencies; the contract it implements is docs/browser.md.

/** The client's version; the gateway serves this file at /v1/eventbridge-client-<VERSION>.js. */
export const VERSION = "0.1.0";

/** Event names the gateway uses itself; they cannot be subscribed to as event types. */
export const RESERVED_EVENTS = Object.freeze(["reset", "closing", "open", "error", "message"]);

const DEFAULT_INITIAL_DELAY_MS = 500;
const DEFAULT_MAX_DELAY_MS = 30000;
const MAX_TIMER_MS = 2147483647; // a longer setTimeout fires at once in browsers
const ZERO_ID = "0-0";

/**
 * How long to wait before reconnect attempt `attempt` (0 = the first retry after a drop).
 * The ceiling doubles per attempt up to `maxDelayMs`; the delay is half the ceiling plus a random
 * share of the other half ("equal jitter"), so clients cut off together do not return together,
 * and it is never shorter than the server's Retry-After.
 */
export function backoffDelay(attempt, options = {}, random = Math.random) {
  const initial = options.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS;
  const max = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const retryAfter = options.retryAfterMs ?? 0;
  const steps = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const ceiling = Math.min(max, initial * 2 ** steps);
  const delay = Math.round(Math.max(retryAfter, ceiling / 2) + random() * (ceiling / 2));
  return Math.min(delay, MAX_TIMER_MS);
}

/**
 * A Retry-After header in milliseconds: delta-seconds ("3") or an HTTP date, measured from
 * `nowMs`; null when absent or unreadable, 0 for a date in the past.
 */
export function parseRetryAfter(value, nowMs = Date.now()) {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return null; // "1.5", "-1": not a Retry-After
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

function base(baseUrl) {
  return String(baseUrl ?? "").replace(/\/+$/, "");
}

/** POST here, with the bearer token, for a single-use ticket. */
export function ticketUrl(baseUrl) {
  return `${base(baseUrl)}/v1/sse-tickets`;
}

/**
 * The stream's URL for one connection. A resume (`lastEventId`) replays everything after that
 * id, so `history` only applies to a connection that has no position yet.
 */
export function eventsUrl(baseUrl, { ticket, lastEventId, sessionId, history } = {}) {
  const params = new URLSearchParams();
  if (ticket) params.set("ticket", ticket);
  if (lastEventId) params.set("last_event_id", lastEventId);
  else if (history) params.set("history", String(history));
  if (sessionId) params.set("session_id", sessionId);
  const query = params.toString();
  return `${base(baseUrl)}/v1/events${query ? `?${query}` : ""}`;
}

/** Statuses after which trying again (with a fresh ticket, later) can succeed. */
function retriable(status) {
  return status === 401 || status === 408 || status === 429 || status >= 500;
}

async function failure(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not the gateway's JSON (a proxy's error page): the status says enough
  }
  return {
    kind: "http",
    status: response.status,
    reason: typeof body.reason === "string" ? body.reason : null,
    message: typeof body.message === "string" ? body.message : `HTTP ${response.status}`,
    retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
  };
}

/** Run a page's callback; if it throws, report it and carry on, so a bug in a callback
 *  never stops the reconnects or the other callbacks. */
function guarded(callback, value) {
  if (typeof callback !== "function") return;
  try {
    callback(value);
  } catch (error) {
    if (typeof globalThis.reportError === "function") globalThis.reportError(error);
    else console.error(error);
  }
}

/** The gateway's data is JSON; anything else is handed over as the text it was. */
function parsed(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function checkType(type) {
  if (typeof type !== "string" || type === "" || RESERVED_EVENTS.includes(type)) {
    throw new TypeError(`not an event type to subscribe to: ${JSON.stringify(type)}`);
  }
  return type;
}

class Stream {
  constructor(options) {
    if (typeof options?.getToken !== "function") {
      throw new TypeError("connect() needs getToken: an async function returning a JWT");
    }
    this._o = options;
    this._ES = options.EventSource ?? globalThis.EventSource;
    this._fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this._types = new Set((options.events ?? []).map(checkType));
    this._listeners = new Map(); // type → Set of callbacks added with on()
    this.lastEventId = options.lastEventId ?? null;
    this.state = "connecting";
    this.connects = 0;
    this._token = null; // reused across drops; dropped when the gateway says it expired
    this._attempt = 0; // consecutive failures, for the backoff
    this._generation = 0; // bumps on every new attempt and on close: stale callbacks stop
    this._source = null;
    this._timer = null;
    this._abort = null;
    this._onMessage = (e) => this._message(e);
    // Start after connect() has returned, so no callback runs before the caller holds the handle.
    queueMicrotask(() => {
      if (this._generation === 0) this._run(0);
    });
  }

  on(type, callback) {
    checkType(type);
    if (!this._listeners.has(type)) this._listeners.set(type, new Set());
    this._listeners.get(type).add(callback);
    if (!this._types.has(type)) {
      this._types.add(type);
      this._source?.addEventListener(type, this._onMessage);
    }
    return () => this._listeners.get(type)?.delete(callback);
  }

  close() {
    if (this.state === "closed") return;
    this._generation += 1;
    this.state = "closed";
    clearTimeout(this._timer);
    this._timer = null;
    this._abort?.abort();
    this._abort = null;
    this._source?.close();
    this._source = null;
  }

  _call(name, value) {
    guarded(this._o[name], value);
  }

  async _run(generation) {
    if (generation !== this._generation) return; // closed by a callback just before
    this.state = "connecting";
    let fresh = false;
    if (this._token === null) {
      try {
        const token = await this._o.getToken();
        if (typeof token !== "string" || token === "") throw new TypeError("getToken() gave no token");
        this._token = token;
        fresh = true;
      } catch (error) {
        if (generation !== this._generation) return;
        this._retry({ kind: "token", message: String(error?.message ?? error) });
        return;
      }
    }
    if (generation !== this._generation) return;
    let response;
    this._abort = typeof AbortController === "function" ? new AbortController() : null;
    try {
      response = await this._fetch(ticketUrl(this._o.baseUrl), {
        method: "POST",
        headers: { authorization: `Bearer ${this._token}` },
        cache: "no-store",
        credentials: "same-origin",
        signal: this._abort?.signal,
      });
    } catch (error) {
      if (generation !== this._generation) return;
      this._retry({ kind: "network", message: String(error?.message ?? error) });
      return;
    }
    if (generation !== this._generation) return;
    if (!response.ok) {
      const info = await failure(response);
      if (generation !== this._generation) return;
      if (response.status === 401) {
        this._token = null;
        if (!fresh) {
          // The token this client kept has lapsed (or was revoked): ask for a new one at once.
          this._call("onError", { ...info, fatal: false, retryInMs: 0 });
          this._run(generation);
          return;
        }
      }
      if (!retriable(response.status)) {
        this._call("onError", { ...info, fatal: true, retryInMs: null });
        this.close();
        return;
      }
      this._retry(info);
      return;
    }
    let ticket;
    try {
      ticket = (await response.json()).ticket;
    } catch {
      ticket = null;
    }
    if (generation !== this._generation) return;
    if (typeof ticket !== "string" || ticket === "") {
      this._retry({ kind: "http", status: response.status, message: "no ticket in the response" });
      return;
    }
    this._listen(generation, ticket);
  }

  _listen(generation, ticket) {
    const resumedFrom = this.lastEventId;
    const url = eventsUrl(this._o.baseUrl, {
      ticket,
      lastEventId: resumedFrom,
      sessionId: this._o.sessionId,
      history: this._o.history, // used only while there is no position (nothing received yet)
    });
    const source = new this._ES(url);
    this._source = source;
    let opened = false;
    source.addEventListener("open", () => {
      if (generation !== this._generation) return;
      opened = true;
      this._attempt = 0;
      this.connects += 1;
      this.state = "open";
      this._call("onOpen", { resumedFrom, connects: this.connects });
    });
    source.addEventListener("error", () => {
      if (generation !== this._generation) return;
      // The ticket in this URL is spent: the browser's own reconnect could only be refused.
      this._drop();
      const message = opened ? "the stream broke off" : "the gateway refused the stream";
      this._retry({ kind: "stream", status: null, message });
    });
    source.addEventListener("reset", (e) => {
      if (generation !== this._generation) return;
      this._call("onReset", parsed(e.data));
    });
    source.addEventListener("closing", (e) => {
      if (generation !== this._generation) return;
      this._closing(e);
    });
    for (const type of this._types) source.addEventListener(type, this._onMessage);
  }

  _message(e) {
    if (e.target !== this._source) return;
    if (e.lastEventId) this.lastEventId = e.lastEventId;
    const event = { id: e.lastEventId || null, type: e.type, data: parsed(e.data) };
    this._call("onEvent", event);
    for (const callback of this._listeners.get(e.type) ?? []) guarded(callback, event);
  }

  _closing(e) {
    const reason = String(parsed(e.data)?.reason ?? "unknown");
    // The gateway ends the stream right after this frame; its id is where it stopped.
    if (e.lastEventId && e.lastEventId !== ZERO_ID) this.lastEventId = e.lastEventId;
    this._drop();
    this._call("onClosing", { reason });
    if (reason === "token_expired") {
      this._token = null;
      this._attempt = 0;
      this._schedule(0);
    } else {
      // A draining gateway ends every stream at once: spread the reconnects.
      this._schedule(backoffDelay(0, this._o.backoff));
    }
  }

  _drop() {
    this._generation += 1;
    this._source?.close();
    this._source = null;
    this.state = "waiting";
  }

  _retry(info) {
    const delay = backoffDelay(this._attempt, {
      ...this._o.backoff,
      retryAfterMs: info.retryAfterMs ?? 0,
    });
    this._attempt += 1;
    this._call("onError", { ...info, fatal: false, retryInMs: delay });
    this._schedule(delay);
  }

  _schedule(delay) {
    if (this.state === "closed") return;
    this.state = "waiting";
    clearTimeout(this._timer);
    const generation = ++this._generation;
    this._timer = setTimeout(() => {
      this._timer = null;
      if (generation === this._generation) this._run(generation);
    }, delay);
  }
}

/**
 * Follow the signed-in user's events: fetch a ticket with `getToken()`'s JWT, listen with the
 * browser's EventSource, and after any drop reconnect with a fresh ticket and the last id seen.
 * Returns a handle; `close()` stops it for good.
 */
export function connect(options) {
  const stream = new Stream(options);
  return {
    on: (type, callback) => stream.on(type, callback),
    close: () => stream.close(),
    get lastEventId() {
      return stream.lastEventId;
    },
    get state() {
      return stream.state;
    },
    get connects() {
      return stream.connects;
    },
  };
}
