// @ts-check
/**
 * The interop scenario played by a WHATWG-style `WebSocket`: Deno's built-in
 * one, `ws`'s (which has the same event interface), and the browser's, from
 * this very file served to Chromium.
 *
 * Two connections make one run:
 * - `/echo`: the client sends each of `MESSAGES` and checks its echo, then sends
 *   a burst of small messages before reading their echoes, then closes with
 *   `CLIENT_CLOSE`.
 * - `/server-close`: the server sends `GOODBYE` and closes with `SERVER_CLOSE`.
 * - `/quiet-close`: the client closes at once, without a code.
 *
 * Both sides write what they saw into a report (types below); `_judge.ts` turns
 * a pair of reports into a list of problems.
 *
 * @module
 */

import {
  BURST_COUNT,
  burstSpec,
  CLIENT_CLOSE,
  CLOSE_PATH,
  describe,
  difference,
  ECHO_PATH,
  GOODBYE,
  MESSAGES,
  OFFERED_PROTOCOLS,
  payload,
  QUIET_PATH,
  record,
  SERVER_CLOSE,
  specAt,
  within,
} from "./messages.js";

/**
 * @typedef {import("./messages.js").Check} Check
 * @typedef {{ code: number, reason: string, wasClean?: boolean }} CloseSeen
 * @typedef {{ extensions: string, protocol: string, echoes: Check[], close: CloseSeen | null, goodbye: Check | null, serverClose: CloseSeen | null, quietClose: CloseSeen | null, errors: string[], pong?: Check }} ClientReport
 * @typedef {{ path: string, extensions: string, protocol: string, received: Check[], close: CloseSeen | null, errors: string[], pong?: Check }} ServerReport
 */

/**
 * The parts of a WHATWG `WebSocket` the scenario uses; Deno's, the browser's and
 * `ws`'s sockets all have them.
 *
 * @typedef {{
 *   binaryType: string,
 *   readonly readyState: number,
 *   readonly extensions: string,
 *   readonly protocol: string,
 *   send(data: string | Uint8Array): void,
 *   close(code?: number, reason?: string): void,
 *   addEventListener(type: string, listener: (ev: any) => void): void,
 * }} SocketLike
 */

/** @typedef {{ kind: string, ev: any }} SocketEvent */

/**
 * Queues a socket's events so a scenario can await them in order.
 *
 * @param {SocketLike} ws
 */
function inbox(ws) {
  /** @type {SocketEvent[]} */
  const queue = [];
  /** @type {((item: SocketEvent) => void) | null} */
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
  for (const kind of ["open", "message", "error", "close"]) {
    ws.addEventListener(kind, push(kind));
  }
  return {
    /**
     * The next event other than "error" (an error is always followed by close).
     *
     * @param {string} what
     * @returns {Promise<SocketEvent>}
     */
    async next(what) {
      for (let i = 0; i < 3; i++) {
        const item = queue.shift() ??
          await within(
            /** @type {Promise<SocketEvent>} */ (
              new Promise((resolve) => waiter = resolve)
            ),
            what,
          );
        if (item.kind !== "error") return item;
      }
      throw new Error(`repeated errors while waiting for ${what}`);
    },
    /**
     * The next event, which must be `kind`.
     *
     * @param {string} kind
     * @param {string} what
     * @returns {Promise<any>} The event.
     */
    async expect(kind, what) {
      const item = await this.next(what);
      if (item.kind !== kind) {
        throw new Error(
          `expected ${what}, got ${item.kind} ${closeText(item.ev)}`,
        );
      }
      return item.ev;
    },
  };
}

/**
 * Runs the client side of the scenario against `base` (such as
 * `ws://127.0.0.1:9001`) with sockets from `connect`, which is given the
 * subprotocols to offer.
 *
 * @param {(url: string, protocols: string[]) => SocketLike} connect
 * @param {string} base
 * @returns {Promise<ClientReport>}
 */
