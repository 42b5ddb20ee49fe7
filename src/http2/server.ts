/**
 * One port for HTTP/2 and HTTP/1.1, pages and WebSockets: WebSockets arrive as
 * extended CONNECT streams (RFC 8441) or as HTTP/1.1 upgrades, and other
 * requests go to a `Deno.serve`-style `fetch` handler.
 *
 * @module
 */

import {
  createSecureServer,
  createServer as createH2cServer,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  createServer as createTcpServer,
  type Server,
  type Socket,
} from "node:net";
import type { Duplex } from "node:stream";
import { CloseCode } from "../codec/close_code.ts";
import { CloseError, WebSocketError } from "../codec/errors.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";
import type { AcceptOptions } from "../handshake/accept.ts";
import {
  createNodeServer,
  type NodeServerOptions,
} from "../servers/node_upgrade.ts";
import { acceptHttp2 } from "./accept_stream.ts";
import { fieldsOf, isWebSocketConnect } from "./extended_connect.ts";
import { answerFetch } from "./fetch_stream.ts";

/**
 * How a WebSocket arrived: as a stream of an HTTP/2 session, or as an HTTP/1.1
 * upgrade.
 *
 * @example
 * ```ts
 * import type { Http2ConnInfo } from "@wsx/websocket/http2";
 * import { assertEquals } from "@std/assert";
 *
 * const info: Http2ConnInfo = { httpVersion: "1.1", session: null, streamId: null };
 * assertEquals(info.session, null);
 * ```
 */
export interface Http2ConnInfo {
  /** `"2"` for an extended CONNECT stream, `"1.1"` for an upgrade. */
  httpVersion: "2" | "1.1";
  /** The HTTP/2 session the stream belongs to (null for HTTP/1.1). */
  session: Http2Session | null;
  /** The stream's id in its session (null for HTTP/1.1). */
  streamId: number | null;
}

/**
 * The handlers and settings of {@linkcode createHttp2Server}: those of
 * `createNodeServer`, TLS credentials, and a WebSocket handler that is told how
 * the connection arrived.
 *
 * @example
 * ```ts
 * import type { Http2ServerOptions } from "@wsx/websocket/http2";
 * import { assertEquals } from "@std/assert";
 *
 * const options: Http2ServerOptions = {
 *   fetch: () => new Response("hello"),
 *   websocket: (conn) => conn.close(),
 *   deflate: true,
 * };
 * assertEquals(options.deflate, true);
 * ```
 */
export interface Http2ServerOptions
  extends Omit<NodeServerOptions, "websocket"> {
  /**
   * Runs once per WebSocket connection, with its request. When it returns, the
   * connection is closed with 1000 if still open; when it throws, with 1011.
   */
  websocket: (
    conn: WebSocketConn,
    request: Request,
    info: Http2ConnInfo,
  ) => void | Promise<void>;
  /** The certificate chain (PEM): with `key`, TLS with ALPN `h2` and `http/1.1`. */
  cert?: string;
  /** The private key (PEM). */
  key?: string;
  /**
   * Whether the port serves HTTP/1.1 as well (default `true`). `false` leaves
   * HTTP/2 alone: ALPN offers only `h2`, and cleartext connections must open with
   * the HTTP/2 preface.
   */
  http1?: boolean;
}

const HTTP1: Http2ConnInfo = {
  httpVersion: "1.1",
  session: null,
  streamId: null,
};

/**
 * Builds a server for HTTP/2 and HTTP/1.1 on one port, with WebSockets over both.
 * Call `listen()` on the result.
 *
 * With `cert` and `key` it speaks TLS and offers ALPN `h2` and `http/1.1`;
 * without them, cleartext: HTTP/2 with prior knowledge (h2c) and HTTP/1.1, told
 * apart by the connection's first bytes. HTTP/2 sessions advertise
 * `SETTINGS_ENABLE_CONNECT_PROTOCOL`, so browsers open WebSockets as streams of
 * the page's connection; each goes through {@linkcode acceptHttp2}. HTTP/1.1
 * upgrades and requests are served as by `createNodeServer`, and ordinary
 * HTTP/2 requests by the same `fetch` handler. A failing stream never touches the
 * other streams of its session. `close()` also ends the open HTTP/2 sessions.
 *
 * @example An echo server, reached over HTTP/2 with the project's client
 * ```ts
 * import { createHttp2Server, dialHttp2 } from "@wsx/websocket/http2";
 * import { OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const server = createHttp2Server({
 *   fetch: () => new Response("hello"),
 *   websocket: async (conn) => {
 *     for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
 *   },
 * });
 * await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
 * const { port } = server.address() as { port: number };
 * const conn = await dialHttp2(`ws://127.0.0.1:${port}/`);
 * await conn.writeMessage(OpCode.Text, "hi");
 * assertEquals(new TextDecoder().decode((await conn.readMessage()).data), "hi");
 * await conn.close();
 * await new Promise((resolve) => server.close(resolve));
 * ```
 *
 * @param options The handlers, an error hook, TLS credentials and the `accept`
 * options.
 * @returns The server, not yet listening.
 */
