// @ts-check
/**
 * The interop scenario, shared by every peer: the messages a client sends, what a
 * server does with them, and how both sides report what they saw.
 *
 * Plain JavaScript with JSDoc types, so the same file runs in Deno (built-in
 * `WebSocket`, `npm:ws`) and, served as-is, in Chromium.
 *
 * Two connections make one run:
 * - `/echo`: the client sends {@linkcode MESSAGES} one by one and checks every
 *   echo, then closes with {@linkcode CLIENT_CLOSE}.
 * - `/server-close`: the server sends {@linkcode GOODBYE} and closes with
 *   {@linkcode SERVER_CLOSE}.
 *
 * @module
 */

/** The path of the echo connection. */
export const ECHO_PATH = "/echo";
/** The path of the connection the server closes. */
export const CLOSE_PATH = "/server-close";
/** The close the client starts on the echo connection. */
export const CLIENT_CLOSE = { code: 4001, reason: "client bye ✓" };
/** The close the server starts on the `/server-close` connection. */
export const SERVER_CLOSE = { code: 4002, reason: "server bye ✓" };
/** The text the server sends before it closes. */
export const GOODBYE = "server is closing: ünïcödé ✓ 🎉";
/** How long any single wait may take, in ms. */
export const STEP_TIMEOUT = 30_000;

/**
 * @typedef {{ name: string, type: "text" | "binary", size: number, fill: "utf8" | "json" | "random" | "pattern" }} MessageSpec
 * @typedef {{ name: string, ok: boolean, detail: string }} Check
 * @typedef {{ code: number, reason: string, wasClean?: boolean }} CloseSeen
 * @typedef {{ extensions: string, echoes: Check[], close: CloseSeen | null, goodbye: Check | null, serverClose: CloseSeen | null, errors: string[] }} ClientReport
 * @typedef {{ path: string, extensions: string, received: Check[], close: CloseSeen | null, errors: string[] }} ServerReport
 */

/**
 * The messages of the echo connection, in order: every payload-length form
 * (7-bit, 16-bit, 64-bit), both types, multi-byte UTF-8, compressible and random
 * bytes, and two large messages.
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

const UNITS = ["a", "é", "✓", "🎉", "ß", "z", "ж", " "];

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
    for (let i = 0; i < out.length; i++) {
      out[i] = (i ^ (i >>> 9) ^ (i >>> 17)) & 0xff;
    }
  }
  return out;
}

/** @param {number} size */
function utf8Text(size) {
  let s = "";
  let left = size;
  for (let i = 0; left > 0; i++) {
    const unit = UNITS[i % UNITS.length];
    const len = new TextEncoder().encode(unit).length;
    const next = len <= left ? unit : "a";
    s += next;
    left -= len <= left ? len : 1;
  }
  return s;
}

