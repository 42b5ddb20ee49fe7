/**
 * A dedicated WebSocket listener: {@linkcode serve} listens with `Deno.listen` (or
 * `Deno.listenTls`), runs {@linkcode accept} on every connection and hands each
 * WebSocket to a handler.
 *
 * `Deno.serve` does not hand out raw sockets, so this is the entry point that runs
 * the whole engine (zero-copy reads, compression, every limit) on its own port.
 *
 * @module
 */

import {
  accept,
  type AcceptOptions,
  type HandshakeRequest,
} from "../handshake/accept.ts";
import { sleep } from "../_timers.ts";
import { CloseCode } from "../codec/close_code.ts";
import { CloseError, HandshakeError, WebSocketError } from "../codec/errors.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";
import { busyAnswer, turnAway } from "./connection_limit.ts";

/**
 * Handles one WebSocket connection. When it returns, the connection is closed
 * with 1000 if it is still open; when it throws, with 1011.
 *
 * @example
 * ```ts
 * import type { WebSocketHandler } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const echo: WebSocketHandler = async (conn) => {
 *   for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
 * };
 * assertEquals(echo.length, 1);
 * ```
 */
export type WebSocketHandler = (
  conn: WebSocketConn,
  request: HandshakeRequest,
) => void | Promise<void>;

/**
 * Where {@linkcode serve} listens, how it stops, and the {@linkcode accept}
 * options (hooks, limits) applied to every connection.
 *
 * @example
 * ```ts
 * import { type ServeOptions, ReadLimit } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const options: ServeOptions = { hostname: "127.0.0.1", port: 8080, readLimit: ReadLimit.Small };
 * assertEquals(options.port, 8080);
 * ```
 */
export interface ServeOptions extends Omit<AcceptOptions, "signal"> {
  /** The port (default 8000; 0 picks a free one). */
  port?: number;
  /** The address to listen on (default `"0.0.0.0"`, as `Deno.serve`). */
  hostname?: string;
  /**
   * Lets several processes listen on the same port, the kernel spreading
   * connections among them (`SO_REUSEPORT`, Linux). Deno 2.9 requires
   * `--unstable-net` for it.
   */
  reusePort?: boolean;
  /** A PEM certificate chain: with `key`, the listener speaks TLS (`wss://`). */
  cert?: string;
  /** The PEM private key of `cert`. */
  key?: string;
  /** Shuts the server down when aborted, as {@linkcode WebSocketServer.shutdown} does. */
  signal?: AbortSignal;
  /** Called once listening; by default logs the address with `console.log`. */
  onListen?: (addr: Deno.NetAddr) => void;
  /**
   * Called with each connection's failure: a refused or broken handshake
   * ({@linkcode HandshakeError} or a socket error), a connection that failed
   * ({@linkcode WebSocketError}), or a handler that threw something else. By
   * default only the last kind is logged, with `console.error`: the others are
   * the peer's doing and were already answered with an HTTP status or close code.
   */
  onError?: (error: unknown) => void;
  /**
   * The most connections served at once, handshakes in progress included
   * (default: no limit). One more is answered `503 Service Unavailable` with
   * `Retry-After` and closed within a second, without holding up the others;
   * a slot frees when a connection's handler has returned and it has closed.
   */
  maxConnections?: number;
  /** The `Retry-After` of that 503, in seconds (default 1). */
  retryAfter?: number;
}

/** How long to wait before accepting again after `accept()` failed (e.g. EMFILE). */
const ACCEPT_BACKOFF_MS = 50;

/**
 * Starts a WebSocket server on its own port.
 *
 * Every connection goes through {@linkcode accept} with the options' hooks and
 * limits: a request that is not a WebSocket upgrade is answered with an HTTP
 * error (426 Upgrade Required for plain HTTP requests) and closed. A connection
 * that fails, in its handshake or its handler, affects no other.
 *
 * @example An echo server on a free port
 * ```ts
 * import { dial, OpCode, serve } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const server = serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (conn) => {
 *   for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
 * });
 * const client = await dial(`ws://127.0.0.1:${server.addr.port}`);
 * await client.writeMessage(OpCode.Text, "hi");
 * assertEquals(new TextDecoder().decode((await client.readMessage()).data), "hi");
 * await client.close();
 * await server.shutdown();
 * ```
 *
 * @param options Where to listen, TLS, shutdown signal and accept options.
 * @param handler Runs once per WebSocket connection.
 * @returns The running server.
 */
