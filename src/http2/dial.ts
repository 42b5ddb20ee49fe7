/**
 * The client side of RFC 8441: a WebSocket opened as an extended CONNECT stream
 * of an HTTP/2 connection, with HTTP/1.1 as the fallback.
 *
 * @module
 */

import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  constants,
} from "node:http2";
import { Deadline } from "../_timers.ts";
import { HandshakeError } from "../codec/errors.ts";
import { isToken } from "../codec/http_token.ts";
import { Conn } from "../conn/conn.ts";
import type { ClientExtensions } from "../conn/extension.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";
import { clientDeflate } from "../handshake/deflate_option.ts";
import { dial, type DialOptions } from "../handshake/dial.ts";
import { DEFAULT_HANDSHAKE_TIMEOUT } from "../handshake/http_parse.ts";
import { type Http2Agent, openSession } from "./agent.ts";
import { connectBlock, type HeaderBlock } from "./extended_connect.ts";
import { defer } from "./defer.ts";
import { Http2StreamTransport } from "./stream_transport.ts";

/**
 * The options of {@linkcode dialHttp2}: those of `dial`, and the agent whose
 * connections to reuse.
 *
 * @example
 * ```ts
 * import { type Http2DialOptions, Http2Agent } from "@wsx/websocket/http2";
 * import { assertEquals } from "@std/assert";
 *
 * const options: Http2DialOptions = { agent: new Http2Agent(), protocols: ["chat"] };
 * assertEquals(options.protocols, ["chat"]);
 * ```
 */
export interface Http2DialOptions extends Omit<DialOptions, "http2"> {
  /** Keeps one connection per origin; without one, each WebSocket has its own. */
  agent?: Http2Agent;
}

/**
 * Opens a WebSocket as a stream of an HTTP/2 connection (extended CONNECT, RFC
 * 8441): `wss:` over TLS with ALPN `h2`, `ws:` as cleartext HTTP/2 with prior
 * knowledge. When the server does not speak HTTP/2 or does not advertise
 * `SETTINGS_ENABLE_CONNECT_PROTOCOL`, it dials over HTTP/1.1 instead. With an
 * agent, the connection to the origin is shared with the agent's other
 * WebSockets; without, it closes with the WebSocket.
 *
 * @example
 * ```ts
 * import { createHttp2Server, dialHttp2, Http2Agent } from "@wsx/websocket/http2";
 * import { assertEquals } from "@std/assert";
 *
 * const server = createHttp2Server({
 *   fetch: () => new Response(null, { status: 404 }),
 *   websocket: (conn, _request, info) => conn.close(1000, `stream ${info.streamId}`),
 * });
 * await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
 * const { port } = server.address() as { port: number };
 * const agent = new Http2Agent();
 * const a = await dialHttp2(`ws://127.0.0.1:${port}/`, { agent });
 * const b = await dialHttp2(`ws://127.0.0.1:${port}/`, { agent });
 * assertEquals(agent.size, 1);
 * assertEquals((await a.readMessage().catch((e) => e)).reason, "stream 1");
 * assertEquals((await b.readMessage().catch((e) => e)).reason, "stream 3");
 * agent.close();
 * await new Promise((resolve) => server.close(resolve));
 * ```
 *
 * @param url A `ws://` or `wss://` URL.
 * @param options The options of `dial`, and an agent.
 * @returns The connection, in the client role.
 * @throws {HandshakeError} Carrying the server's status when it refused (0 when
 * no answer came in time).
 */
export async function dialHttp2(
  url: string | URL,
  options: Http2DialOptions = {},
): Promise<WebSocketConn> {
  const target = targetOf(url);
  const protocols = options.protocols ?? [];
  if (!protocols.every(isToken) || new Set(protocols).size < protocols.length) {
    throw new TypeError(`Invalid subprotocols: ${protocols.join(", ")}`);
  }
  const deflate = await clientDeflate(options.deflate);
  const timeout = options.timeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const deadline = new Deadline(
    timeout,
    options.signal,
    () =>
      new HandshakeError(0, `Timed out after ${timeout} ms dialling ${url}`),
  );
  try {
    const origin = `${
      target.protocol === "https:" ? "https" : "http"
    }://${target.host}`;
    const sessionOptions = {
      caCerts: options.caCerts,
      signal: deadline.signal,
    };
    const session = options.agent
      ? await options.agent.session(origin, sessionOptions)
      : await openSession(origin, sessionOptions);
    if (session === null) {
      deadline.clear();
      const { agent: _agent, ...rest } = options;
      return await dial(url, rest);
    }
    // A session of its own ends with its one stream.
    const done = () => options.agent || defer(() => session.close());
    const extensions = deflate?.extensions;
    const { stream, agreed } = await openStream(session, target, {
      protocols,
      extensions,
      headers: new Headers(options.headers),
    }, deadline.signal).catch((err) => {
      done();
      throw err;
    });
    const transport = new Http2StreamTransport(stream);
    const conn = new Conn(transport, {
      ...options,
      role: "client",
      ...agreed,
    });
    conn.closed.then(({ code }) => {
      transport.settle(code);
      done();
    });
    return deflate === null ? conn : deflate.wrap(conn);
  } finally {
    deadline.clear();
  }
}

