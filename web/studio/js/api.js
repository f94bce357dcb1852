/**
 * The BeatFlow REST and WebSocket API, same origin.
 *
 * Tokens live in sessionStorage (one tab, gone when it closes). A 401 is retried once after
 * exchanging the refresh token for a new pair; failing that the session ends and `onSignedOut`
 * listeners are told. Error bodies ({code, message, details}) become ApiError objects that carry
 * the server's message.
 */

const SESSION_KEY = "beatflow.session";

/** @typedef {{access_token: string, refresh_token: string}} Tokens */
/** @typedef {{user_id: string, username: string, email?: string, display_name?: string}} User */
/** @typedef {{tokens: Tokens, user: User}} Session */
/** @typedef {{job_id: string, state: string, status: string, progress?: number, stage?: string,
 *   result?: object|null, error?: string|null}} JobEvent */

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the network failed)
   * @param {{code?: string, message?: string, details?: object[]}} body
   */
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = body.code || "UNKNOWN";
    this.details = body.details || [];
  }
}

/** @type {Set<() => void>} */
const signedOutListeners = new Set();
/** @type {Promise<boolean> | null} */
let refreshing = null;

/** @returns {Session | null} */
export function session() {
  const stored = sessionStorage.getItem(SESSION_KEY);
  return stored ? JSON.parse(stored) : null;
}

/** @param {Session | null} value */
function saveSession(value) {
  if (value) sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
  else sessionStorage.removeItem(SESSION_KEY);
}

/** @param {() => void} listener called when the session ends (sign-out or a refresh that failed) */
export function onSignedOut(listener) {
  signedOutListeners.add(listener);
}

function endSession() {
  saveSession(null);
  signedOutListeners.forEach((listener) => listener());
}

/**
 * @param {string} path
 * @param {Record<string, string|number|boolean|string[]|undefined>} [query]
 */
export function url(path, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * `path` as a media element loads it: <audio> sends no Authorization header, so the access token rides
 * in the query (`access_token`; the server's logs mask it). Signed out, the path as it is.
 * @param {string} path
 */
export function mediaUrl(path) {
  const token = session()?.tokens.access_token;
  if (!token) return path;
  return `${path}${path.includes("?") ? "&" : "?"}access_token=${encodeURIComponent(token)}`;
}

/** @returns {Promise<boolean>} whether a new token pair was obtained */
export function refreshTokens() {
  refreshing ??= (async () => {
    const current = session();
    if (!current) return false;
    const response = await fetch("/api/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: current.tokens.refresh_token }),
    });
    if (!response.ok) return false;
    const body = await response.json();
    saveSession({ ...current, tokens: body.tokens });
    return true;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** @param {Response} response */
async function errorOf(response) {
  const type = response.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await response.json().catch(() => ({})) : {};
  return new ApiError(response.status, body);
}

/**
 * One request with the bearer token; a 401 refreshes the tokens and tries once more.
 * @param {string} method
 * @param {string} path
 * @param {{json?: unknown, body?: BodyInit, headers?: Record<string, string>, signal?: AbortSignal}} [options]
 * @returns {Promise<Response>} a successful response
 */
export async function send(method, path, options = {}) {
  const attempt = () => {
    const headers = { ...options.headers };
    const token = session()?.tokens.access_token;
    if (token) headers.Authorization = `Bearer ${token}`;
    let body = options.body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    return fetch(path, { method, headers, body, signal: options.signal });
  };
  let response = await attempt();
  if (response.status === 401 && session()) {
    if (await refreshTokens()) response = await attempt();
    else endSession();
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

/** @param {Response} response */
const jsonOf = (response) => (response.status === 204 ? null : response.json());

export const get = (path, query) => send("GET", url(path, query)).then(jsonOf);
export const post = (path, json) => send("POST", path, { json }).then(jsonOf);
export const patch = (path, json) => send("PATCH", path, { json }).then(jsonOf);
export const del = (path) => send("DELETE", path).then(jsonOf);
/** A multipart upload (e.g. /api/audio/upload with a `file` field). */
export const upload = (path, formData) => send("POST", path, { body: formData }).then(jsonOf);
/** The response body as a Blob (audio the player or WebAudio needs with the token). */
export const blob = (path, signal) => send("GET", path, { signal }).then((response) => response.blob());

/** @param {{username: string, email: string, password: string}} account */
export async function register(account) {
  const body = await post("/api/auth/register", account);
  saveSession({ tokens: body.tokens, user: body.user });
  return body.user;
}

/** @param {string} username a username or email @param {string} password */
export async function signIn(username, password) {
  const body = await post("/api/auth/login", { username, password });
  saveSession({ tokens: body.tokens, user: body.user });
  return body.user;
}

export async function signOut() {
  const current = session();
  try {
    if (current) await post("/api/auth/logout", { refresh_token: current.tokens.refresh_token });
  } finally {
    endSession();
  }
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/** The job's state word ("queued", "running", "succeeded", ...) from a job event. */
export function jobState(event) {
  return String(event.state || "").replace(/^JOB_STATE_/, "").toLowerCase();
}

/** WebSocket close codes of /ws/jobs/{id} as HTTP statuses (others: the service is unavailable). */
const CLOSE_STATUS = { 4400: 400, 4401: 401, 4404: 404 };

/**
 * Live progress of a job over WebSocket /ws/jobs/{id}: a snapshot, then every change, until it ends.
 * A socket refused for an expired token (4401) is opened again once after refreshing the tokens.
 * @param {string} jobId
 * @param {(event: JobEvent) => void} onEvent called for every event (job JSON as GET /api/jobs/{id})
 * @returns {{done: Promise<JobEvent | null>, close: () => void}} `done` resolves with the last event when the job
 *   ends (or when `close()` was called); it rejects with an ApiError when the socket closes otherwise
 *   (401 unauthenticated, 404 no such job, 503 the job service is unavailable).
 */
export function watchJob(jobId, onEvent) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  /** @type {WebSocket} */
  let socket;
  /** @type {JobEvent | null} */
  let last = null;
  let closedHere = false;
  let refreshed = false;
  const done = new Promise((resolve, reject) => {
    const open = () => {
      const token = encodeURIComponent(session()?.tokens.access_token || "");
      socket = new WebSocket(`${scheme}//${location.host}/ws/jobs/${encodeURIComponent(jobId)}?token=${token}`);
      socket.addEventListener("message", (message) => {
        last = JSON.parse(message.data);
        onEvent(last);
      });
      socket.addEventListener("close", async (event) => {
        if (closedHere || (last && TERMINAL.has(jobState(last)))) return resolve(last);
        if (event.code === 4401 && !last && !refreshed && session()) {
          refreshed = true;
          if (await refreshTokens().catch(() => false)) return open();
        }
        const status = CLOSE_STATUS[event.code] || 503;
        reject(new ApiError(status, { code: `WEBSOCKET_${event.code}`, message: event.reason || "the job's progress stream closed" }));
      });
    };
    open();
  });
  return {
    done,
    close: () => {
      closedHere = true;
      socket.close(1000);
    },
  };
}
