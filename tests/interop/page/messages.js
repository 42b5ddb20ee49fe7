// @ts-check
/**
 * What the interop scenario exchanges: the constants both sides agree on, the
 * messages of the echo connection with their deterministic payloads, and the
 * byte-exact comparison every side applies to what it receives.
 *
 * Plain JavaScript with JSDoc types, so that Deno and, served as-is, Chromium
 * load the same file.
 *
 * @module
 */

/** The path of the echo connection. */
export const ECHO_PATH = "/echo";
/** The path of the connection the server closes. */
export const CLOSE_PATH = "/server-close";
/**
 * The path of the connection the client closes with no arguments: a status-less
 * close frame from a WHATWG client (1005 on both sides), 1000 from ours.
 */
export const QUIET_PATH = "/quiet-close";
/** The subprotocols every client offers, most preferred first. */
export const OFFERED_PROTOCOLS = ["wsx.v2", "wsx.v1"];
/** The only subprotocol every server speaks: the one the handshake must settle on. */
export const PROTOCOL = "wsx.v1";
/** The close the client starts on the echo connection. */
export const CLIENT_CLOSE = { code: 4001, reason: "client bye ✓" };
/** The close the server starts on the `/server-close` connection. */
export const SERVER_CLOSE = { code: 4002, reason: "server bye ✓" };
/** The text the server sends before it closes. */
export const GOODBYE = "server is closing: ünïcödé ✓ 🎉";
/** The payload of the ping our side sends first on the echo connection. */
export const PING_PAYLOAD = "wsx ping ✓";
/** How long any single wait may take, in ms. */
export const STEP_TIMEOUT = 30_000;

/**
 * @typedef {{ name: string, type: "text" | "binary", size: number, fill: "utf8" | "json" | "random" | "pattern" }} MessageSpec
 * @typedef {{ name: string, ok: boolean, detail: string }} Check
 */

/**
 * The messages of the echo connection, sent and echoed one at a time: every
 * payload-length form (7-bit, 16-bit, 64-bit), both types, multi-byte UTF-8,
 * compressible and random bytes, and large messages.
 *
 * @type {MessageSpec[]}
 */
export const MESSAGES = [
  { name: "text 0 B", type: "text", size: 0, fill: "utf8" },
  { name: "text 31 B UTF-8", type: "text", size: 31, fill: "utf8" },
  { name: "text 125 B UTF-8", type: "text", size: 125, fill: "utf8" },
  { name: "text 126 B JSON", type: "text", size: 126, fill: "json" },
  { name: "text 70000 B JSON", type: "text", size: 70_000, fill: "json" },
  { name: "binary 0 B", type: "binary", size: 0, fill: "random" },
  { name: "binary 125 B", type: "binary", size: 125, fill: "random" },
  { name: "binary 126 B", type: "binary", size: 126, fill: "random" },
  { name: "binary 65535 B", type: "binary", size: 65_535, fill: "pattern" },
  { name: "binary 65536 B", type: "binary", size: 65_536, fill: "random" },
  {
    name: "binary 1 MiB random",
    type: "binary",
    size: 1 << 20,
    fill: "random",
  },
  { name: "text 1 MiB JSON", type: "text", size: 1 << 20, fill: "json" },
  { name: "binary 16 MiB", type: "binary", size: 16 << 20, fill: "pattern" },
];

/** The largest message of the scenario: a server's read limit must allow it. */
export const MAX_MESSAGE = 16 << 20;

/**
 * How many small messages follow {@linkcode MESSAGES}, all sent before any echo
 * is read, so that many frames share one TCP segment in both directions.
 */
export const BURST_COUNT = 300;
/** The name of the one check that sums up the burst. */
export const BURST_NAME = `burst of ${BURST_COUNT} pipelined messages`;

/**
 * The `i`-th message of the burst: text and binary in turn, sizes 0-299 bytes,
 * each size once (a reordered echo cannot go unnoticed).
 *
 * @param {number} i
 * @returns {MessageSpec}
 */
export function burstSpec(i) {
  const size = (i * 37) % 300;
  return i % 2 === 0
    ? { name: `burst ${i}`, type: "text", size, fill: "utf8" }
    : { name: `burst ${i}`, type: "binary", size, fill: "random" };
}

/**
 * The message expected at position `index` of the echo connection, or
 * `undefined` past the end.
 *
 * @param {number} index
 * @returns {MessageSpec | undefined}
 */
export function specAt(index) {
  if (index < MESSAGES.length) return MESSAGES[index];
  const i = index - MESSAGES.length;
  return i < BURST_COUNT ? burstSpec(i) : undefined;
}

/**
 * The payload bytes of the echo connection, in each direction: a side that
 * compresses sends far fewer, one that does not sends a little more (headers).
 */
export const PAYLOAD_BYTES = [
  ...MESSAGES,
  ...Array.from({ length: BURST_COUNT }, (_, i) => burstSpec(i)),
].reduce((sum, spec) => sum + spec.size, 0);

