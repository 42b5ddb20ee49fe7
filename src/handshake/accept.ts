/**
 * The server side of the opening handshake on a raw connection: read the upgrade
 * request, let the caller inspect or refuse it, answer 101 and hand the socket to
 * a {@linkcode Conn}.
 *
 * Over 500 lines, just: the server handshake's options (each documented with
 * its hook) and the one settleRequest that HTTP/1.1 and HTTP/2 share; parsing
 * and I/O are in http_parse.ts and http_io.ts.
 *
 * @module
 */

import { Deadline } from "../_timers.ts";
import { HandshakeError } from "../codec/errors.ts";
import { Conn, type ConnOptions } from "../conn/conn.ts";
import type {
  ExtensionAgreement,
  ServerExtensions,
} from "../conn/extension.ts";
import type { WebSocketConn } from "../conn/websocket_conn.ts";
import {
  closeTransport,
  type ReadMode,
  setNoDelay,
  type Transport,
} from "../io/transport.ts";
import { serverDeflate } from "./deflate_option.ts";
import type { DeflateOptions } from "../deflate/negotiate.ts";
import { readHeadFrom, readRequest, writeHead } from "./http_io.ts";
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  type HeadLimits,
  type HttpRequest,
  HttpStatus,
} from "./http_parse.ts";
import { acceptKey } from "./key.ts";
import { encodeRejection, Rejection } from "./rejection.ts";
import {
  checkRequest,
  encodeSwitchingProtocols,
  selectProtocol,
} from "./server_handshake.ts";

/**
 * An upgrade request as hooks see it: the parsed request, plus the subprotocols
 * the client offered.
 *
 * @example Reading a query parameter of the target
 * ```ts
 * import type { HandshakeRequest } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const req: HandshakeRequest = {
 *   method: "GET",
 *   target: "/chat?room=1",
 *   version: "HTTP/1.1",
 *   headers: new Headers({ host: "example.com" }),
 *   protocols: ["chat"],
 * };
 * assertEquals(new URL(req.target, "http://x").searchParams.get("room"), "1");
 * ```
 */
export interface HandshakeRequest {
  /** The method, such as `"GET"` (case-sensitive). */
  method: string;
  /** The request target as sent, such as `"/chat?room=1"`. */
  target: string;
  /** The protocol version, such as `"HTTP/1.1"`. */
  version: string;
  /** The header fields; repeated fields are joined with `", "`. */
  headers: Headers;
  /** The subprotocols offered, most preferred first. */
  readonly protocols: readonly string[];
}

/**
 * How {@linkcode accept} reads, checks and answers the upgrade request, and the
 * options of the connection it returns.
 *
 * @example A chat server that checks the origin
 * ```ts
 * import { type AcceptOptions, allowOrigins, ReadLimit } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const options: AcceptOptions = {
 *   protocols: ["chat.v2", "chat.v1"],
 *   onRequest: allowOrigins(["https://example.com"]),
 *   readLimit: ReadLimit.Small,
 * };
 * assertEquals(options.protocols, ["chat.v2", "chat.v1"]);
 * ```
 */
export interface AcceptOptions extends
  Omit<
    ConnOptions,
    "role" | "head" | "protocol" | "extensions" | "rsvAllowed"
  >,
  HeadLimits {
  /**
   * How long the whole handshake may take, in ms (default 10,000): a client that
   * sends its request slower is answered 408 and dropped.
   */
  handshakeTimeout?: number;
  /** Stops the handshake: the socket is closed and `accept` rejects with the reason. */
  signal?: AbortSignal;
  /**
   * The subprotocols the server speaks (the client's most preferred one that is
   * listed wins), or a function that picks one from the offer (`""` or nothing
   * for none). None in common: no subprotocol.
   */
  protocols?:
    | readonly string[]
    | ((
      offered: readonly string[],
      request: HandshakeRequest,
    ) => string | null | undefined);
  /**
   * Sees each header field (name in lower case, value trimmed) as soon as its line
   * has arrived, before the rest of the head is read; return or throw a
   * {@linkcode Rejection} to refuse at once (anything else thrown answers 500).
   * Fields come as sent, before the request is checked; repeated ones one by one.
   */
  onHeader?: (name: string, value: string) => Rejection | void;
  /** Checks the `Host` header; return or throw a {@linkcode Rejection} to refuse. */
  onHost?: (
    host: string,
  ) => Rejection | void | Promise<Rejection | void>;
  /**
   * Inspects the request once it has passed the protocol checks. Return header
   * fields to add to the 101 response, or return or throw a {@linkcode Rejection}
   * to refuse.
   */
  onRequest?: (
    request: HandshakeRequest,
  ) =>
    | Rejection
    | HeadersInit
    | void
    | Promise<Rejection | HeadersInit | void>;
  /**
   * permessage-deflate: `true` (or options) accepts the client's offer when the
   * options can honour it, and the connection returned compresses. Off by default.
   */
  deflate?: boolean | DeflateOptions;
  /**
   * Runs just before the 101 is sent, once the subprotocol and extensions are
   * settled: return header fields to add to it (after `onRequest`'s), or return
   * or throw a {@linkcode Rejection} to refuse after all.
   */
  onBeforeUpgrade?: (
    upgrade: UpgradeInfo,
  ) =>
    | Rejection
    | HeadersInit
    | void
    | Promise<Rejection | HeadersInit | void>;
}

