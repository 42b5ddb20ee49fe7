/**
 * Test fixtures for WebSockets over HTTP/2: an echo server built with
 * `createHttp2Server` (cleartext or TLS with the test certificate), recording how
 * each WebSocket arrived, and a raw `node:http2` client session.
 *
 * @module
 */

import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
} from "node:http2";
import type { Server } from "node:net";
import {
  createHttp2Server,
  type Http2ConnInfo,
  type Http2ServerOptions,
} from "../../http2.ts";
import type { WebSocketConn } from "../../mod.ts";
import { CA_CERT, SERVER_CERT, SERVER_KEY } from "../_tls.ts";

/** A running server and what it saw. */
export interface Started extends AsyncDisposable {
  server: Server;
  port: number;
  /** `ws://` or `wss://` with the port, no path. */
  wsUrl: string;
  /** How each accepted WebSocket arrived, in order. */
  arrivals: Http2ConnInfo[];
  /** The connections the handler got, in order. */
  conns: WebSocketConn[];
  close(): Promise<void>;
}

/** Echoes every message back until the peer closes. */
export async function echo(conn: WebSocketConn): Promise<void> {
  for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
}

/**
 * Starts a server on a random loopback port: by default an echo server with a
 * `fetch` handler answering "page <path>".
 */
export async function startServer(
  options: Partial<Http2ServerOptions> & { tls?: boolean } = {},
): Promise<Started> {
  const { tls, ...rest } = options;
  const arrivals: Http2ConnInfo[] = [];
  const conns: WebSocketConn[] = [];
  const handler = rest.websocket ?? echo;
  const server = createHttp2Server({
    fetch: (req) => new Response(`page ${new URL(req.url).pathname}`),
    onError: () => {},
    ...rest,
    ...(tls ? { cert: SERVER_CERT, key: SERVER_KEY } : {}),
    websocket: (conn, request, info) => {
      arrivals.push(info);
      conns.push(conn);
      return handler(conn, request, info);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const close = () =>
    new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    server,
    port,
    wsUrl: `${tls ? "wss" : "ws"}://${tls ? "localhost" : "127.0.0.1"}:${port}`,
    arrivals,
    conns,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A raw client session to a started server, once its SETTINGS arrived. */
export async function rawSession(
  started: Started,
  tls = false,
): Promise<ClientHttp2Session & { remote: Record<string, unknown> }> {
  const session = connect(
    `${tls ? "https://localhost" : "http://127.0.0.1"}:${started.port}`,
    tls ? { ca: [CA_CERT] } : {},
  );
  session.on("error", () => {});
  const remote = await new Promise<Record<string, unknown>>((resolve) =>
    session.once("remoteSettings", resolve)
  );
  return Object.assign(session, { remote });
}

/** Waits for a node event emitter's event. */
export function once<T = unknown>(
  emitter: { once(event: string, fn: (value: T) => void): unknown },
  event: string,
): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve));
}

/** The header block of a valid extended CONNECT to `path`. */
export function connectHeaders(
  port: number,
  path = "/",
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": "http",
    ":path": path,
    ":authority": `127.0.0.1:${port}`,
    "sec-websocket-version": "13",
    ...extra,
  };
}

/**
 * Closes a raw session or stream on a later macrotask and waits for its `close`:
 * Deno 2.9.6's `node:http2` can crash when one is closed from inside a callback
 * of its own (see `src/http2/defer.ts`).
 */
export async function closeLater(
  target: ClientHttp2Session | ClientHttp2Stream,
  code?: number,
): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  if (target.closed || target.destroyed) return;
  const closed = new Promise<void>((resolve) => target.once("close", resolve));
  if ("request" in target) target.close();
  else target.close(code);
  await closed;
}
