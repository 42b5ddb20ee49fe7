/**
 * Sharing a port with an HTTP app through `node:http`: its `upgrade` event hands
 * over the raw socket, and {@linkcode acceptNode} runs the whole engine on it.
 * {@linkcode createNodeServer} turns a `Deno.serve`-style `fetch` handler plus a
 * WebSocket handler into such a server.
 *
 * @module
 */

import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Duplex } from "node:stream";
import { accept, type AcceptOptions } from "../handshake/accept.ts";
import { CloseCode } from "../codec/close_code.ts";
import { CloseError, WebSocketError } from "../codec/errors.ts";
import { encodeHead, HttpStatus } from "../handshake/http_parse.ts";
import { NodeSocketTransport } from "../io/node_socket.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";
import { busyAnswer, TURN_AWAY_MS } from "./connection_limit.ts";

/**
 * Completes a WebSocket handshake on the socket of a `node:http` server's
 * `upgrade` event and returns the connection.
 *
 * The request is checked and answered exactly as {@linkcode accept} does it, with
 * the same hooks and limits (a refusal is written to the socket with its HTTP
 * status, and the promise rejects). The event's `head`, bytes the client sent
 * after its request, is kept as the start of the frame stream.
 * `node:http` has read and parsed the whole head by the time of the event, so
 * `onHeader` runs over those fields (as the client sent them) and refuses no
 * earlier than `onRequest` would.
 *
 * @example Adding WebSockets to an existing `node:http` server
 * ```ts
 * import { acceptNode } from "@wsx/websocket/node";
 * import { dial, OpCode } from "@wsx/websocket";
 * import { createServer } from "node:http";
 * import { assertEquals } from "@std/assert";
 *
 * const server = createServer((_req, res) => res.end("plain HTTP"));
 * server.on("upgrade", async (req, socket, head) => {
 *   const conn = await acceptNode(req, socket, head);
 *   for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
 * });
 * await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
 * const { port } = server.address() as { port: number };
 * const client = await dial(`ws://127.0.0.1:${port}/`);
 * await client.writeMessage(OpCode.Text, "hi");
 * assertEquals(new TextDecoder().decode((await client.readMessage()).data), "hi");
 * await client.close();
 * server.close();
 * ```
 *
 * @param request The `upgrade` event's request.
 * @param socket The `upgrade` event's socket; the connection owns it from now on.
 * @param head The `upgrade` event's head: bytes after the request.
 * @param options Hooks, limits and the connection's options, as for `accept`.
 * @returns The connection, in the server role.
 * @throws {HandshakeError} Carrying the HTTP status sent, as `accept` does.
 */
export function acceptNode(
  request: IncomingMessage,
  socket: Duplex,
  head: Uint8Array = new Uint8Array(0),
  options: AcceptOptions = {},
): Promise<WebSocketConn> {
  // node:http has parsed the request already; hand accept() the same bytes so
  // that every check, hook and limit applies exactly as on a raw socket.
  const requestHead = encodeRequest(request);
  const prefix = new Uint8Array(requestHead.length + head.length);
  prefix.set(requestHead);
  prefix.set(head, requestHead.length);
  return accept(new NodeSocketTransport(socket, prefix), options);
}

/** The request's head as the client sent it (field names in their case). */
function encodeRequest(request: IncomingMessage): Uint8Array {
  const raw = request.rawHeaders;
  const fields: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) fields.push([raw[i], raw[i + 1]]);
  return encodeHead(
    `${request.method} ${request.url} HTTP/${request.httpVersion}`,
    fields,
  );
}

/**
 * The handlers of {@linkcode createNodeServer}: a `Deno.serve` handler for HTTP
 * requests and a WebSocket handler for upgrades, with the `accept` options.
 *
 * @example
 * ```ts
 * import type { NodeServerOptions } from "@wsx/websocket/node";
 * import { assertEquals } from "@std/assert";
 *
 * const options: NodeServerOptions = {
 *   fetch: () => new Response("hello"),
 *   websocket: (conn) => conn.close(),
 *   protocols: ["chat"],
 * };
 * assertEquals(options.protocols, ["chat"]);
 * ```
 */
export interface NodeServerOptions extends Omit<AcceptOptions, "signal"> {
  /** Answers plain HTTP requests, as a `Deno.serve` handler does. */
  fetch: (
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ) => Response | Promise<Response>;
  /**
   * Runs once per WebSocket connection, with the upgrade request. When it
   * returns, the connection is closed with 1000 if still open; when it throws,
   * with 1011.
   */
  websocket: (conn: WebSocketConn, request: Request) => void | Promise<void>;
  /**
   * Called with each failure: a `fetch` handler that threw (the client gets 500),
   * a refused handshake, a WebSocket handler that threw. By default only handler
   * errors are logged, with `console.error`.
   */
  onError?: (error: unknown) => void;
  /**
   * The most WebSocket connections at once, handshakes in progress included
   * (default: no limit; plain HTTP requests are not counted). One more upgrade
   * is answered `503 Service Unavailable` with `Retry-After` and closed within
   * a second; a slot frees when a connection's handler has returned and it has
   * closed.
   */
  maxConnections?: number;
  /** The `Retry-After` of that 503, in seconds (default 1). */
  retryAfter?: number;
}