/**
 * What {@linkcode AcceptOptions.onBeforeUpgrade} sees: the request and what the
 * handshake settled on.
 *
 * @example
 * ```ts
 * import type { UpgradeInfo } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const info: UpgradeInfo = {
 *   request: { method: "GET", target: "/", version: "HTTP/1.1", headers: new Headers(), protocols: ["chat"] },
 *   protocol: "chat",
 *   extensions: "",
 * };
 * assertEquals(info.protocol, "chat");
 * ```
 */
export interface UpgradeInfo {
  /** The upgrade request. */
  request: HandshakeRequest;
  /** The subprotocol chosen, or `""`. */
  protocol: string;
  /** The `Sec-WebSocket-Extensions` answer, or `""`. */
  extensions: string;
}

/** How long a refused client gets to read our answer before the socket closes. */
const LINGER_MS = 1_000;
const LINGER_BYTES = 64 * 1024;

/**
 * Completes the server side of the opening handshake on a raw connection and
 * returns the WebSocket connection.
 *
 * Reads the request within bounds (head size, header count, line length, time),
 * checks it against RFC 6455 §4.2.1, runs the hooks, picks a subprotocol and
 * answers 101. Bytes that arrived after the request are kept as the start of the
 * frame stream. A refused or invalid request is answered with its HTTP status,
 * the socket is closed, and the promise rejects.
 *
 * @example Accepting one connection from Deno's built-in client
 * ```ts
 * import { accept } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const client = new WebSocket(`ws://127.0.0.1:${listener.addr.port}`, "chat");
 * const conn = await accept(await listener.accept(), { protocols: ["chat"] });
 * assertEquals(conn.protocol, "chat");
 * const closed = new Promise((resolve) => client.onclose = resolve);
 * client.close();
 * await conn.readMessage().catch(() => {});
 * await closed;
 * listener.close();
 * ```
 *
 * @param transport A `Deno.Conn`, `Deno.TlsConn` or any byte stream pair, fresh.
 * @param options Hooks, limits, and the connection's options.
 * @returns The connection, in the server role: compressing when `deflate` was
 * asked for and negotiated.
 * @throws {HandshakeError} Carrying the HTTP status sent, when the request was
 * invalid, too big or too slow (408), or a hook refused it; 500 when a hook threw
 * something other than a {@linkcode Rejection}.
 */
export async function accept(
  transport: Transport,
  options: AcceptOptions = {},
): Promise<WebSocketConn> {
  const mode = options.read ?? "auto";
  const deadline = new Deadline(
    options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    options.signal,
    () =>
      new HandshakeError(
        HttpStatus.RequestTimeout,
        "Timed out waiting for the handshake request",
      ),
  );
  let stage: "read" | "answer" | "write" = "read";
  try {
    const deflate = await serverDeflate(options.deflate);
    const { head, rest } = await readHeadFrom(
      transport,
      readRequest,
      options,
      deadline.signal,
      fieldHook(options.onHeader),
    );
    stage = "answer";
    const answer = await answerRequest(head, options, deflate?.extensions);
    deadline.signal.throwIfAborted();
    stage = "write";
    await writeHead(transport, answer.bytes, mode);
    deadline.clear();
    setNoDelay(transport);
    const conn = new Conn(transport, {
      ...options,
      role: "server",
      head: rest,
      protocol: answer.protocol,
      extensions: answer.agreement.extensions,
      rsvAllowed: answer.agreement.rsvAllowed,
    });
    return deflate === null ? conn : deflate.wrap(conn);
  } catch (err) {
    deadline.clear();
    const aborted = options.signal?.aborted && err === options.signal.reason;
    const refusal = aborted ? null : refusalOf(err, stage);
    throw await refuse(transport, mode, refusal, err);
  }
}

