// The client's pure parts: backoff, Retry-After, URLs (node --test, no browser needed).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  backoffDelay,
  eventsUrl,
  parseRetryAfter,
  ticketUrl,
} from "../eventbridge-client.js";

const low = () => 0;
const high = () => 0.999999;

test("the backoff ceiling doubles per attempt and stops at maxDelayMs", () => {
  const opts = { initialDelayMs: 100, maxDelayMs: 1000 };
  const ceilings = [0, 1, 2, 3, 4, 5, 40].map((n) => backoffDelay(n, opts, high));
  assert.deepEqual(ceilings, [100, 200, 400, 800, 1000, 1000, 1000]);
});

test("the jitter keeps at least half the ceiling and spreads over the other half", () => {
  const opts = { initialDelayMs: 400, maxDelayMs: 30000 };
  assert.equal(backoffDelay(2, opts, low), 800);
  assert.equal(backoffDelay(2, opts, () => 0.5), 1200);
  assert.equal(backoffDelay(2, opts, high), 1600);
  for (let i = 0; i < 200; i += 1) {
    const d = backoffDelay(3, opts);
    assert.ok(d >= 1600 && d <= 3200, `${d}`);
  }
});

test("the defaults start at 250-500 ms and cap at 30 s", () => {
  assert.equal(backoffDelay(0, {}, low), 250);
  assert.equal(backoffDelay(0, undefined, high), 500);
  assert.equal(backoffDelay(100, {}, high), 30000);
  assert.equal(backoffDelay(-3, {}, high), 500);
});

test("a Retry-After is a floor the jitter adds to, even above the cap", () => {
  const opts = { initialDelayMs: 500, maxDelayMs: 1000, retryAfterMs: 3000 };
  assert.equal(backoffDelay(0, opts, low), 3000);
  assert.equal(backoffDelay(0, opts, high), 3250);
  assert.equal(backoffDelay(9, { ...opts, retryAfterMs: 60000 }, low), 60000);
});

test("no delay is longer than a browser's timer can wait", () => {
  assert.equal(backoffDelay(0, { retryAfterMs: 1e12 }, low), 2147483647);
});

test("Retry-After in seconds or as an HTTP date; anything else is null", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("3", now), 3000);
  assert.equal(parseRetryAfter(" 120 ", now), 120000);
  assert.equal(parseRetryAfter("0", now), 0);
  assert.equal(parseRetryAfter("Wed, 01 Jan 2025 00:00:05 GMT", now), 5000);
  assert.equal(parseRetryAfter("Tue, 31 Dec 2024 23:59:00 GMT", now), 0);
  for (const bad of [null, undefined, "", "soon", "-1", "1.5", "1e3", "0x10"]) {
    assert.equal(parseRetryAfter(bad, now), null, String(bad));
  }
});

test("the ticket URL sits under the base URL, with or without a trailing slash", () => {
  assert.equal(ticketUrl(""), "/v1/sse-tickets");
  assert.equal(ticketUrl(undefined), "/v1/sse-tickets");
  assert.equal(ticketUrl("https://x.example/eb/"), "https://x.example/eb/v1/sse-tickets");
  assert.equal(ticketUrl("/eb"), "/eb/v1/sse-tickets");
});

test("a stream URL carries the ticket, the resume position or history, and the session", () => {
  assert.equal(eventsUrl("", { ticket: "t-1" }), "/v1/events?ticket=t-1");
  assert.equal(
    eventsUrl("/eb/", { ticket: "t", lastEventId: "17-0", sessionId: "s", history: 5 }),
    "/eb/v1/events?ticket=t&last_event_id=17-0&session_id=s",
  );
  assert.equal(eventsUrl("", { ticket: "t", history: 5 }), "/v1/events?ticket=t&history=5");
  assert.equal(eventsUrl("", { ticket: "t", history: 0 }), "/v1/events?ticket=t");
  assert.equal(eventsUrl(""), "/v1/events");
  assert.equal(
    eventsUrl("", { ticket: "a+b/c=", sessionId: "x y&z" }),
    "/v1/events?ticket=a%2Bb%2Fc%3D&session_id=x+y%26z",
  );
});
