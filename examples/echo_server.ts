/**
 * An echo server: every text or binary message (up to 16 MiB) comes back as it
 * was sent. It is also the testee for conformance fuzzers.
 *
 * ```sh
 * deno run --allow-net --allow-read examples/echo_server.ts [--port 9001] \
 *   [--hostname 127.0.0.1] [--cert cert.pem --key key.pem] [--quiet]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  accept,
  type AcceptOptions,
  HandshakeError,
  ReadLimit,
  type WebSocketConn,
  WebSocketError,
} from "@wsx/websocket";

interface Flags {
  hostname: string;
  port: number;
  cert?: string;
  key?: string;
  quiet: boolean;
}

function readFlags(args: string[]): Flags {
  const { values } = parseArgs({
    args,
    options: {
      hostname: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "9001" },
      cert: { type: "string" },
      key: { type: "string" },
      quiet: { type: "boolean", default: false },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Invalid port: ${values.port}`);
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

/** Serves one connection; whatever happens stays with it. */
async function serve(
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

async function main(): Promise<void> {
  const flags = readFlags(Deno.args);
  const log = flags.quiet ? () => {} : (line: string) => console.error(line);
  // Messages up to 16 MiB, as conformance fuzzers send.
  const options: AcceptOptions = { readLimit: ReadLimit.Large };
  const listener = listen(flags);
  const stop = () => listener.close();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const addr = listener.addr as Deno.NetAddr;
  const scheme = flags.cert ? "wss" : "ws";
  console.log(
    `Echo server listening on ${scheme}://${addr.hostname}:${addr.port}`,
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
