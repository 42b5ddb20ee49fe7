/**
 * Our library in the interop scenario: a server on a raw `Deno.listen` socket
 * upgraded with `accept`, and a client from `dial`, both playing the scenario of
 * `page/scenario.js` through the `WebSocketConn` interface.
 *
 * Our side also does what browsers cannot: it pings the peer first on the echo
 * connection (the pong must carry the payload back), and sends large messages
 * as fragments through `streamMessage`.
 *
 * @module
 */

import {
  CloseError,
  type DataOpCode,
  OpCode,
  type WebSocketConn,
} from "../../mod.ts";
import { type DeflateOptions, zlibEngine } from "../../deflate.ts";
import { accept } from "../../src/handshake/accept.ts";
import { CA_CERT, listenTls } from "../_tls.ts";
import { dial } from "../../src/handshake/dial.ts";
import {
  type DeflateVariant,
  ReportBox,
  type ScenarioClient,
  type ScenarioServer,
} from "./_peers.ts";
import {
  BURST_COUNT,
  burstSpec,
  type Check,
  CLIENT_CLOSE,
  CLOSE_PATH,
  difference,
  ECHO_PATH,
  GOODBYE,
  MAX_MESSAGE,
  MESSAGES,
  type MessageSpec,
  OFFERED_PROTOCOLS,
  payload,
  PING_PAYLOAD,
  PROTOCOL,
  QUIET_PATH,
  record,
  SERVER_CLOSE,
  specAt,
  within,
} from "./page/messages.js";
import type { ClientReport, ServerReport } from "./page/scenario.js";
import { dec, enc } from "../_wire.ts";

/** Our permessage-deflate options for a variant (`undefined`: compression off). */
export function ourDeflateOptions(
  variant: DeflateVariant | undefined,
): DeflateOptions | undefined {
  if (!variant) return undefined;
  const options: DeflateOptions = { threshold: variant.threshold };
  if (variant.engine === "zlib") options.engine = zlibEngine();
  if (variant.noContextTakeover) {
    options.serverNoContextTakeover = true;
    options.clientNoContextTakeover = true;
  }
  if (variant.maxWindowBits !== undefined) {
    options.serverMaxWindowBits = variant.maxWindowBits;
    options.clientMaxWindowBits = variant.maxWindowBits;
  }
  return options;
}

/** Messages at least this big are sent in fragments, through `streamMessage`. */
const STREAM_FROM = 1 << 20;
/** The chunks fed to `streamMessage`, which cuts them to its fragment size. */
const SLICE = 64 * 1024;

const strictDecoder = new TextDecoder("utf-8", { fatal: true });
const PING_BYTES = enc(PING_PAYLOAD);

/** Compares a received message with its spec, reading it as its opcode says. */
function differenceOf(
  spec: MessageSpec,
  opcode: number,
  data: Uint8Array,
): string {
  if (opcode !== OpCode.Text) return difference(spec, data);
  let text: string;
  try {
    text = strictDecoder.decode(data);
  } catch {
    return "text is not valid UTF-8";
  }
  return difference(spec, text);
}

/** Records whether the first pong carried our ping's payload back. */
function pongRecorder(report: { pong?: Check }): (payload: Uint8Array) => void {
  return (payload) => {
    const got = dec(payload);
    const ok = got === PING_PAYLOAD;
    report.pong ??= {
      name: "pong",
      ok,
      detail: ok ? "" : `pong carried "${got}"`,
    };
  };
}

function opcodeOf(spec: MessageSpec): DataOpCode {
  return spec.type === "text" ? OpCode.Text : OpCode.Binary;
}

/** Writes a message whole, or streamed in fragments when it is large. */
async function send(
  conn: WebSocketConn,
  opcode: DataOpCode,
  data: Uint8Array | string,
): Promise<void> {
  if (typeof data === "string") data = enc(data);
  if (data.length < STREAM_FROM) return await conn.writeMessage(opcode, data);
  await conn.streamMessage(opcode, slices(data));
}

