/**
 * The client side of the opening handshake: connect to a `ws://` or `wss://` URL,
 * send the upgrade request, check the answer and hand the socket to a
 * {@linkcode Conn}.
 *
 * @module
 */

import { Deadline, untilAborted } from "../_timers.ts";
import { HandshakeError } from "../codec/errors.ts";
import { isToken } from "../codec/http_token.ts";
import { Conn, type ConnOptions } from "../conn/conn.ts";
import type { ClientExtensions } from "../conn/extension.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";
import { closeTransport, setNoDelay, type Transport } from "../io/transport.ts";
import {
  type Agreement,
  checkResponse,
  encodeUpgradeRequest,
} from "./client_handshake.ts";
import { clientDeflate } from "./deflate_option.ts";
import type { DeflateOptions } from "../deflate/negotiate.ts";
import { readHeadFrom, readResponse, writeHead } from "./http_io.ts";
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  type HeadLimits,
  HttpStatus,
} from "./http_parse.ts";
import { readRefusalBody } from "./response_body.ts";
import { acceptKey, generateKey } from "./key.ts";
import type { Http2Agent } from "../http2/agent.ts";

/**
 * How {@linkcode dial} connects and what it asks for, and the options of the
 * connection it returns.
 *
 * @example Subprotocols, a token and a time limit
 * ```ts
 * import type { DialOptions } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const options: DialOptions = {
 *   protocols: ["chat.v2", "chat.v1"],
 *   headers: { Authorization: "Bearer t0ken" },
 *   timeout: 5_000,
 * };
 * assertEquals(options.timeout, 5000);
 * ```
 */
export interface DialOptions extends
  Omit<
    ConnOptions,
    "role" | "head" | "protocol" | "extensions" | "rsvAllowed"
  >,
  HeadLimits {
  /** Subprotocols to offer, most preferred first. */
  protocols?: readonly string[];
  /** Extra header fields for the upgrade request (not the handshake's own). */
  headers?: HeadersInit;
  /** Stops dialling: the socket is closed and `dial` rejects with the reason. */
  signal?: AbortSignal;
  /** How long connecting and the handshake may take, in ms (default 10,000). */
  timeout?: number;
  /** PEM certificates to trust for `wss://`, besides the system's roots. */
  caCerts?: string[];
  /**
   * permessage-deflate: `true` (or options) offers it, and the connection returned
   * compresses when the server accepts. Off by default.
   */
  deflate?: boolean | DeflateOptions;
  /**
   * A connection to run the handshake on instead of connecting to the URL's host,
   * such as a tunnel through an HTTP proxy; the URL then gives only the `Host`
   * header and the path. It is used as it is: for `wss:` pass a TLS connection
   * (e.g. `Deno.startTls` over the tunnel). `dial` owns it from then on, and
   * closes it when the handshake fails.
   */
  transport?: Transport;
  /**
   * Sees the server's answer (status and header fields) before it is checked,
   * whatever its status; throw (or reject) to abort: the connection is closed
   * and `dial` rejects with what was thrown.
   */
  onResponse?: (status: number, headers: Headers) => void | Promise<void>;
  /**
   * HTTP/2: `true` (or an `Http2Agent`, to share one connection per origin) opens
   * the WebSocket as a stream of an HTTP/2 connection (RFC 8441), and falls back
   * to HTTP/1.1 when the server does not allow that. Off by default.
   */
  http2?: boolean | Http2Agent;
}

/**
 * Connects to a WebSocket server and completes the opening handshake.
 *
 * `ws://` connects with `Deno.connect`, `wss://` with `Deno.connectTls` (`http:`
 * and `https:` are taken as the same). The server's answer must be a 101 with
 * the right `Sec-WebSocket-Accept`, a subprotocol that was offered (if any) and no
 * extension that was not. Bytes that arrived after the answer are kept as the start
 * of the frame stream.
 *
 * @example Talking to Deno's built-in server
 * ```ts
 * import { dial, OpCode } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
 *   const { socket, response } = Deno.upgradeWebSocket(req);
 *   socket.onmessage = (e) => socket.send(e.data);
 *   return response;
 * });
 * const conn = await dial(`ws://127.0.0.1:${server.addr.port}`);
 * await conn.writeMessage(OpCode.Text, "hello");
 * const msg = await conn.readMessage();
 * assertEquals(new TextDecoder().decode(msg.data), "hello");
 * await conn.close();
 * await server.shutdown();
 * ```
 *
 * @param url A `ws://` or `wss://` URL.
 * @param options Offers, headers, time limit, TLS roots and connection options.
 * @returns The connection, in the client role: compressing when `deflate` was
 * asked for and the server agreed.
 * @throws {TypeError} For a URL of another scheme, or invalid subprotocols.
 * @throws {HandshakeError} Carrying the server's status and header fields when
 * its answer is not a valid 101 (status 0 when no valid HTTP answer arrived or
 * the time ran out); for a status other than 101, also the first 4 KiB of the
 * body (`Content-Length`, chunked or until the server closes, as long as it
 * arrives within the timeout).
 */
