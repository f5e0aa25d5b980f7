// connect()'s reconnect rules over a stand-in EventSource and fetch, with node's mock timers.
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

import { connect } from "../eventbridge-client.js";

class FakeSource {
  static all = [];

  constructor(url) {
    this.url = url;
    this.listeners = new Map();
    this.closed = false;
    FakeSource.all.push(this);
  }

  addEventListener(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(fn);
  }

  close() {
    this.closed = true;
  }

  emit(type, { data = "", lastEventId = "" } = {}) {
    for (const fn of this.listeners.get(type) ?? []) fn({ type, data, lastEventId, target: this });
  }

  get params() {
    return new URL(this.url, "http://gw.test").searchParams;
  }
}

function respond(status, body, headers = {}) {
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: { get: (name) => headers[name.toLowerCase()] ?? null },
    json: async () => body,
  };
}

let calls;
let answers;

async function fakeFetch(url, init) {
  calls.push({ url, init });
  const next = answers.shift() ?? respond(200, { ticket: `ticket-${calls.length}` });
  if (next instanceof Error) throw next;
  return next;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

function start(extra = {}) {
  const seen = { events: [], errors: [], resets: [], closings: [], opens: [], tokens: 0 };
  const handle = connect({
    baseUrl: "http://gw.test",
    getToken: async () => `jwt-${(seen.tokens += 1)}`,
    events: ["Genesis.Session.Theme.Proposed"],
    onEvent: (e) => seen.events.push(e),
    onError: (e) => seen.errors.push(e),
    onReset: (r) => seen.resets.push(r),
    onClosing: (c) => seen.closings.push(c),
    onOpen: (o) => seen.opens.push(o),
    EventSource: FakeSource,
    fetch: fakeFetch,
    ...extra,
  });
  return { handle, seen };
}

const THEME = "Genesis.Session.Theme.Proposed";
const data = (n) => JSON.stringify({ event_id: `e${n}`, payload: { n } });

beforeEach(() => {
  FakeSource.all = [];
  calls = [];
  answers = [];
  mock.timers.enable({ apis: ["setTimeout"] });
});

afterEach(() => mock.timers.reset());

test("a ticket is fetched with the bearer token and never put in the URL", async () => {
  const { handle } = start({ sessionId: "s1", history: 3 });
  await settle();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, "http://gw.test/v1/sse-tickets");
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.headers.authorization, "Bearer jwt-1");
  const [source] = FakeSource.all;
  assert.equal(source.params.get("ticket"), "ticket-1");
  assert.equal(source.params.get("history"), "3");
  assert.equal(source.params.get("session_id"), "s1");
  assert.ok(!source.url.includes("jwt-"));
  handle.close();
});

test("after a drop it resumes after the last id with a fresh ticket and the same token", async () => {
  const { handle, seen } = start({ history: 3 });
  await settle();
  const first = FakeSource.all[0];
  first.emit("open");
  first.emit(THEME, { data: data(1), lastEventId: "10-0" });
  first.emit(THEME, { data: data(2), lastEventId: "11-0" });
  first.emit("error");
  assert.ok(first.closed, "the spent ticket's EventSource is closed, not left to reconnect");
  assert.equal(handle.state, "waiting");
  assert.equal(seen.errors.at(-1).kind, "stream");
  mock.timers.tick(seen.errors.at(-1).retryInMs);
  await settle();
  const second = FakeSource.all[1];
  assert.equal(second.params.get("last_event_id"), "11-0");
  assert.equal(second.params.get("history"), null);
  assert.equal(second.params.get("ticket"), "ticket-2");
  assert.equal(seen.tokens, 1);
  second.emit("open");
  assert.deepEqual(seen.opens.at(-1), { resumedFrom: "11-0", connects: 2 });
  assert.deepEqual(
    seen.events.map((e) => [e.id, e.type, e.data.event_id]),
    [["10-0", THEME, "e1"], ["11-0", THEME, "e2"]],
  );
  handle.close();
});

test("429 from the ticket endpoint waits at least its Retry-After, then connects", async () => {
  answers.push(respond(429, { reason: "limit", message: "busy" }, { "retry-after": "4" }));
  const { handle, seen } = start();
  await settle();
  assert.equal(FakeSource.all.length, 0);
  const [refused] = seen.errors;
  assert.equal(refused.status, 429);
  assert.equal(refused.reason, "limit");
  assert.equal(refused.retryAfterMs, 4000);
  assert.ok(refused.retryInMs >= 4000, `${refused.retryInMs}`);
  mock.timers.tick(3999);
  await settle();
  assert.equal(calls.length, 1, "not before Retry-After");
  mock.timers.tick(refused.retryInMs - 3999);
  await settle();
  assert.equal(calls.length, 2);
  assert.equal(FakeSource.all.length, 1);
  handle.close();
});