/** The answer to send for a failure, or null when nothing can be sent. */
function refusalOf(err: unknown, stage: string): Rejection | null {
  if (err instanceof Rejection) return err;
  if (err instanceof HandshakeError && err.status >= 300) {
    return new Rejection(err.status, { body: err.message });
  }
  // A broken socket: nothing can be said.
  if (stage !== "answer") return null;
  return new Rejection(HttpStatus.InternalServerError, {
    message: `Handshake hook failed: ${
      err instanceof Error ? err.message : String(err)
    }`,
  });
}

/** Sends the refusal, if any, and closes; returns the error `accept` rejects with. */
async function refuse(
  transport: Transport,
  mode: ReadMode,
  rejection: Rejection | null,
  cause: unknown,
): Promise<unknown> {
  if (rejection === null) {
    closeTransport(transport);
    return cause;
  }
  try {
    await writeHead(transport, encodeRejection(rejection), mode);
    if (rejection.status !== HttpStatus.RequestTimeout) {
      await linger(transport);
    }
  } catch {
    // The client is gone; closing is all that is left.
  }
  closeTransport(transport);
  return new HandshakeError(rejection.status, rejection.message, { cause });
}

/**
 * Half-closes and drains the socket for a moment, so that unread request bytes do
 * not turn our close into a reset that destroys the answer before it is read.
 */
async function linger(transport: Transport): Promise<void> {
  const conn = transport as Partial<Deno.Conn>;
  if (
    typeof conn.closeWrite !== "function" || typeof conn.read !== "function"
  ) {
    return;
  }
  await conn.closeWrite();
  const deadline = new Deadline(LINGER_MS, undefined, () => null);
  deadline.signal.onabort = () => closeTransport(transport);
  try {
    const scratch = new Uint8Array(4096);
    let drained = 0;
    while (drained < LINGER_BYTES) {
      const n = await conn.read(scratch);
      if (n === null) break;
      drained += n;
    }
  } finally {
    deadline.clear();
  }
}

/** The 101 to send, and what it settles on. */
interface Answer {
  bytes: Uint8Array;
  protocol: string;
  agreement: ExtensionAgreement;
}

/** Checks the request, runs the hooks and negotiates: the 101 or a refusal. */
async function answerRequest(
  head: HttpRequest,
  options: AcceptOptions,
  extensions: ServerExtensions | undefined,
): Promise<Answer> {
  const offer = checkRequest(head);
  const request: HandshakeRequest = { ...head, protocols: offer.protocols };
  const settled = await settleRequest(
    request,
    offer.extensions,
    options,
    extensions,
  );
  const bytes = encodeSwitchingProtocols({
    accept: await acceptKey(offer.key),
    protocol: settled.protocol,
    extensions: settled.agreement.extensions,
    headers: settled.headers,
  });
  return { bytes, protocol: settled.protocol, agreement: settled.agreement };
}

/** What a checked request settles on, before the answer is encoded. */
export interface SettledRequest {
  /** The subprotocol chosen, or "". */
  protocol: string;
  /** The extensions agreed. */
  agreement: ExtensionAgreement;
  /** The hooks' extra fields for the answer, or none. */
  headers: Headers | undefined;
}

/**
 * Runs the hooks of {@linkcode AcceptOptions} on a checked request and
 * negotiates its subprotocol and extensions: what the HTTP/1.1 upgrade and the
 * HTTP/2 extended CONNECT (RFC 8441) handshakes share. A hook's refusal is thrown.
 *
 * @example
 * ```ts
 * import { settleRequest } from "./accept.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const request = { method: "GET", target: "/", version: "HTTP/1.1", headers: new Headers({ host: "a" }), protocols: ["v1"] };
 * const settled = await settleRequest(request, "", { protocols: ["v1"] }, undefined);
 * assertEquals(settled.protocol, "v1");
 * ```
 */