export function serve(
  options: ServeOptions,
  handler: WebSocketHandler,
): WebSocketServer {
  return new WebSocketServer(options, handler);
}

/**
 * A running {@linkcode serve} server: its address, and a graceful shutdown.
 *
 * @example
 * ```ts
 * import { serve } from "@wsx/websocket";
 * import { assert } from "@std/assert";
 *
 * await using server = serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {});
 * assert(server.addr.port > 0);
 * ```
 */
export class WebSocketServer implements AsyncDisposable {
  /** The address the server listens on. */
  readonly addr: Deno.NetAddr;
  /** Resolves once the server has stopped and every handler has returned. */
  readonly finished: Promise<void>;

  #listener: Deno.Listener;
  #handler: WebSocketHandler;
  #options: AcceptOptions;
  #onError: (error: unknown) => void;
  #stop = new AbortController();
  #conns = new Set<WebSocketConn>();
  /** Connections being served (handshake or handler); a count, not a set of promises, as each entry would stay for as long as its connection. */
  #running = 0;
  #allDone: (() => void) | null = null;
  #turningAway = new Set<Promise<void>>();
  #maxConnections: number;
  #busy: Uint8Array | null;
  #stopping: Promise<void> | null = null;

  /**
   * Listens and starts accepting; use {@linkcode serve}.
   *
   * @param options Where to listen and the accept options.
   * @param handler Runs once per connection.
   */
  constructor(options: ServeOptions, handler: WebSocketHandler) {
    const {
      port = 8000,
      hostname = "0.0.0.0",
      cert,
      key,
      reusePort,
      signal,
      onListen,
      onError,
      maxConnections,
      retryAfter,
      ...acceptOptions
    } = options;
    this.#busy = busyAnswer(maxConnections, retryAfter);
    this.#maxConnections = maxConnections ?? Infinity;
    if ((cert === undefined) !== (key === undefined)) {
      throw new TypeError("Options cert and key must be given together");
    }
    const reuse = reusePort ? { reusePort } : {};
    this.#listener = cert !== undefined
      ? Deno.listenTls({ hostname, port, cert, key: key!, ...reuse })
      : Deno.listen({ hostname, port, ...reuse });
    this.addr = this.#listener.addr as Deno.NetAddr;
    this.#handler = handler;
    this.#options = { ...acceptOptions, signal: this.#stop.signal };
    this.#onError = onError ?? logHandlerError;
    const scheme = cert !== undefined ? "wss" : "ws";
    (onListen ?? ((addr) => {
      console.log(`Listening on ${scheme}://${addr.hostname}:${addr.port}/`);
    }))(this.addr);
    if (signal?.aborted) this.shutdown();
    else {signal?.addEventListener("abort", () => this.shutdown(), {
        once: true,
      });}
    this.finished = this.#acceptLoop();
  }

  /** How many WebSocket connections are open now (handshakes done, handlers running). */
  get connections(): number {
    return this.#conns.size;
  }