test("503s back off exponentially with jitter, and an open stream resets the backoff", async () => {
  for (let i = 0; i < 4; i += 1) answers.push(respond(503, { reason: "draining" }, { "retry-after": "1" }));
  const { handle, seen } = start({ backoff: { initialDelayMs: 1000, maxDelayMs: 8000 } });
  for (let i = 0; i < 4; i += 1) {
    await settle();
    mock.timers.tick(seen.errors.at(-1).retryInMs);
  }
  await settle();
  const delays = seen.errors.map((e) => e.retryInMs);
  const floors = [1000, 1000, 2000, 4000]; // max(Retry-After, half the ceiling)
  const ceilings = [1000, 2000, 4000, 8000];
  delays.forEach((d, i) => assert.ok(d >= floors[i] && d <= floors[i] + ceilings[i] / 2, `${i}: ${d}`));
  FakeSource.all[0].emit("open");
  FakeSource.all[0].emit("error");
  assert.ok(seen.errors.at(-1).retryInMs <= 1000, "after an open, the first retry is quick again");
  handle.close();
});

test("401 on a kept token asks getToken again at once; on a fresh token it backs off", async () => {
  const { handle, seen } = start();
  await settle();
  FakeSource.all[0].emit("open");
  FakeSource.all[0].emit("error");
  answers.push(respond(401, { reason: "expired_token", message: "the token has expired" }));
  answers.push(respond(401, { reason: "expired_token", message: "the token has expired" }));
  mock.timers.tick(seen.errors.at(-1).retryInMs);
  await settle();
  assert.equal(seen.tokens, 2, "a kept token that expired is replaced at once");
  const [kept, fresh] = seen.errors.slice(-2);
  assert.deepEqual([kept.reason, kept.retryInMs], ["expired_token", 0]);
  assert.equal(fresh.reason, "expired_token");
  assert.ok(fresh.retryInMs > 0, "a fresh token that is refused is retried later");
  mock.timers.tick(fresh.retryInMs);
  await settle();
  assert.equal(seen.tokens, 3);
  assert.equal(FakeSource.all.length, 2);
  handle.close();
});

test("closing: token_expired reconnects at once with a new token from where the stream stopped", async () => {
  const { handle, seen } = start();
  await settle();
  const first = FakeSource.all[0];
  first.emit("open");
  first.emit(THEME, { data: data(1), lastEventId: "10-0" });
  first.emit("closing", { data: '{"reason":"token_expired"}', lastEventId: "12-0" });
  assert.ok(first.closed);
  assert.deepEqual(seen.closings, [{ reason: "token_expired" }]);
  mock.timers.tick(0);
  await settle();
  assert.equal(seen.tokens, 2);
  assert.equal(calls.at(-1).init.headers.authorization, "Bearer jwt-2");
  assert.equal(FakeSource.all[1].params.get("last_event_id"), "12-0");
  first.emit("error"); // the old source's end, after it was replaced: ignored
  assert.equal(FakeSource.all.length, 2);
  handle.close();
});

test("closing: shutdown keeps the token and spreads the reconnect", async () => {
  const { handle, seen } = start({ backoff: { initialDelayMs: 2000 } });
  await settle();
  FakeSource.all[0].emit("open");
  FakeSource.all[0].emit("closing", { data: '{"reason":"shutdown"}', lastEventId: "" });
  mock.timers.tick(999);
  await settle();
  assert.equal(calls.length, 1, "not before half the initial delay");
  mock.timers.tick(1001);
  await settle();
  assert.equal(calls.length, 2);
  assert.equal(seen.tokens, 1);
  assert.equal(FakeSource.all[1].params.get("last_event_id"), null);
  handle.close();
});

test("a reset is handed over, and the position moves only with events that carry ids", async () => {
  const { handle, seen } = start({ lastEventId: "5-0" });
  await settle();
  const source = FakeSource.all[0];
  assert.equal(source.params.get("last_event_id"), "5-0");
  source.emit("reset", { data: '{"reason":"trimmed","last_event_id":"0-0","oldest":"9-0"}', lastEventId: "5-0" });
  assert.deepEqual(seen.resets, [{ reason: "trimmed", last_event_id: "0-0", oldest: "9-0" }]);
  assert.equal(handle.lastEventId, "5-0");
  source.emit(THEME, { data: data(9), lastEventId: "9-0" });
  assert.equal(handle.lastEventId, "9-0");
  handle.close();
});

test("on() adds a type to the open stream and to every later one; its unsubscribe stops it", async () => {
  const { handle, seen } = start();
  await settle();
  const got = [];
  const off = handle.on("Genesis.Session.Started", (e) => got.push(e.id));
  FakeSource.all[0].emit("Genesis.Session.Started", { data: "{}", lastEventId: "1-0" });
  FakeSource.all[0].emit("error");
  mock.timers.tick(seen.errors.at(-1).retryInMs);
  await settle();
  FakeSource.all[1].emit("Genesis.Session.Started", { data: "{}", lastEventId: "2-0" });
  off();
  FakeSource.all[1].emit("Genesis.Session.Started", { data: "{}", lastEventId: "3-0" });
  assert.deepEqual(got, ["1-0", "2-0"]);
  assert.deepEqual(seen.events.map((e) => e.id), ["1-0", "2-0", "3-0"]);
  assert.throws(() => handle.on("reset", () => {}), TypeError);
  handle.close();
});