export async function dial(
  url: string | URL,
  options: DialOptions = {},
): Promise<WebSocketConn> {
  if (options.http2) {
    const { dialHttp2 } = await import("../http2/dial.ts");
    const { http2, ...rest } = options;
    return dialHttp2(url, {
      ...rest,
      agent: http2 === true ? undefined : http2,
    });
  }
  const deflate = await clientDeflate(options.deflate);
  const target = parseTarget(url);
  const protocols = options.protocols ?? [];
  checkProtocols(protocols);
  const headers = new Headers(options.headers);
  const timeout = options.timeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const deadline = new Deadline(
    timeout,
    options.signal,
    () =>
      new HandshakeError(
        0,
        `Timed out after ${timeout} ms dialling ${target.href}`,
      ),
  );
  let transport: Transport | undefined;
  try {
    transport = options.transport ??
      await connect(target, options.caCerts, deadline.signal);
    const request = { protocols, headers, extensions: deflate?.extensions };
    const { agreed, rest } = await upgrade(
      transport,
      target,
      request,
      options,
      deadline.signal,
    );
    deadline.clear();
    const conn = new Conn(transport, {
      ...options,
      role: "client",
      head: rest,
      protocol: agreed.protocol,
      extensions: agreed.extensions,
      rsvAllowed: agreed.rsvAllowed,
    });
    return deflate === null ? conn : deflate.wrap(conn);
  } catch (err) {
    deadline.clear();
    if (transport !== undefined) closeTransport(transport);
    throw err;
  }
}

/** What the upgrade request offers besides the key. */
interface Offer {
  protocols: readonly string[];
  headers: Headers;
  extensions: ClientExtensions | undefined;
}

/** Sends the upgrade request on a connected socket and checks the answer. */
async function upgrade(
  transport: Transport,
  target: Target,
  offer: Offer,
  options: DialOptions,
  signal: AbortSignal,
): Promise<{ agreed: Agreement; rest: Uint8Array }> {
  const key = generateKey();
  const request = encodeUpgradeRequest({
    host: target.host,
    target: target.path,
    key,
    protocols: offer.protocols,
    extensions: offer.extensions?.offer,
    headers: offer.headers,
  });
  const mode = options.read ?? "auto";
  await writeHead(transport, request, mode);
  const { head, rest } = await readHeadFrom(
    transport,
    readResponse,
    options,
    signal,
  );
  await options.onResponse?.(head.status, head.headers);
  if (head.status !== HttpStatus.SwitchingProtocols) {
    const reason = head.reason ? ` ${head.reason}` : "";
    throw new HandshakeError(
      head.status,
      `Server answered ${head.status}${reason} instead of 101`,
      {
        headers: head.headers,
        body: await readRefusalBody(transport, head, rest, mode, signal),
      },
    );
  }
  const agreed = checkResponse(head, {
    accept: await acceptKey(key),
    protocols: offer.protocols,
    extensions: offer.extensions,
  });
  return { agreed, rest };
}

/** A parsed `ws:` or `wss:` URL. */
interface Target {
  href: string;
  secure: boolean;
  hostname: string;
  port: number;
  /** The Host header value. */
  host: string;
  /** Path and query. */
  path: string;
}

/** Where to connect, taken from a `ws:` or `wss:` URL. */
function parseTarget(url: string | URL): Target {
  const u = new URL(url);
  let secure: boolean;
  if (u.protocol === "ws:" || u.protocol === "http:") secure = false;
  else if (u.protocol === "wss:" || u.protocol === "https:") secure = true;
  else {
    throw new TypeError(
      `Cannot dial ${u.protocol} URLs: use ws: or wss:`,
    );
  }
  return {
    // For messages: without credentials or fragment.
    href: `${u.protocol}//${u.host}${u.pathname}${u.search}`,
    secure,
    // Deno.connect wants an IPv6 address without its brackets.
    hostname: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: u.port === "" ? (secure ? 443 : 80) : Number(u.port),
    host: u.host,
    path: (u.pathname || "/") + u.search,
  };
}

/** Refuses subprotocols that are not tokens, or repeated. */
function checkProtocols(protocols: readonly string[]): void {
  const seen = new Set<string>();
  for (const p of protocols) {
    if (!isToken(p)) throw new TypeError(`Invalid subprotocol: ${p}`);
    if (seen.has(p)) throw new TypeError(`Duplicate subprotocol: ${p}`);
    seen.add(p);
  }
}

/** Connects over TCP, and TLS for `wss:`, within the signal. */
async function connect(
  target: Target,
  caCerts: string[] | undefined,
  signal: AbortSignal,
): Promise<Transport> {
  signal.throwIfAborted();
  // TLS goes over a socket of our own, so that Nagle can be turned off for it too.
  const pending = Deno.connect({
    hostname: target.hostname,
    port: target.port,
    signal,
  }).then((tcp): Transport | Promise<Transport> => {
    setNoDelay(tcp);
    if (!target.secure) return tcp;
    return Deno.startTls(tcp, { hostname: target.hostname, caCerts });
  });
  // A connection that completes after the abort is closed at once.
  return await untilAborted(
    pending,
    signal,
    () => pending.then(closeTransport, () => {}),
  );
}