/** A `ws:`/`wss:` URL as the `http:`/`https:` URL of its origin and path. */
function targetOf(url: string | URL): URL {
  const target = new URL(url);
  const schemes: Record<string, string> = {
    "ws:": "http:",
    "http:": "http:",
    "wss:": "https:",
    "https:": "https:",
  };
  const scheme = schemes[target.protocol];
  if (scheme === undefined) {
    throw new TypeError(`Cannot dial ${target.protocol} URLs: use ws: or wss:`);
  }
  return new URL(`${scheme}//${target.host}${target.pathname}${target.search}`);
}

/** What the CONNECT offers. */
interface Offer {
  protocols: readonly string[];
  extensions: ClientExtensions | undefined;
  headers: Headers;
}

/** Sends the extended CONNECT on a new stream and checks the answer. */
async function openStream(
  session: ClientHttp2Session,
  target: URL,
  offer: Offer,
  signal: AbortSignal,
): Promise<{ stream: ClientHttp2Stream; agreed: Agreed }> {
  const block = connectBlock(target, {
    protocols: offer.protocols,
    extensions: offer.extensions?.offer,
    headers: offer.headers,
  });
  const stream = session.request(block, { endStream: false });
  const agreed = await answerOf(
    stream,
    offer.protocols,
    offer.extensions,
    signal,
  );
  return { stream, agreed };
}

/** What the server's 200 settled on. */
interface Agreed {
  protocol: string;
  extensions: string;
  rsvAllowed: number;
}

/** Waits for the answer to the CONNECT and checks it. */
function answerOf(
  stream: ClientHttp2Stream,
  protocols: readonly string[],
  extensions: ClientExtensions | undefined,
  signal: AbortSignal,
): Promise<Agreed> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) => {
      cleanup();
      defer(() => stream.close(constants.NGHTTP2_CANCEL));
      reject(err);
    };
    const onResponse = (headers: HeaderBlock) => {
      cleanup();
      try {
        resolve(checkAnswer(headers, protocols, extensions));
      } catch (err) {
        defer(() => stream.close(constants.NGHTTP2_CANCEL));
        reject(err);
      }
    };
    const onClose = () =>
      fail(new HandshakeError(0, "The stream closed before the answer"));
    const onError = (err: unknown) =>
      fail(new HandshakeError(0, "The stream failed", { cause: err }));
    const onAbort = () => fail(signal.reason);
    const cleanup = () => {
      stream.off("response", onResponse);
      stream.off("close", onClose);
      stream.off("error", onError);
      signal.removeEventListener("abort", onAbort);
    };
    stream.once("response", onResponse);
    stream.once("close", onClose);
    stream.once("error", onError);
    // A late error is the connection's to see, through the transport.
    stream.on("error", () => {});
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Checks a server's answer to an extended CONNECT (RFC 8441 §5). */
function checkAnswer(
  headers: HeaderBlock,
  protocols: readonly string[],
  extensions: ClientExtensions | undefined,
): Agreed {
  const status = Number(headers[":status"]);
  const fail = (message: string) => new HandshakeError(status, message);
  if (status !== 200) throw fail(`Server answered ${status} instead of 200`);
  const protocol = String(headers["sec-websocket-protocol"] ?? "");
  if (protocol !== "" && !protocols.includes(protocol)) {
    throw fail(`Server chose subprotocol ${protocol}, which was not offered`);
  }
  const answer = String(headers["sec-websocket-extensions"] ?? "").trim();
  if (answer === "") return { protocol, extensions: "", rsvAllowed: 0 };
  if (extensions === undefined) {
    throw fail(`Server chose extensions that were not offered: ${answer}`);
  }
  try {
    return { protocol, ...extensions.confirm(answer) };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new HandshakeError(
      status,
      `Server's extensions are not acceptable: ${reason}`,
      { cause: err },
    );
  }
}