  /**
   * Stops accepting, aborts handshakes in progress, closes every open connection
   * with 1001 (each within its close timeout) and waits for the handlers to return.
   *
   * @param reason The close reason sent to clients.
   */
  shutdown(reason = "Server shutting down"): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stop.abort(new DOMException("Server shut down", "AbortError"));
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
      await Promise.all(
        [...this.#conns].map((conn) =>
          conn.close(CloseCode.GoingAway, reason).catch(() => conn.abort())
        ),
      );
      await this.finished;
    })();
    return this.#stopping;
  }

  /** Shuts the server down (see {@linkcode WebSocketServer.shutdown}). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      let socket: Deno.Conn;
      try {
        socket = await this.#listener.accept();
      } catch (err) {
        if (this.#stop.signal.aborted || isListenerGone(err)) break;
        this.#onError(err);
        await sleep(ACCEPT_BACKOFF_MS);
        continue;
      }
      if (this.#running >= this.#maxConnections) {
        track(this.#turningAway, turnAway(socket, this.#busy!));
        continue;
      }
      this.#running++;
      this.#serveOne(socket);
    }
    while (this.#running + this.#turningAway.size > 0) {
      const handlers = this.#running === 0
        ? undefined
        : new Promise<void>((resolve) => this.#allDone = resolve);
      await Promise.all([handlers, ...this.#turningAway]);
    }
  }

  /** Runs one connection; whatever happens stays with it (it never rejects). */
  async #serveOne(socket: Deno.Conn): Promise<void> {
    let request: HandshakeRequest | undefined;
    const onRequest = this.#options.onRequest;
    let conn: WebSocketConn;
    try {
      conn = await accept(socket, {
        ...this.#options,
        onRequest(req) {
          request = req;
          return onRequest?.(req);
        },
      });
    } catch (err) {
      if (!this.#stop.signal.aborted) this.#reportHandshake(err);
      this.#finishedOne();
      return;
    }
    if (this.#stop.signal.aborted) {
      await conn.close(CloseCode.GoingAway).catch(() => conn.abort());
      this.#finishedOne();
      return;
    }
    this.#conns.add(conn);
    this.#handle(conn, request!);
  }

  /**
   * Runs the handler and, once it returns, closes the connection. A promise
   * chain rather than an async function: it lasts as long as the connection,
   * and a suspended async function costs an idle connection several hundred
   * bytes more.
   */
  #handle(conn: WebSocketConn, request: HandshakeRequest): void {
    let handled: void | Promise<void>;
    try {
      handled = this.#handler(conn, request);
    } catch (error) {
      this.#finish(conn, { error });
      return;
    }
    Promise.resolve(handled).then(
      () => this.#finish(conn, null),
      (error) => this.#finish(conn, { error }),
    );
  }

  /** Closes the connection after its handler: normally, or for its failure. */
  async #finish(
    conn: WebSocketConn,
    failure: { error: unknown } | null,
  ): Promise<void> {
    try {
      if (failure !== null) throw failure.error;
      await conn.close();
    } catch (err) {
      if (!(err instanceof CloseError)) this.#report(err);
      if (!(err instanceof WebSocketError) && !(err instanceof CloseError)) {
        await conn.close(CloseCode.InternalServerError).catch(() =>
          conn.abort()
        );
      }
    } finally {
      this.#conns.delete(conn);
      this.#finishedOne();
    }
  }

  #finishedOne(): void {
    if (--this.#running > 0) return;
    this.#allDone?.();
    this.#allDone = null;
  }

  #reportHandshake(err: unknown): void {
    // A socket that broke before the handshake completed (a TLS failure, a
    // scanner) is not a handler bug: only an explicit onError hears of it.
    if (this.#onError === logHandlerError) return;
    this.#report(err);
  }

  #report(err: unknown): void {
    try {
      this.#onError(err);
    } catch {
      // An error handler that throws must not take the server down.
    }
  }
}

/** Keeps `task` in `set` until it settles. */
function track(set: Set<Promise<void>>, task: Promise<void>): void {
  set.add(task);
  task.finally(() => set.delete(task));
}

function isListenerGone(err: unknown): boolean {
  return err instanceof Deno.errors.BadResource ||
    err instanceof Deno.errors.Interrupted;
}

/** Logs what looks like a bug in a handler; the peer's failures stay quiet. */
function logHandlerError(err: unknown): void {
  if (err instanceof HandshakeError || err instanceof WebSocketError) return;
  if (err instanceof Deno.errors.ConnectionReset) return;
  if (err instanceof Error && err.name === "AbortError") return;
  console.error("WebSocket handler failed:", err);
}
