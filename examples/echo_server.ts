/**
 * An echo server: every text or binary message (up to 16 MiB) comes back as it
 * was sent. It is also the testee for conformance fuzzers.
 *
 * permessage-deflate is negotiated by default, on the `node:zlib` engine, which
 * honours every window size a client may ask for, and keeps a compression
 * context per connection (the fastest setting under load: about 2x `ws` when a
 * load generator repeats one message, 1.15x with varied messages; about 250 KiB
 * per connection). `--deflate-no-takeover` compresses each message on its
 * own on pooled compressors instead (about 9 KiB per connection; slower when
 * messages repeat, about 2x faster when they differ). `--deflate-engine stream` uses
 * `CompressionStream`, which declines offers for windows under 15 bits);
 * `--no-deflate` turns compression off.
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
 *   [--chunk-size 8192]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  accept,
  type AcceptOptions,
  ChunkSize,
  HandshakeError,
  ReadLimit,
  type WebSocketConn,
  WebSocketError,
} from "@wsx/websocket";
import { compressionStreamEngine, zlibEngine } from "@wsx/websocket/deflate";

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

async function echo(conn: WebSocketConn): Promise<void> {
  // The iteration ends when the peer closes; the connection answers pings and
  // the closing handshake itself.
  for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
}

/** Serves one connection; whatever happens stays with it (also used by `bench:idle`). */
export async function serve(
  socket: Deno.Conn,
  options: AcceptOptions,
  log: (line: string) => void,
): Promise<void> {
  const peer = describe(socket.remoteAddr);
  let conn: WebSocketConn;
  try {
    conn = await accept(socket, options);
  } catch (err) {
    const status = err instanceof HandshakeError ? ` ${err.status}` : "";
    log(`${peer} handshake failed${status}: ${message(err)}`);
    return;
  }
  try {
    await echo(conn);
  } catch (err) {
    const code = err instanceof WebSocketError ? ` ${err.closeCode}` : "";
    log(`${peer} closed${code}: ${message(err)}`);
    conn.abort();
  }
}

function describe(addr: Deno.Addr): string {
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
      engine: flags.deflate === "zlib"
        ? zlibEngine()
        : compressionStreamEngine(),
      serverNoContextTakeover: !flags.takeover,
    },
  };
}

async function main(): Promise<void> {
  const flags = readFlags(Deno.args);
  const log = flags.quiet ? () => {} : (line: string) => console.error(line);
  const options = optionsOf(flags);
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
    serve(socket, options, log).catch((err) =>
      log(`unexpected: ${message(err)}`)
    );
  }
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  console.log("Echo server stopped");
}

if (import.meta.main) await main();