export async function settleRequest(
  request: HandshakeRequest,
  offeredExtensions: string,
  options: AcceptOptions,
  extensions: ServerExtensions | undefined,
): Promise<SettledRequest> {
  const hostResult = await options.onHost?.(request.headers.get("host") ?? "");
  if (hostResult instanceof Rejection) throw hostResult;
  const extra = await options.onRequest?.(request);
  if (extra instanceof Rejection) throw extra;
  const protocol = chooseProtocol(options.protocols, request);
  const agreement = (offeredExtensions !== "" &&
    extensions?.negotiate(offeredExtensions)) ||
    { extensions: "", rsvAllowed: 0 };
  const last = await options.onBeforeUpgrade?.({
    request,
    protocol,
    extensions: agreement.extensions,
  });
  if (last instanceof Rejection) throw last;
  return { protocol, agreement, headers: extraFields(extra, last) };
}

/** The hooks' extra fields for the 101, in order, or none. */
function extraFields(
  ...inits: (HeadersInit | void)[]
): Headers | undefined {
  let headers: Headers | undefined;
  for (const init of inits) {
    if (!init) continue;
    headers ??= new Headers();
    for (const [name, value] of new Headers(init)) headers.append(name, value);
  }
  return headers;
}

/**
 * `onHeader` as the head reader calls it: refusals thrown, other failures a 500
 * (shared with the HTTP/2 handshake).
 *
 * @example
 * ```ts
 * import { fieldHook } from "./accept.ts";
 * import { Rejection } from "./rejection.ts";
 * import { assertThrows } from "@std/assert";
 *
 * const hook = fieldHook((name) => name === "x-bad" ? new Rejection(400) : undefined)!;
 * hook("x-good", "1");
 * assertThrows(() => hook("x-bad", "1"), Rejection);
 * ```
 */
export function fieldHook(
  onHeader: AcceptOptions["onHeader"],
): ((name: string, value: string) => void) | undefined {
  if (onHeader === undefined) return undefined;
  return (name, value) => {
    let result: Rejection | void;
    try {
      result = onHeader(name, value);
    } catch (err) {
      if (err instanceof Rejection) throw err;
      throw new Rejection(HttpStatus.InternalServerError, {
        message: `Header hook failed: ${
          err instanceof Error ? err.message : String(err)
        }`,
      });
    }
    if (result instanceof Rejection) throw result;
  };
}

/**
 * The subprotocol `options.protocols` picks from the client's offer (shared with
 * the HTTP/2 handshake).
 *
 * @example
 * ```ts
 * import { chooseProtocol } from "./accept.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const request = { method: "GET", target: "/", version: "HTTP/1.1", headers: new Headers(), protocols: ["v2", "v1"] };
 * assertEquals(chooseProtocol(["v1"], request), "v1");
 * ```
 */
export function chooseProtocol(
  protocols: AcceptOptions["protocols"],
  request: HandshakeRequest,
): string {
  if (protocols === undefined || request.protocols.length === 0) return "";
  if (typeof protocols !== "function") {
    return selectProtocol(request.protocols, protocols);
  }
  const chosen = protocols(request.protocols, request) ?? "";
  if (chosen !== "" && !request.protocols.includes(chosen)) {
    throw new TypeError(
      `Protocol selector chose ${chosen}, which the client did not offer`,
    );
  }
  return chosen;
}

/**
 * Makes an `onRequest` hook that refuses (403) requests whose `Origin` is not in
 * a list. Requests without an `Origin` header (non-browser clients) pass.
 *
 * Origins are compared as serialized by browsers (`scheme://host[:port]`), without
 * regard to case; `"*"` allows any origin.
 *
 * @example One allowed origin
 * ```ts
 * import { allowOrigins } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const check = allowOrigins(["https://example.com"]);
 * const request = (origin: string) => ({
 *   method: "GET", target: "/", version: "HTTP/1.1", protocols: [],
 *   headers: new Headers({ host: "example.com", origin }),
 * });
 * assertEquals(check(request("https://example.com")), undefined);
 * assertEquals(check(request("https://evil.test"))?.status, 403);
 * ```
 *
 * @param origins The allowed origins.
 * @returns A hook for {@linkcode AcceptOptions.onRequest}.
 */
export function allowOrigins(
  origins: readonly string[],
): (request: HandshakeRequest) => Rejection | undefined {
  const allowed = new Set(origins.map((o) => o.toLowerCase()));
  return (request) => {
    const origin = request.headers.get("origin");
    if (origin === null || allowed.has("*")) return undefined;
    if (allowed.has(origin.toLowerCase())) return undefined;
    return new Rejection(HttpStatus.Forbidden, {
      body: "Origin not allowed",
      message: `Origin ${origin} not allowed`,
    });
  };
}