async function* slices(data: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += SLICE) {
    yield data.subarray(at, at + SLICE);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Reads until the peer's close, echoing every message; records what arrived. */
async function echoAll(
  conn: WebSocketConn,
  report: ServerReport,
): Promise<void> {
  for (let index = 0;; index++) {
    let msg;
    try {
      msg = await conn.readMessage();
    } catch (e) {
      if (!(e instanceof CloseError)) throw e;
      report.close = { code: e.code, reason: e.reason };
      return;
    }
    const spec = specAt(index);
    if (!spec) {
      report.errors.push(
        `unexpected message ${index + 1} of ${msg.data.length} bytes`,
      );
    } else {
      record(report.received, spec, differenceOf(spec, msg.opcode, msg.data));
    }
    await send(conn, msg.opcode, msg.data);
  }
}

/** Runs the server side of the scenario on one of our connections. */
async function serveConn(
  conn: WebSocketConn,
  report: ServerReport,
): Promise<ServerReport> {
  report.extensions = conn.extensions;
  report.protocol = conn.protocol;
  try {
    if (report.path === CLOSE_PATH) {
      await conn.writeMessage(OpCode.Text, GOODBYE);
      await conn.close(SERVER_CLOSE.code, SERVER_CLOSE.reason);
    } else {
      if (report.path === ECHO_PATH) await conn.ping(PING_BYTES);
      await echoAll(conn, report);
    }
    const seen = await within(conn.closed, `the end of ${report.path}`);
    if (report.path === CLOSE_PATH) {
      report.close = { code: seen.code, reason: seen.reason };
    }
  } catch (e) {
    report.errors.push(errorText(e));
    conn.abort();
  }
  return report;
}

/** Upgrades one accepted TCP connection and serves it. */
async function handle(
  tcp: Deno.Conn,
  deflate: DeflateOptions | undefined,
): Promise<ServerReport> {
  const report: ServerReport = {
    path: "?",
    extensions: "",
    protocol: "",
    received: [],
    close: null,
    errors: [],
  };
  let conn: WebSocketConn;
  try {
    const raw = await accept(tcp, {
      readLimit: MAX_MESSAGE,
      protocols: [PROTOCOL],
      onRequest(req) {
        report.path = new URL(req.target, "http://x").pathname;
      },
      onPong: pongRecorder(report),
      deflate,
    });
    conn = raw;
  } catch (e) {
    report.errors.push(`accept: ${errorText(e)}`);
    return report;
  }
  return await serveConn(conn, report);
}

/**
 * Starts our server on 127.0.0.1: `Deno.listen` (or `Deno.listenTls` with the
 * test certificate when `secure`) and `accept`, with permessage-deflate when a
 * variant is given.
 */
export function startOurServer(
  variant?: DeflateVariant,
  secure = false,
): Promise<ScenarioServer> {
  const deflate = ourDeflateOptions(variant);
  const box = new ReportBox();
  const listener = secure
    ? listenTls()
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const loop = (async () => {
    for await (const tcp of listener) {
      open.add(tcp);
      box.add(handle(tcp, deflate).finally(() => open.delete(tcp)));
    }
  })().catch(() => {});
  return Promise.resolve({
    url: `${secure ? "wss" : "ws"}://127.0.0.1:${listener.addr.port}`,
    reports: (count) => box.take(count),
    async close() {
      listener.close();
      for (const tcp of open) {
        try {
          tcp.close();
        } catch {
          // already closed by its connection
        }
      }
      await loop;
    },
  });
}

/** The echo connection of our client: one message at a time, then the burst. */
async function clientEcho(
  conn: WebSocketConn,
  report: ClientReport,
): Promise<void> {
  report.extensions = conn.extensions;
  report.protocol = conn.protocol;
  await conn.ping(PING_BYTES);
  for (const spec of MESSAGES) {
    const [msg] = await Promise.all([
      within(conn.readMessage(), `the echo of ${spec.name}`),
      send(conn, opcodeOf(spec), payload(spec)),
    ]);
    record(report.echoes, spec, differenceOf(spec, msg.opcode, msg.data));
  }
  const writes: Promise<void>[] = [];
  for (let i = 0; i < BURST_COUNT; i++) {
    const spec = burstSpec(i);
    writes.push(conn.writeMessage(opcodeOf(spec), payload(spec)));
  }
  for (let i = 0; i < BURST_COUNT; i++) {
    const spec = burstSpec(i);
    const msg = await within(conn.readMessage(), `the echo of ${spec.name}`);
    record(report.echoes, spec, differenceOf(spec, msg.opcode, msg.data));
  }
  await Promise.all(writes);
  await conn.close(CLIENT_CLOSE.code, CLIENT_CLOSE.reason);
  const seen = await within(conn.closed, "the echo connection's close");
  report.close = { code: seen.code, reason: seen.reason };
}

/** The server-close connection of our client: the goodbye, then the close. */
async function clientGoodbye(
  conn: WebSocketConn,
  report: ClientReport,
): Promise<void> {
  const msg = await within(conn.readMessage(), "the goodbye message");
  const text = msg.opcode === OpCode.Text ? dec(msg.data) : null;
  const ok = text === GOODBYE;
  report.goodbye = {
    name: "goodbye",
    ok,
    detail: ok ? "" : `got opcode ${msg.opcode}: ${text}`,
  };
  try {
    await within(conn.readMessage(), "the server's close");
    report.errors.push(
      "server-close connection: a message instead of the close",
    );
  } catch (e) {
    if (!(e instanceof CloseError)) throw e;
    report.serverClose = { code: e.code, reason: e.reason };
  }
  const end = await within(conn.closed, "the server-close connection's end");
  if (end.code !== SERVER_CLOSE.code) {
    report.errors.push(`server-close connection ended with ${end.code}`);
  }
}

/** The quiet-close connection of our client: `close()` with no arguments. */
async function clientQuiet(
  conn: WebSocketConn,
  report: ClientReport,
): Promise<void> {
  await conn.close();
  const seen = await within(conn.closed, "the quiet-close connection's end");
  report.quietClose = { code: seen.code, reason: seen.reason };
}

/** Our `dial` as the scenario's client, with permessage-deflate when a variant is given. */
export function ourClient(variant?: DeflateVariant): ScenarioClient {
  const deflate = ourDeflateOptions(variant);
  return async (base) => {
    const report: ClientReport = {
      extensions: "",
      protocol: "",
      echoes: [],
      close: null,
      goodbye: null,
      serverClose: null,
      quietClose: null,
      errors: [],
    };
    const steps = [
      { path: ECHO_PATH, run: clientEcho },
      { path: CLOSE_PATH, run: clientGoodbye },
      { path: QUIET_PATH, run: clientQuiet },
    ];
    for (const { path, run } of steps) {
      let conn: WebSocketConn | null = null;
      try {
        const raw = await dial(base + path, {
          readLimit: MAX_MESSAGE,
          protocols: OFFERED_PROTOCOLS,
          caCerts: [CA_CERT],
          onPong: pongRecorder(report),
          deflate,
        });
        conn = raw;
        await run(conn, report);
      } catch (e) {
        report.errors.push(`${path}: ${errorText(e)}`);
      } finally {
        conn?.abort();
      }
    }
    return report;
  };
}