export async function runClient(connect, base) {
  /** @type {ClientReport} */
  const report = {
    extensions: "",
    protocol: "",
    echoes: [],
    close: null,
    goodbye: null,
    serverClose: null,
    quietClose: null,
    errors: [],
  };
  try {
    await echoConnection(connect(base + ECHO_PATH, OFFERED_PROTOCOLS), report);
  } catch (e) {
    report.errors.push(`echo connection: ${errorText(e)}`);
  }
  try {
    await closeConnection(
      connect(base + CLOSE_PATH, OFFERED_PROTOCOLS),
      report,
    );
  } catch (e) {
    report.errors.push(`server-close connection: ${errorText(e)}`);
  }
  try {
    await quietConnection(
      connect(base + QUIET_PATH, OFFERED_PROTOCOLS),
      report,
    );
  } catch (e) {
    report.errors.push(`quiet-close connection: ${errorText(e)}`);
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
  await events.expect("open", "open");
  report.extensions = ws.extensions;
  report.protocol = ws.protocol;
  for (const spec of MESSAGES) {
    ws.send(payload(spec));
    const ev = await events.expect("message", `the echo of ${spec.name}`);
    record(report.echoes, spec, difference(spec, ev.data));
  }
  for (let i = 0; i < BURST_COUNT; i++) ws.send(payload(burstSpec(i)));
  for (let i = 0; i < BURST_COUNT; i++) {
    const spec = burstSpec(i);
    const ev = await events.expect("message", `the echo of ${spec.name}`);
    record(report.echoes, spec, difference(spec, ev.data));
  }
  ws.close(CLIENT_CLOSE.code, CLIENT_CLOSE.reason);
  report.close = closeSeen(await events.expect("close", "the close echo"));
}

/**
 * @param {SocketLike} ws
 * @param {ClientReport} report
 */
async function closeConnection(ws, report) {
  ws.binaryType = "arraybuffer";
  const events = inbox(ws);
  await events.expect("open", "open");
  const msg = await events.expect("message", "the goodbye message");
  const ok = msg.data === GOODBYE;
  report.goodbye = {
    name: "goodbye",
    ok,
    detail: ok ? "" : `got ${describe(msg.data)}`,
  };
  report.serverClose = closeSeen(
    await events.expect("close", "the server's close"),
  );
}

/**
 * @param {SocketLike} ws
 * @param {ClientReport} report
 */
async function quietConnection(ws, report) {
  const events = inbox(ws);
  await events.expect("open", "open");
  ws.close();
  report.quietClose = closeSeen(await events.expect("close", "the close echo"));
}

/**
 * @param {any} ev
 * @returns {CloseSeen}
 */
function closeSeen(ev) {
  return { code: ev.code, reason: ev.reason, wasClean: ev.wasClean };
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
 * @param {string} [protocol] The subprotocol the server answered, for a socket
 *   whose `protocol` does not tell (Deno's server socket).
 * @returns {Promise<ServerReport>}
 */
export function serveSocket(ws, path, protocol) {
  /** @type {ServerReport} */
  const report = {
    path,
    extensions: "",
    protocol: "",
    received: [],
    close: null,
    errors: [],
  };
  ws.binaryType = "arraybuffer";
  let index = 0;
  const start = () => {
    report.extensions = ws.extensions;
    report.protocol = protocol ?? ws.protocol;
    if (path === CLOSE_PATH) {
      ws.send(GOODBYE);
      ws.close(SERVER_CLOSE.code, SERVER_CLOSE.reason);
    } else if (path !== ECHO_PATH && path !== QUIET_PATH) {
      report.errors.push(`unknown path ${path}`);
      ws.close(1008, "unknown path");
    }
  };
  if (ws.readyState === 1) start();
  else ws.addEventListener("open", start);
  ws.addEventListener("message", (ev) => {
    const spec = specAt(index++);
    if (!spec) {
      report.errors.push(`unexpected message ${index}: ${describe(ev.data)}`);
      return;
    }
    record(report.received, spec, difference(spec, ev.data));
    ws.send(typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data));
  });
  return within(
    new Promise((resolve) => {
      ws.addEventListener("close", (ev) => {
        report.close = closeSeen(ev);
        resolve(report);
      });
    }),
    `the close of ${path}`,
  );
}