/** @param {number} size */
function jsonText(size) {
  const parts = [];
  let used = 0;
  for (let i = 0; used < size; i++) {
    const rec = `{"id":${i},"name":"user-${i % 97}","ok":${
      i % 3 === 0
    },"tags":["é","✓"]},`;
    const len = new TextEncoder().encode(rec).length;
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

/** @param {unknown} v */
function describe(v) {
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
  return /** @type {Promise<T>} */ (Promise.race([promise, timeout])).finally(
    () => clearTimeout(timer),
  );
}

/**
 * The parts of a WHATWG `WebSocket` the scenario uses; Deno's, the browser's and
 * `ws`'s sockets all have them.
 *
 * @typedef {{
 *   binaryType: string,
 *   readonly readyState: number,
 *   readonly extensions: string,
 *   send(data: string | Uint8Array): void,
 *   close(code?: number, reason?: string): void,
 *   addEventListener(type: string, listener: (ev: any) => void): void,
 * }} SocketLike
 */

/**
 * Queues a socket's events so a scenario can await them in order.
 *
 * @param {SocketLike} ws
 */
function inbox(ws) {
  /** @type {{ kind: string, ev: any }[]} */
  const queue = [];
  /** @type {((item: { kind: string, ev: any }) => void) | null} */
  let waiter = null;
  /** @param {string} kind */
  const push = (kind) => (/** @type {any} */ ev) => {
    const item = { kind, ev };
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(item);
    } else {
      queue.push(item);
    }
  };
  ws.addEventListener("open", push("open"));
  ws.addEventListener("message", push("message"));
  ws.addEventListener("error", push("error"));
  ws.addEventListener("close", push("close"));
  return {
    /**
     * The next event other than "error" (an error is always followed by close).
     *
     * @param {string} what
     * @returns {Promise<{ kind: string, ev: any }>}
     */
    async next(what) {
      for (let i = 0; i < 3; i++) {
        const item = queue.shift() ??
          await within(
            /** @type {Promise<{ kind: string, ev: any }>} */ (new Promise((
              resolve,
            ) => waiter = resolve)),
            what,
          );
        if (item.kind !== "error") return item;
      }
      throw new Error(`repeated errors while waiting for ${what}`);
    },
  };
}

/**
 * Runs the client side of the scenario against `base` (such as
 * `ws://127.0.0.1:9001`) with sockets from `connect`.
 *
 * @param {(url: string) => SocketLike} connect
 * @param {string} base
 * @returns {Promise<ClientReport>}
 */
export async function runClient(connect, base) {
  /** @type {ClientReport} */
  const report = {
    extensions: "",
    echoes: [],
    close: null,
    goodbye: null,
    serverClose: null,
    errors: [],
  };
  try {
    await echoConnection(connect(base + ECHO_PATH), report);
  } catch (e) {
    report.errors.push(`echo connection: ${errorText(e)}`);
  }
  try {
    await closeConnection(connect(base + CLOSE_PATH), report);
  } catch (e) {
    report.errors.push(`server-close connection: ${errorText(e)}`);
  }
  return report;
}

/**
 * @param {SocketLike} ws
 * @param {ClientReport} report
 */
async function echoConnection(ws, report) {
  ws.binaryType = "arraybuffer";
  const events = inbox(ws);
  const first = await events.next("open");
  if (first.kind !== "open") {
    throw new Error(`expected open, got ${first.kind} ${closeText(first.ev)}`);
  }
  report.extensions = ws.extensions;
  for (const spec of MESSAGES) {
    ws.send(payload(spec));
    const item = await events.next(`echo of ${spec.name}`);
    if (item.kind !== "message") {
      throw new Error(
        `expected the echo of ${spec.name}, got ${item.kind} ${
          closeText(item.ev)
        }`,
      );
    }
    const diff = difference(spec, item.ev.data);
    report.echoes.push({ name: spec.name, ok: diff === "", detail: diff });
  }
  ws.close(CLIENT_CLOSE.code, CLIENT_CLOSE.reason);
  const end = await events.next("the server's close");
  if (end.kind !== "close") throw new Error(`expected close, got ${end.kind}`);
  report.close = {
    code: end.ev.code,
    reason: end.ev.reason,
    wasClean: end.ev.wasClean,
  };
}

/**
 * @param {SocketLike} ws
 * @param {ClientReport} report
 */
async function closeConnection(ws, report) {
  ws.binaryType = "arraybuffer";
  const events = inbox(ws);
  const first = await events.next("open");
  if (first.kind !== "open") {
    throw new Error(`expected open, got ${first.kind} ${closeText(first.ev)}`);
  }
  const msg = await events.next("the goodbye message");
  if (msg.kind !== "message") {
    throw new Error(
      `expected the goodbye message, got ${msg.kind} ${closeText(msg.ev)}`,
    );
  }
  const ok = msg.ev.data === GOODBYE;
  report.goodbye = {
    name: "goodbye",
    ok,
    detail: ok ? "" : `got ${describe(msg.ev.data)}`,
  };
  const end = await events.next("the server's close");
  if (end.kind !== "close") throw new Error(`expected close, got ${end.kind}`);
  report.serverClose = {
    code: end.ev.code,
    reason: end.ev.reason,
    wasClean: end.ev.wasClean,
  };
}

/** @param {any} ev */
function closeText(ev) {
  return ev && typeof ev.code === "number"
    ? `(code ${ev.code} "${ev.reason}")`
    : "";
}

/** @param {unknown} e */
function errorText(e) {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs the server side of the scenario on an accepted WHATWG-style socket
 * (`Deno.upgradeWebSocket`, or a `ws` server's socket) for a request to `path`.
 *
 * @param {SocketLike} ws
 * @param {string} path
 * @returns {Promise<ServerReport>}
 */
export function serveSocket(ws, path) {
  /** @type {ServerReport} */
  const report = {
    path,
    extensions: "",
    received: [],
    close: null,
    errors: [],
  };
  ws.binaryType = "arraybuffer";
  let index = 0;
  const start = () => {
    report.extensions = ws.extensions;
    if (path === CLOSE_PATH) {
      ws.send(GOODBYE);
      ws.close(SERVER_CLOSE.code, SERVER_CLOSE.reason);
    } else if (path !== ECHO_PATH) {
      report.errors.push(`unknown path ${path}`);
      ws.close(1008, "unknown path");
    }
  };
  if (ws.readyState === 1) start();
  else ws.addEventListener("open", start);
  ws.addEventListener("message", (ev) => {
    const spec = MESSAGES[index++];
    if (!spec) {
      report.errors.push(`unexpected message ${index}: ${describe(ev.data)}`);
      return;
    }
    const diff = difference(spec, ev.data);
    report.received.push({ name: spec.name, ok: diff === "", detail: diff });
    ws.send(typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data));
  });
  return within(
    new Promise((resolve) => {
      ws.addEventListener("close", (ev) => {
        report.close = {
          code: ev.code,
          reason: ev.reason,
          wasClean: ev.wasClean,
        };
        resolve(report);
      });
    }),
    `the close of ${path}`,
  );
}

/**
 * Lists everything wrong in one run, as read from both sides' reports; an empty
 * list means the run passed.
 *
 * @param {ClientReport} client
 * @param {ServerReport[]} servers The server's reports, one per connection.
 * @param {{ deflate: boolean }} expect Whether permessage-deflate must be negotiated.
 * @returns {string[]}
 */
export function judge(client, servers, expect) {
  const problems = [...client.errors.map((e) => `client: ${e}`)];
  for (const s of servers) {
    problems.push(...s.errors.map((e) => `server ${s.path}: ${e}`));
  }
  for (const spec of MESSAGES) {
    const echo = client.echoes.find((c) => c.name === spec.name);
    if (!echo) problems.push(`client: no echo of ${spec.name}`);
    else if (!echo.ok) {
      problems.push(`client: echo of ${spec.name}: ${echo.detail}`);
    }
  }
  const echoServer = servers.find((s) => s.path === ECHO_PATH);
  const closeServer = servers.find((s) => s.path === CLOSE_PATH);
  if (!echoServer) problems.push("server: no echo connection");
  else {
    for (const spec of MESSAGES) {
      const got = echoServer.received.find((c) => c.name === spec.name);
      if (!got) problems.push(`server: did not receive ${spec.name}`);
      else if (!got.ok) problems.push(`server: ${spec.name}: ${got.detail}`);
    }
    checkClose(
      problems,
      "server saw client's close",
      echoServer.close,
      CLIENT_CLOSE,
      true,
    );
    checkExtensions(problems, "server", echoServer.extensions, expect.deflate);
  }
  checkClose(
    problems,
    "client saw close echo",
    client.close,
    CLIENT_CLOSE,
    false,
  );
  checkExtensions(problems, "client", client.extensions, expect.deflate);
  if (echoServer && echoServer.extensions !== client.extensions) {
    problems.push(
      `extensions differ: server "${echoServer.extensions}", client "${client.extensions}"`,
    );
  }
  if (!client.goodbye) problems.push("client: no goodbye message");
  else if (!client.goodbye.ok) {
    problems.push(`client: goodbye: ${client.goodbye.detail}`);
  }
  checkClose(
    problems,
    "client saw server's close",
    client.serverClose,
    SERVER_CLOSE,
    true,
  );
  if (!closeServer) problems.push("server: no server-close connection");
  else {checkClose(
      problems,
      "server saw close echo",
      closeServer.close,
      SERVER_CLOSE,
      false,
    );}
  return problems;
}

/**
 * @param {string[]} problems
 * @param {string} what
 * @param {CloseSeen | null} seen
 * @param {{ code: number, reason: string }} want
 * @param {boolean} withReason Whether the reason must match too (an echoed close
 *   need only repeat the code: RFC 6455 §5.5.1).
 */
function checkClose(problems, what, seen, want, withReason) {
  if (!seen) {
    problems.push(`${what}: none`);
    return;
  }
  if (seen.code !== want.code) {
    problems.push(`${what}: code ${seen.code}, expected ${want.code}`);
  }
  if (withReason && seen.reason !== want.reason) {
    problems.push(
      `${what}: reason "${seen.reason}", expected "${want.reason}"`,
    );
  }
  if (seen.wasClean === false) problems.push(`${what}: not clean`);
}

/**
 * @param {string[]} problems
 * @param {string} side
 * @param {string} extensions
 * @param {boolean} deflate
 */
function checkExtensions(problems, side, extensions, deflate) {
  const has = /^permessage-deflate\b/.test(extensions);
  if (deflate && !has) {
    problems.push(
      `${side}: permessage-deflate not negotiated ("${extensions}")`,
    );
  }
  if (!deflate && extensions !== "") {
    problems.push(`${side}: unexpected extensions "${extensions}"`);
  }
}