/** The names of the checks each side must report for the echo connection. */
export const CHECK_NAMES = [...MESSAGES.map((m) => m.name), BURST_NAME];

/**
 * Adds the outcome of one received message to a list of checks; the burst's
 * messages fold into one check, which keeps the first difference found.
 *
 * @param {Check[]} checks
 * @param {MessageSpec} spec
 * @param {string} diff What {@linkcode difference} said.
 */
export function record(checks, spec, diff) {
  if (!spec.name.startsWith("burst ")) {
    checks.push({ name: spec.name, ok: diff === "", detail: diff });
    return;
  }
  let burst = checks.find((c) => c.name === BURST_NAME);
  if (!burst) {
    burst = { name: BURST_NAME, ok: true, detail: "" };
    checks.push(burst);
  }
  if (diff && burst.ok) {
    burst.ok = false;
    burst.detail = `${spec.name}: ${diff}`;
  }
}

const UNITS = ["a", "é", "✓", "🎉", "ß", "z", "ж", " "];
const UNIT_BYTES = UNITS.map((u) => new TextEncoder().encode(u).length);

/**
 * Builds the payload of a message: a string of exactly `size` UTF-8 bytes for
 * text, bytes for binary. The same spec always gives the same payload.
 *
 * @param {MessageSpec} spec
 * @returns {string | Uint8Array}
 */
export function payload(spec) {
  if (spec.type === "text") {
    return spec.fill === "json" ? jsonText(spec.size) : utf8Text(spec.size);
  }
  const out = new Uint8Array(spec.size);
  if (spec.fill === "random") {
    let x = 0x9e3779b9 ^ spec.size;
    for (let i = 0; i < out.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
  } else {
    // Runs of a 61-byte cycle that changes every 8 KiB: compressible, not trivial.
    for (let i = 0; i < out.length; i++) {
      out[i] = ((i % 61) * 4 ^ (i >>> 13)) & 0xff;
    }
  }
  return out;
}

/** @param {number} size */
function utf8Text(size) {
  let s = "";
  let left = size;
  for (let i = 0; left > 0; i++) {
    const k = i % UNITS.length;
    const fits = UNIT_BYTES[k] <= left;
    s += fits ? UNITS[k] : "a";
    left -= fits ? UNIT_BYTES[k] : 1;
  }
  return s;
}

/** @param {number} size */
function jsonText(size) {
  const encoder = new TextEncoder();
  const parts = [];
  let used = 0;
  for (let i = 0; used < size; i++) {
    const ok = i % 3 === 0;
    const rec = `{"id":${i},"name":"user-${
      i % 97
    }","ok":${ok},"tags":["é","✓"]},`;
    const len = encoder.encode(rec).length;
    if (used + len > size) break;
    parts.push(rec);
    used += len;
  }
  return parts.join("") + "x".repeat(size - used);
}

/**
 * Describes how `got` differs from the expected payload, or returns `""` when
 * type and bytes are equal.
 *
 * @param {MessageSpec} spec
 * @param {unknown} got A string (text) or bytes (binary).
 * @returns {string}
 */
export function difference(spec, got) {
  const want = payload(spec);
  if (typeof want === "string") {
    if (typeof got !== "string") return `expected text, got ${describe(got)}`;
    if (got.length !== want.length) {
      return `text length ${got.length}, expected ${want.length}`;
    }
    for (let i = 0; i < want.length; i++) {
      if (got.charCodeAt(i) !== want.charCodeAt(i)) {
        return `text differs at index ${i}`;
      }
    }
    return "";
  }
  const bytes = toBytes(got);
  if (!bytes) return `expected binary, got ${describe(got)}`;
  if (bytes.length !== want.length) {
    return `binary length ${bytes.length}, expected ${want.length}`;
  }
  for (let i = 0; i < want.length; i++) {
    if (bytes[i] !== want[i]) {
      return `byte ${i} is ${bytes[i]}, expected ${want[i]}`;
    }
  }
  return "";
}

/**
 * @param {unknown} v
 * @returns {Uint8Array | null}
 */
function toBytes(v) {
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) {
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  return null;
}

/**
 * A short description of a received payload, for reports.
 *
 * @param {unknown} v
 * @returns {string}
 */
export function describe(v) {
  if (typeof v === "string") return `text of ${v.length} chars`;
  const b = toBytes(v);
  return b ? `binary of ${b.length} bytes` : String(v);
}

/**
 * Waits for `promise`, failing after `ms` with `what` in the message.
 *
 * @template T
 * @param {Promise<T>} promise
 * @param {string} what
 * @param {number} [ms]
 * @returns {Promise<T>}
 */
export function within(promise, what, ms = STEP_TIMEOUT) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms: ${what}`)),
      ms,
    );
  });
  return /** @type {Promise<T>} */ (Promise.race([promise, timeout]))
    .finally(() => clearTimeout(timer));
}