/**
 * Builds a `node:http` server that answers HTTP requests with a `Deno.serve`-style
 * `fetch` handler and upgrades WebSocket requests with {@linkcode acceptNode}, so
 * that both share one port and a `Deno.serve` app moves over by changing a few
 * lines. Call `listen()` on the result.
 *
 * Request bodies are streamed to `fetch`, and `request.signal` aborts when the
 * client goes away; response bodies are streamed back with backpressure.
 *
 * @example A page and its WebSocket on one port
 * ```ts
 * import { createNodeServer } from "@wsx/websocket/node";
 * import { dial, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const server = createNodeServer({
 *   fetch: () => new Response("<h1>Chat</h1>", { headers: { "content-type": "text/html" } }),
 *   websocket: async (conn) => {
 *     for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
 *   },
 * });
 * await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
 * const { port } = server.address() as { port: number };
 * assertEquals(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "<h1>Chat</h1>");
 * const conn = await dial(`ws://127.0.0.1:${port}/`);
 * await conn.writeMessage(OpCode.Text, "hi");
 * assertEquals(new TextDecoder().decode((await conn.readMessage()).data), "hi");
 * await conn.close();
 * server.close();
 * ```
 *
 * @param options The two handlers, an error hook, and the `accept` options.
 * @returns The server, not yet listening.
 */
export function createNodeServer(options: NodeServerOptions): Server {
  const {
    fetch,
    websocket,
    onError,
    maxConnections,
    retryAfter,
    ...acceptOptions
  } = options;
  const busy = busyAnswer(maxConnections, retryAfter);
  const limit = maxConnections ?? Infinity;
  let open = 0;
  const report = (err: unknown, quiet: boolean) => {
    try {
      if (onError) onError(err);
      else if (!quiet) console.error("Handler failed:", err);
    } catch {
      // An error hook that throws must not take the server down.
    }
  };
  const server = createServer((req, res) => {
    answerHttp(req, res, fetch).catch((err) => report(err, false));
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head) => {
    if (open >= limit) return turnAway(socket, busy!);
    open++;
    upgrade(req, socket, head, acceptOptions, websocket, report)
      .finally(() => open--);
  });
  return server;
}

async function upgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options: AcceptOptions,
  handler: NodeServerOptions["websocket"],
  report: (err: unknown, quiet: boolean) => void,
): Promise<void> {
  let conn: WebSocketConn;
  try {
    conn = await acceptNode(req, socket, head, options);
  } catch (err) {
    report(err, true);
    return;
  }
  try {
    await handler(conn, toRequest(req, null));
    await conn.close();
  } catch (err) {
    const peers = err instanceof WebSocketError || err instanceof CloseError;
    if (!(err instanceof CloseError)) report(err, peers);
    if (!peers) {
      await conn.close(CloseCode.InternalServerError).catch(() => conn.abort());
    }
  }
}

/**
 * Answers an upgrade past the limit and lets the socket go: what the client
 * sends is dropped until it closes, at most {@linkcode TURN_AWAY_MS}.
 */
function turnAway(socket: Duplex, answer: Uint8Array): void {
  const timer = setTimeout(() => socket.destroy(), TURN_AWAY_MS);
  socket.on("error", () => {});
  socket.on("close", () => clearTimeout(timer));
  socket.on("end", () => socket.destroy());
  socket.resume();
  socket.end(answer);
}

/** Runs the fetch handler on one request and writes its response. */
async function answerHttp(
  req: IncomingMessage,
  res: ServerResponse,
  fetch: NodeServerOptions["fetch"],
): Promise<void> {
  const gone = new AbortController();
  let completed!: () => void;
  const info: Deno.ServeHandlerInfo<Deno.NetAddr> = {
    remoteAddr: {
      transport: "tcp",
      hostname: req.socket.remoteAddress ?? "",
      port: req.socket.remotePort ?? 0,
    },
    completed: new Promise((resolve) => completed = resolve),
  };
  res.on("close", () => {
    if (!res.writableFinished) gone.abort();
    completed();
  });
  let response: Response;
  try {
    response = await fetch(toRequest(req, gone.signal), info);
  } catch (err) {
    writeError(res);
    throw err;
  }
  await writeResponse(res, response, req.method === "HEAD", gone.signal);
}

/** The `Request` a `Deno.serve` handler would see for a node request. */
function toRequest(req: IncomingMessage, signal: AbortSignal | null): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    headers.append(raw[i], raw[i + 1]);
  }
  const url = new URL(
    req.url ?? "/",
    `http://${req.headers.host ?? "localhost"}`,
  );
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(url, {
    method,
    headers,
    signal,
    body: hasBody
      ? ReadableStream.from(req as AsyncIterable<Uint8Array>)
      : null,
    // Streamed bodies need a half-duplex request (Fetch standard).
    ...(hasBody ? { duplex: "half" } : {}),
  } as RequestInit);
}

async function writeResponse(
  res: ServerResponse,
  response: Response,
  headOnly: boolean,
  gone: AbortSignal,
): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  if (response.body === null || headOnly) {
    await response.body?.cancel();
    res.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || gone.aborted) break;
      if (!res.write(value)) await drained(res);
    }
  } finally {
    if (gone.aborted) await reader.cancel().catch(() => {});
    reader.releaseLock();
    res.end();
  }
}

/** Waits until the response can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

function writeError(res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = HttpStatus.InternalServerError;
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.end("Internal Server Error");
}
