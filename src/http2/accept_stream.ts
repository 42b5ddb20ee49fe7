/**
 * The server side of RFC 8441: an extended CONNECT stream of a `node:http2`
 * server becomes a WebSocket connection, with the hooks, limits and compression
 * of {@linkcode accept}.
 *
 * @module
 */

import {
  constants,
  type Http2Stream,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import { Deadline } from "../_timers.ts";
import { HandshakeError } from "../codec/errors.ts";
import { Conn } from "../conn/conn.ts";
import type { ServerExtensions } from "../conn/extension.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";
import {
  type AcceptOptions,
  fieldHook,
  type HandshakeRequest,
  settleRequest,
} from "../handshake/accept.ts";
import { serverDeflate } from "../handshake/deflate_option.ts";
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  HttpStatus,
} from "../handshake/http_parse.ts";
import { Rejection } from "../handshake/rejection.ts";
import {
  acceptBlock,
  checkConnect,
  type HeaderBlock,
  rejectionBlock,
} from "./extended_connect.ts";
import { defer } from "./defer.ts";
import { Http2StreamTransport } from "./stream_transport.ts";

/**
 * Completes a WebSocket handshake on an HTTP/2 extended CONNECT stream (RFC
 * 8441) and returns the connection.
 *
 * The request is checked against RFC 8441 §4-5 (`CONNECT`, `:protocol`
 * `websocket`, `:scheme`, `:path`, `:authority`, `sec-websocket-version: 13`, no
 * `sec-websocket-key`), the hooks run as for {@linkcode accept} (`onHost` sees
 * `:authority`; `onRequest` sees method `CONNECT`, version `HTTP/2`), a
 * subprotocol and permessage-deflate are negotiated, and the stream is answered
 * 200. A refusal is answered with its status and the promise rejects. The
 * connection ends its stream with END_STREAM after the closing handshake, and
 * with RST_STREAM (CANCEL) when aborted; a reset by the peer reads as 1006.
 *
 * @example On a `node:http2` server that allows extended CONNECT
 * ```ts
 * import { acceptHttp2 } from "@wsx/websocket/http2";
 * import { createServer } from "node:http2";
 *
 * const server = createServer({ settings: { enableConnectProtocol: true } });
 * server.on("stream", async (stream, headers) => {
 *   const conn = await acceptHttp2(stream, headers);
 *   for await (const msg of conn) await conn.writeMessage(msg.opcode, msg.data);
 * });
 * ```
 *
 * @param serverStream The request's stream, from a server's `stream` event; the
 * connection owns it from now on.
 * @param headers The request's header block.
 * @param options Hooks, limits and the connection's options, as for `accept`.
 * @returns The connection, in the server role.
 * @throws {HandshakeError} Carrying the HTTP status sent, as `accept` does.
 */
export async function acceptHttp2(
  serverStream: Http2Stream,
  headers: IncomingHttpHeaders,
  options: AcceptOptions = {},
): Promise<WebSocketConn> {
  // A server's `stream` event types its stream as either, depending on overloads.
  const stream = serverStream as ServerHttp2Stream;
  const deadline = new Deadline(
    options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    options.signal,
    () =>
      new HandshakeError(
        HttpStatus.RequestTimeout,
        "Timed out in the handshake hooks",
      ),
  );
  try {
    const deflate = await serverDeflate(options.deflate);
    const answer = await race(
      answerConnect(headers, options, deflate?.extensions),
      deadline.signal,
    );
    stream.respond(answer.block);
    const transport = new Http2StreamTransport(stream);
    const conn = new Conn(transport, {
      ...options,
      role: "server",
      protocol: answer.protocol,
      extensions: answer.extensions,
      rsvAllowed: answer.rsvAllowed,
    });
    conn.closed.then(({ code }) => transport.settle(code));
    return deflate === null ? conn : deflate.wrap(conn);
  } catch (err) {
    const aborted = options.signal?.aborted && err === options.signal.reason;
    throw refuse(stream, aborted ? null : refusalOf(err), err);
  } finally {
    deadline.clear();
  }
}

/** What the 200 settles on, and its header block. */
interface Answer {
  block: Record<string, string | number>;
  protocol: string;
  extensions: string;
  rsvAllowed: number;
}

/** Checks the request, runs the hooks and negotiates: the 200 or a refusal. */
async function answerConnect(
  headers: HeaderBlock,
  options: AcceptOptions,
  extensions: ServerExtensions | undefined,
): Promise<Answer> {
  const offer = checkOffer(headers);
  const request: HandshakeRequest = offer.request;
  runFieldHook(options.onHeader, request.headers);
  const settled = await settleRequest(
    request,
    offer.extensions,
    options,
    extensions,
  );
  const block = acceptBlock({
    protocol: settled.protocol,
    extensions: settled.agreement.extensions,
    headers: settled.headers,
  });
  return { block, protocol: settled.protocol, ...settled.agreement };
}

/**
 * `onHeader` over fields that `node:http2` has already parsed: it refuses as it
 * does on a raw socket, only no earlier than the whole header block.
 */
function runFieldHook(
  onHeader: AcceptOptions["onHeader"],
  fields: Headers,
): void {
  const hook = fieldHook(onHeader);
  if (hook !== undefined) {
    for (const [name, value] of fields) hook(name, value);
  }
}

/** {@linkcode checkConnect}, with a field that `Headers` refuses as a 400. */
function checkOffer(headers: HeaderBlock): ReturnType<typeof checkConnect> {
  try {
    return checkConnect(headers);
  } catch (err) {
    if (err instanceof Rejection) throw err;
    throw new Rejection(HttpStatus.BadRequest, {
      body: "Invalid header field",
    });
  }
}

/** The answer to send for a failure, or null when nothing can be sent. */
function refusalOf(err: unknown): Rejection | null {
  if (err instanceof Rejection) return err;
  if (err instanceof HandshakeError) {
    return err.status >= 300 ? new Rejection(err.status) : null;
  }
  return new Rejection(HttpStatus.InternalServerError, {
    message: `Handshake hook failed: ${
      err instanceof Error ? err.message : String(err)
    }`,
  });
}

/** Answers the refusal on the stream, if any; returns the error to reject with. */
function refuse(
  stream: ServerHttp2Stream,
  rejection: Rejection | null,
  cause: unknown,
): unknown {
  if (stream.closed || stream.destroyed) {
    return rejection === null ? cause : new HandshakeError(
      0,
      "The stream closed before the answer",
      { cause },
    );
  }
  if (rejection === null) {
    defer(() => stream.close(constants.NGHTTP2_CANCEL));
    return cause;
  }
  defer(() => {
    if (stream.headersSent) {
      stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    stream.respond(rejectionBlock(rejection));
    stream.end(rejection.body);
  });
  return new HandshakeError(rejection.status, rejection.message, { cause });
}

/** Waits for `promise`, or rejects with the signal's reason when it aborts first. */
function race<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}
