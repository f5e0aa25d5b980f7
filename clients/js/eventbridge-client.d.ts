// Types of eventbridge-client.js (docs/browser.md is the contract they describe).

export declare const VERSION: string;

/** Event names the gateway uses itself; `events`/`on()` refuse them. */
export declare const RESERVED_EVENTS: readonly string[];

/** The `data` of every event: the bridge's compact JSON (docs/browser.md, "The wire format"). */
export interface EventData<P = unknown> {
  event_id: string;
  event_type: string;
  session_id: string;
  correlation_id: string | null;
  /** ISO-8601, as the producer stamped it. */
  timestamp: string;
  novel_id?: string;
  trace_id?: string;
  payload: P;
}

export interface BridgeEvent<P = unknown> {
  /** The stream entry id (`id:`): the position a resume continues after. */
  id: string | null;
  /** The event type (`event:`), e.g. "Genesis.Session.Theme.Proposed". */
  type: string;
  /** Parsed `data`; the raw text if it ever is not JSON. */
  data: EventData<P>;
}

/** `event: reset`: events between your last id and `oldest` are gone; refetch state. */
export interface ResetInfo {
  reason: "trimmed" | "expired" | "malformed" | "unknown_id" | string;
  /** Where the replay that follows starts after ("0-0": everything the stream still holds). */
  last_event_id: string;
  /** The oldest entry the stream still holds, or null. */
  oldest: string | null;
}

export interface OpenInfo {
  /** The id this connection resumed after, or null for a connection with no position yet. */
  resumedFrom: string | null;
  /** Connections opened so far, this one included. */
  connects: number;
}

/** `event: closing`: the gateway ends the stream on purpose; the client reconnects by itself. */
export interface ClosingInfo {
  /** "token_expired" (a fresh token is fetched), "shutdown" (a gateway is draining), … */
  reason: string;
}

export interface ConnectError {
  /** token: getToken() failed; network: the ticket request failed; http: the ticket endpoint
   *  answered an error; stream: the stream was refused or broke off (EventSource hides why). */
  kind: "token" | "network" | "http" | "stream";
  status?: number | null;
  /** The gateway's stable reason, e.g. "expired_token", "limit", "store_unavailable". */
  reason?: string | null;
  message: string;
  /** From Retry-After, when the gateway sent one. */
  retryAfterMs?: number | null;
  /** In how many ms the client tries again; null when it gave up (fatal). */
  retryInMs: number | null;
  /** True when retrying cannot help (e.g. 400, 404): the client has closed itself. */
  fatal: boolean;
}

export interface BackoffOptions {
  /** First retry after 250–500 ms by default (half of this, plus up to half again). */
  initialDelayMs?: number;
  /** The ceiling the doubling stops at (default 30000). */
  maxDelayMs?: number;
}

export interface ConnectOptions {
  /** Where the gateway is, e.g. "" (this origin) or "/eventbridge" behind your proxy. */
  baseUrl?: string;
  /** The signed-in user's JWT, valid now. Called at start, and again when it has expired. */
  getToken: () => string | Promise<string>;
  /** Only this Genesis session's events. */
  sessionId?: string;
  /** On a connection with no position yet: the last N events first. */
  history?: number;
  /** Resume after this id (e.g. one kept in sessionStorage) instead of starting fresh. */
  lastEventId?: string | null;
  /** The event types to receive (EventSource delivers named events only to their listeners). */
  events?: readonly string[];
  onEvent?: (event: BridgeEvent) => void;
  onReset?: (reset: ResetInfo) => void;
  onOpen?: (info: OpenInfo) => void;
  onClosing?: (info: ClosingInfo) => void;
  onError?: (error: ConnectError) => void;
  backoff?: BackoffOptions;
  /** Stand-ins for tests or other runtimes; the browser's own by default. */
  EventSource?: typeof EventSource;
  fetch?: typeof fetch;
}

export interface Connection {
  /** Receive events of `type` (added to the subscription); returns a function that stops it. */
  on<P = unknown>(type: string, callback: (event: BridgeEvent<P>) => void): () => void;
  /** Stop for good: no reconnect, no timer, no open request. */
  close(): void;
  /** The id of the last event received (or resumed from). */
  readonly lastEventId: string | null;
  readonly state: "connecting" | "open" | "waiting" | "closed";
  readonly connects: number;
}

export declare function connect(options: ConnectOptions): Connection;

export declare function backoffDelay(
  attempt: number,
  options?: BackoffOptions & { retryAfterMs?: number },
  random?: () => number,
): number;

export declare function parseRetryAfter(
  value: string | null | undefined,
  nowMs?: number,
): number | null;

export declare function ticketUrl(baseUrl?: string): string;

export declare function eventsUrl(
  baseUrl: string | undefined,
  params?: { ticket?: string; lastEventId?: string | null; sessionId?: string; history?: number },
): string;