test("close() leaves no timer, no source and no reconnect, whatever it interrupts", async () => {
  answers.push(respond(503, {}));
  const { handle, seen } = start();
  await settle();
  assert.equal(handle.state, "waiting");
  handle.close();
  assert.equal(handle.state, "closed");
  mock.timers.tick(60000);
  await settle();
  assert.equal(calls.length, 1);
  assert.equal(FakeSource.all.length, 0);

  const second = start();
  await settle();
  second.handle.close();
  assert.ok(FakeSource.all[0].closed);
  FakeSource.all[0].emit("error");
  FakeSource.all[0].emit(THEME, { data: data(1), lastEventId: "1-0" });
  mock.timers.tick(60000);
  await settle();
  assert.equal(FakeSource.all.length, 1);
  assert.deepEqual(second.seen.events, []);
  assert.equal(seen.errors.length, 1);
});

test("close() during getToken or the ticket request opens nothing afterwards", async () => {
  let release;
  const slow = new Promise((resolve) => { release = resolve; });
  const { handle } = start({ getToken: () => slow });
  handle.close();
  release("jwt-late");
  await settle();
  assert.equal(calls.length, 0);
  assert.equal(FakeSource.all.length, 0);
});

test("a 400 or 404 is fatal: reported once, then the client stays closed", async () => {
  answers.push(respond(404, "not json"));
  const { handle, seen } = start();
  await settle();
  assert.equal(handle.state, "closed");
  assert.deepEqual(
    seen.errors.map((e) => [e.status, e.fatal, e.retryInMs]),
    [[404, true, null]],
  );
  mock.timers.tick(60000);
  await settle();
  assert.equal(calls.length, 1);
});

test("a failing getToken or network is retried with backoff", async () => {
  let n = 0;
  answers.push(new TypeError("Failed to fetch"));
  const { handle, seen } = start({
    getToken: async () => {
      n += 1;
      if (n === 1) throw new Error("login service down");
      return "jwt";
    },
  });
  await settle();
  assert.equal(seen.errors[0].kind, "token");
  mock.timers.tick(seen.errors[0].retryInMs);
  await settle();
  assert.equal(seen.errors[1].kind, "network");
  assert.ok(seen.errors[1].retryInMs >= 500);
  mock.timers.tick(seen.errors[1].retryInMs);
  await settle();
  assert.equal(FakeSource.all.length, 1);
  handle.close();
});

test("connect() refuses options it cannot work with", () => {
  assert.throws(() => connect({}), TypeError);
  assert.throws(() => connect({ getToken: () => "t", events: ["closing"] }), TypeError);
});

test("no callback runs inside connect(): the caller holds the handle first", async () => {
  const seen = [];
  let handle = null;
  handle = connect({
    getToken: () => {
      throw new Error("signed out");
    },
    onError: (e) => seen.push([e.kind, handle !== null]),
    EventSource: FakeSource,
    fetch: fakeFetch,
  });
  assert.deepEqual(seen, []);
  await settle();
  assert.deepEqual(seen, [["token", true]]);
  handle.close();
});

test("a callback that throws is reported, and the client reconnects all the same", async (t) => {
  const reported = [];
  const original = globalThis.reportError;
  globalThis.reportError = (error) => reported.push(error.message);
  t.after(() => {
    globalThis.reportError = original;
  });
  const got = [];
  const { handle } = start({
    onClosing: () => {
      throw new Error("page bug in onClosing");
    },
    onEvent: () => {
      throw new Error("page bug in onEvent");
    },
  });
  handle.on(THEME, (e) => got.push(e.id));
  await settle();
  FakeSource.all[0].emit("open");
  FakeSource.all[0].emit(THEME, { data: data(1), lastEventId: "3-0" });
  FakeSource.all[0].emit("closing", { data: '{"reason":"token_expired"}', lastEventId: "3-0" });
  mock.timers.tick(0);
  await settle();
  assert.deepEqual(reported, ["page bug in onEvent", "page bug in onClosing"]);
  assert.deepEqual(got, ["3-0"]);
  assert.equal(FakeSource.all.length, 2);
  assert.equal(FakeSource.all[1].params.get("last_event_id"), "3-0");
  handle.close();
});

test("a page that closes the stream from onError stays closed", async () => {
  let errors = 0;
  const { handle } = start({
    onError: () => {
      errors += 1;
      if (errors === 2) handle.close();
    },
  });
  await settle();
  FakeSource.all[0].emit("open");
  FakeSource.all[0].emit("error"); // error 1: a drop; a retry is scheduled
  answers.push(respond(401, { reason: "expired_token" }));
  mock.timers.tick(1000);
  await settle(); // error 2: the kept token is refused, and the page closes
  assert.equal(handle.state, "closed");
  mock.timers.tick(60000);
  await settle();
  assert.equal(calls.length, 2);
  assert.equal(FakeSource.all.length, 1);
});
