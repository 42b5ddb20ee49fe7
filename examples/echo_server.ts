/**
 * An echo server: every text or binary message (up to 16 MiB) comes back as it
 * was sent. It is also the testee for conformance fuzzers.
 *
 * permessage-deflate is negotiated by default, on the `node:zlib` engine, which
 * honours every window size a client may ask for, and keeps a compression
 * context per connection (the fastest setting under load: about 2x `ws` when a
 * load generator repeats one message, 1.15x with varied messages; about 250 KiB
 * per connection). `--deflate-no-takeover` compresses each message on its
 * own on pooled compressors at level 3 instead (about 9 KiB per connection;
 * slower when messages repeat, faster when they differ). `--deflate-engine stream` uses
 * the library's default engine, `CompressionStream`, which hands a connection
 * whose window must be under 15 bits to zlib, so every valid offer is still
 * accepted; `--no-deflate` turns compression off.
 *
 * `--debug` logs every frame and message to stderr through the connection's
 * lifecycle hooks: direction (`<-` read, `->` written), opcode, FIN, RSV bits,
 * length and the first 32 bytes of the payload (as text when they decode,
 * else hex); then read and write errors and the close.
 *
 * Connections read and write in 8 KiB chunks (`ChunkSize.Balanced`, where the
 * library's default is 4 KiB): a batch of pipelined medium-sized messages then
 * takes one read instead of two, for 4 KiB more per busy connection (idle
 * connections hold no chunk). `--chunk-size` sets another size.
 *
 * ```sh
 * deno run --allow-net --allow-read examples/echo_server.ts [--port 9001] \
 *   [--hostname 127.0.0.1] [--cert cert.pem --key key.pem] [--quiet] \
 *   [--no-deflate | --deflate-engine zlib|stream] [--deflate-no-takeover] \
 *   [--chunk-size 8192] [--debug] [--http2]
 * ```
 *
 * `--http2` serves WebSockets as HTTP/2 extended CONNECT streams (RFC 8441) as
 * well as HTTP/1.1 upgrades, on one port: with `--cert`/`--key` over TLS with
 * ALPN `h2` and `http/1.1`, without them as cleartext HTTP/2 with prior
 * knowledge (h2c) beside HTTP/1.1.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  accept,
  type AcceptOptions,
  ChunkSize,
  type ConnHooks,
  echoHandler,
  HandshakeError,
  type Header,
  ReadLimit,
  serveMessages,
  type WebSocketConn,
  WebSocketError,
} from "@wsx/websocket";
import { zlibEngine } from "@wsx/websocket/deflate";
import { createHttp2Server } from "@wsx/websocket/http2";

/** The echo server's command-line flags. */
export interface Flags {
  hostname: string;
  port: number;
  cert?: string;
  key?: string;
  quiet: boolean;
  deflate: "zlib" | "stream" | "off";
  takeover: boolean;
  chunkSize: number;
  debug: boolean;
  http2: boolean;
}