export function createHttp2Server(options: Http2ServerOptions): Server {
  const { websocket, cert, key, http1: withHttp1 = true, ...rest } = options;
  const http1 = createNodeServer({
    ...rest,
    websocket: (conn, request) => websocket(conn, request, HTTP1),
  });
  const onStream = streamHandler(options);
  const settings = { enableConnectProtocol: true };
  if (cert !== undefined && key !== undefined) {
    const server = createSecureServer({
      cert,
      key,
      allowHTTP1: withHttp1,
      settings,
    });
    server.on("stream", onStream);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      // HTTP/2 requests come as streams; compatibility requests are ignored.
      if (req.httpVersionMajor === 1) http1.emit("request", req, res);
    });
    // The compatibility layer answers CONNECT with 405 unless someone listens.
    server.on("connect", () => {});
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head) => {
      http1.emit("upgrade", req, socket, head);
    });
    server.on("sessionError", () => {});
    return server;
  }
  const h2c = createH2cServer({ settings });
  h2c.on("stream", onStream);
  h2c.on("sessionError", () => {});
  if (!withHttp1) return h2c as unknown as Server;
  const front = createTcpServer((socket) => route(socket, h2c, http1));
  const close = front.close.bind(front);
  front.close = (callback?: (err?: Error) => void) => {
    h2c.close();
    return close(callback);
  };
  return front;
}

/** The `stream` listener: WebSockets to `acceptHttp2`, the rest to `fetch`. */
function streamHandler(options: Http2ServerOptions) {
  const {
    fetch,
    websocket,
    onError,
    cert: _cert,
    key: _key,
    http1: _http1,
    ...acceptOptions
  } = options;
  const report = (err: unknown, quiet: boolean) => {
    try {
      if (onError) onError(err);
      else if (!quiet) console.error("Handler failed:", err);
    } catch {
      // An error hook that throws must not take the server down.
    }
  };
  return (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    // A stream error is this stream's alone: it must not reach the session.
    stream.on("error", (err) => report(err, true));
    if (!isWebSocketConnect(headers) && headers[":method"] !== "CONNECT") {
      answerFetch(stream, headers, fetch).catch((err) => report(err, false));
      return;
    }
    runWebSocket(stream, headers, acceptOptions, websocket, report);
  };
}

async function runWebSocket(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  options: AcceptOptions,
  handler: Http2ServerOptions["websocket"],
  report: (err: unknown, quiet: boolean) => void,
): Promise<void> {
  let conn: WebSocketConn;
  try {
    conn = await acceptHttp2(stream, headers, options);
  } catch (err) {
    report(err, true);
    return;
  }
  const info: Http2ConnInfo = {
    httpVersion: "2",
    session: stream.session ?? null,
    streamId: stream.id ?? null,
  };
  try {
    await handler(conn, toRequest(headers), info);
    await conn.close();
  } catch (err) {
    const peers = err instanceof WebSocketError || err instanceof CloseError;
    if (!(err instanceof CloseError)) report(err, peers);
    if (!peers) {
      await conn.close(CloseCode.InternalServerError).catch(() => conn.abort());
    }
  }
}

/** The `Request` of an extended CONNECT, as the WebSocket handler sees it. */
function toRequest(headers: IncomingHttpHeaders): Request {
  const scheme = headers[":scheme"] ?? "http";
  const url = new URL(
    headers[":path"] ?? "/",
    `${scheme}://${headers[":authority"] ?? "localhost"}`,
  );
  // `Request` refuses CONNECT: the handler sees the method of HTTP/1.1's upgrade.
  return new Request(url, { method: "GET", headers: fieldsOf(headers) });
}

/** The start of HTTP/2's connection preface (RFC 9113 §3.4). */
const PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * Hands a cleartext connection to the HTTP/2 server when it opens with the
 * connection preface, and to the HTTP/1.1 server otherwise.
 */
function route(
  socket: Socket,
  h2c: { emit(event: "connection", socket: Socket): boolean },
  http1: { emit(event: "connection", socket: Socket): boolean },
): void {
  let seen = new Uint8Array(0);
  socket.setTimeout(10_000, () => socket.destroy());
  socket.on("error", () => {});
  const onData = (chunk: Uint8Array) => {
    const joined = new Uint8Array(seen.length + chunk.length);
    joined.set(seen);
    joined.set(chunk, seen.length);
    seen = joined;
    const n = Math.min(seen.length, PREFACE.length);
    const matches = seen.subarray(0, n).every((b, i) => b === PREFACE[i]);
    if (matches && n < PREFACE.length) return; // Not enough to tell yet.
    socket.off("data", onData);
    socket.pause();
    socket.setTimeout(0);
    socket.unshift(seen);
    (matches ? h2c : http1).emit("connection", socket);
    socket.resume();
  };
  socket.on("data", onData);
}
