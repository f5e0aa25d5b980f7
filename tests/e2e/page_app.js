// The page's own code that docs/browser.md's examples call as `app.*`: it records what they see.
"use strict";
window.app = {
  eventTypes: [],
  received: [], // {id, type, eventId} of each event shown, in order
  resets: [], // {reset, after}: the reset and how many events had been shown before it
  statuses: [], // {state, info}
  problems: [], // uncaught errors on the page
  tokens: 0,
  unloads: [],
  async accessToken() {
    this.tokens += 1;
    const response = await fetch("/demo/token", { method: "POST" });
    if (!response.ok) throw new Error(`/demo/token answered ${response.status}`);
    return (await response.json()).token;
  },
  show(event) {
    this.received.push({ id: event.id, type: event.type, eventId: event.data.event_id });
  },
  reload(reset) {
    this.resets.push({ reset, after: this.received.length });
  },
  status(state, info) {
    this.statuses.push({ state, info: info === undefined ? null : info });
  },
  onUnload(fn) {
    this.unloads.push(fn);
  },
  unload() {
    for (const fn of this.unloads) fn();
  },
};
window.addEventListener("error", (e) => app.problems.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => app.problems.push(String(e.reason)));