/** The flags, from the command line's arguments (also used by `bench:idle`). */
export function readFlags(args: string[]): Flags {
  const { values } = parseArgs({
    args,
    options: {
      hostname: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "9001" },
      cert: { type: "string" },
      key: { type: "string" },
      quiet: { type: "boolean", default: false },
      "no-deflate": { type: "boolean", default: false },
      "deflate-engine": { type: "string", default: "zlib" },
      "deflate-no-takeover": { type: "boolean", default: false },
      "chunk-size": { type: "string", default: String(ChunkSize.Balanced) },
      debug: { type: "boolean", default: false },
      http2: { type: "boolean", default: false },
    },
  });
  const engine = values["deflate-engine"];
  if (engine !== "zlib" && engine !== "stream") {
    throw new TypeError(
      `--deflate-engine must be zlib or stream, not ${engine}`,
    );
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Invalid port: ${values.port}`);
  }
  const chunkSize = Number(values["chunk-size"]);
  if (!Number.isInteger(chunkSize) || chunkSize < 64) {
    throw new RangeError(
      `--chunk-size must be an integer of at least 64, not ${
        values["chunk-size"]
      }`,
    );
  }
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw new TypeError("--cert and --key go together");
  }
  return {
    hostname: values.hostname,
    port,
    cert: values.cert,
    key: values.key,
    quiet: values.quiet,
    deflate: values["no-deflate"] ? "off" : engine,
    takeover: !values["deflate-no-takeover"],
    chunkSize,
    debug: values.debug,
    http2: values.http2,
  };
}

function listen(flags: Flags): Deno.Listener {
  const { hostname, port } = flags;
  if (flags.cert === undefined || flags.key === undefined) {
    return Deno.listen({ hostname, port });
  }
  return Deno.listenTls({
    hostname,
    port,
    cert: Deno.readTextFileSync(flags.cert),
    key: Deno.readTextFileSync(flags.key),
  });
}

const OPCODES: Record<number, string> = {
  0: "continuation",
  1: "text",
  2: "binary",
  8: "close",
  9: "ping",
  10: "pong",
};
const PREVIEW_BYTES = 32;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The first bytes of a payload: quoted text when they decode, else hex. */
function preview(payload: Uint8Array): string {
  const head = payload.subarray(0, PREVIEW_BYTES);
  const more = payload.length > PREVIEW_BYTES ? "…" : "";
  try {
    return JSON.stringify(strictUtf8.decode(head)) + more;
  } catch {
    return [...head].map((b) => b.toString(16).padStart(2, "0")).join(" ") +
      more;
  }
}

function describeFrame(h: Header, payload: Uint8Array): string {
  const rsv = ((h.rsv >> 4) & 7).toString(2).padStart(3, "0");
  return `frame ${OPCODES[h.opcode] ?? h.opcode} fin=${
    h.fin ? 1 : 0
  } rsv=${rsv} len=${h.length} ${preview(payload)}`;
}

/** Hooks that log a connection's frames, messages, errors and close. */
function debugHooks(peer: string): ConnHooks {
  const log = (line: string) => console.error(`${peer} ${line}`);
  return {
    onReadFrame: (h, payload) => log(`<- ${describeFrame(h, payload)}`),
    onWriteFrame: (h, payload) => log(`-> ${describeFrame(h, payload)}`),
    onReadMessage: (m) =>
      log(`<- message ${OPCODES[m.opcode]} len=${m.length}`),
    onWriteMessage: (m) =>
      log(`-> message ${OPCODES[m.opcode]} len=${m.length}`),
    onReadError: (err) => log(`read error: ${message(err)}`),
    onWriteError: (err) => log(`write error: ${message(err)}`),
    onClose: (code, reason, err) =>
      log(
        `closed ${code} ${JSON.stringify(reason)}${
          err === null ? "" : `: ${message(err)}`
        }`,
      ),
  };
}

/** Serves one connection; whatever happens stays with it (also used by `bench:idle`). */
export async function serve(
  socket: Deno.Conn,
  options: AcceptOptions,
  log: (line: string) => void,
  debug = false,
): Promise<void> {
  let conn: WebSocketConn;
  try {
    conn = await accept(
      socket,
      debug ? { ...options, hooks: debugHooks(describe(socket)) } : options,
    );
  } catch (err) {
    const status = err instanceof HandshakeError ? ` ${err.status}` : "";
    log(`${describe(socket)} handshake failed${status}: ${message(err)}`);
    return;
  }
  // Ends when the peer closes; the connection answers pings and the closing
  // handshake itself. Returned rather than awaited: an idle connection then
  // holds a pending `catch`, not this function's suspended frame.
  return serveMessages(conn, echoHandler).catch((err) => {
    const code = err instanceof WebSocketError ? ` ${err.closeCode}` : "";
    log(`${describe(socket)} closed${code}: ${message(err)}`);
    conn.abort();
  });
}

/** The peer's address, for the log (looked up when a line is written). */
function describe(socket: Deno.Conn): string {
  const addr = socket.remoteAddr;
  return addr.transport === "tcp"
    ? `${addr.hostname}:${addr.port}`
    : addr.transport;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What the flags ask of every connection (also used by `bench:idle`). */
export function optionsOf(flags: Flags): AcceptOptions {
  // Messages up to 16 MiB, as conformance fuzzers send.
  return {
    readLimit: ReadLimit.Large,
    chunkSize: flags.chunkSize,
    deflate: flags.deflate !== "off" && {
      // "stream": the default engine (CompressionStream, zlib for small windows).
      engine: flags.deflate === "zlib" ? zlibEngine() : undefined,
      serverNoContextTakeover: !flags.takeover,
    },
  };
}

async function main(): Promise<void> {
  const flags = readFlags(Deno.args);
  const log = flags.quiet ? () => {} : (line: string) => console.error(line);
  const options = optionsOf(flags);
  if (flags.http2) return serveHttp2(flags, options, log);
  const listener = listen(flags);
  const stop = () => listener.close();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const addr = listener.addr as Deno.NetAddr;
  const scheme = flags.cert ? "wss" : "ws";
  const compression = flags.deflate === "off"
    ? "compression off"
    : `permessage-deflate on ${flags.deflate}, ${
      flags.takeover ? "context takeover" : "no server context takeover"
    }`;
  console.log(
    `Echo server listening on ${scheme}://${addr.hostname}:${addr.port} (${compression}; ${flags.chunkSize}-byte chunks)`,
  );
  for (;;) {
    let socket: Deno.Conn;
    try {
      socket = await listener.accept();
    } catch (err) {
      if (err instanceof Deno.errors.BadResource) break; // closed by a signal
      log(`accept failed: ${message(err)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    serve(socket, options, log, flags.debug).catch((err) =>
      log(`unexpected: ${message(err)}`)
    );
  }
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  console.log("Echo server stopped");
}

if (import.meta.main) await main();

/** `--http2`: HTTP/2 streams and HTTP/1.1 upgrades on one port, until a signal. */
async function serveHttp2(
  flags: Flags,
  options: AcceptOptions,
  log: (line: string) => void,
): Promise<void> {
  const tls = flags.cert !== undefined && flags.key !== undefined;
  const server = createHttp2Server({
    ...options,
    ...(tls
      ? {
        cert: Deno.readTextFileSync(flags.cert!),
        key: Deno.readTextFileSync(flags.key!),
      }
      : {}),
    fetch: () => new Response("WebSocket echo server\n"),
    websocket: (conn) => serveMessages(conn, echoHandler),
    onError: (err) => log(message(err)),
  });
  await new Promise<void>((resolve) =>
    server.listen(flags.port, flags.hostname, resolve)
  );
  const { port } = server.address() as { port: number };
  const closed = new Promise((resolve) => {
    const stop = () => server.close(resolve);
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  const over = tls
    ? "TLS, ALPN h2 and http/1.1"
    : "h2c with prior knowledge and HTTP/1.1";
  console.log(
    `Echo server listening on ${
      tls ? "wss" : "ws"
    }://${flags.hostname}:${port} (HTTP/2 extended CONNECT and HTTP/1.1 upgrades on one port: ${over})`,
  );
  await closed;
  console.log("Echo server stopped");
}
