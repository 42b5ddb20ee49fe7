/**
 * The rules of the opening handshake (RFC 6455 §4): keys, request and response
 * checks, subprotocol selection and the bytes of the answers. Pure apart from
 * `crypto`.
 *
 * @module
 */

import { HandshakeError } from "../codec/errors.ts";
import {
  encodeHead,
  type HttpRequest,
  type HttpResponse,
  HttpStatus,
  reasonPhrase,
} from "./http.ts";

/** RFC 6455 §1.3: the GUID appended to the key before hashing. */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** Base64 of exactly 16 bytes. */
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VERSION = "13";
const encoder = new TextEncoder();

/**
 * Computes the `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`: the base64
 * SHA-1 of the key followed by the RFC 6455 GUID.
 *
 * @example The example of RFC 6455 §1.3
 * ```ts
 * import { acceptKey } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(await acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 *
 * @param key The client's `Sec-WebSocket-Key`.
 * @returns The matching `Sec-WebSocket-Accept`.
 */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    encoder.encode(key + GUID),
  );
  return toBase64(new Uint8Array(digest));
}

/**
 * Makes a fresh `Sec-WebSocket-Key`: 16 random bytes in base64.
 *
 * @example
 * ```ts
 * import { generateKey, isValidKey } from "./handshake.ts";
 * import { assert } from "@std/assert";
 *
 * assert(isValidKey(generateKey()));
 * ```
 *
 * @returns A new key.
 */
export function generateKey(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Tells whether a `Sec-WebSocket-Key` is the base64 of exactly 16 bytes.
 *
 * @example
 * ```ts
 * import { isValidKey } from "./handshake.ts";
 * import { assert } from "@std/assert";
 *
 * assert(isValidKey("dGhlIHNhbXBsZSBub25jZQ=="));
 * assert(!isValidKey("c2hvcnQ="));
 * ```
 *
 * @param key The header value.
 * @returns Whether it is a valid key.
 */
export function isValidKey(key: string): boolean {
  return KEY.test(key);
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/**
 * Splits a comma-separated header value into its elements, dropping optional
 * whitespace and empty elements (RFC 9110 §5.6.1). `null` gives an empty list.
 *
 * @example
 * ```ts
 * import { parseTokenList } from "./handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(parseTokenList("keep-alive, Upgrade ,,"), ["keep-alive", "Upgrade"]);
 * ```
 *
 * @param value A header value, or `null` when the header is absent.
 * @returns The elements, in order.
 */
export function parseTokenList(value: string | null): string[] {
  if (value === null) return [];
  const out: string[] = [];
  for (const part of value.split(",")) {
    const item = part.trim();
    if (item !== "") out.push(item);
  }
  return out;
}

/**
 * Tells whether a comma-separated header value holds a token, ignoring case.
 *
 * @example
 * ```ts
 * import { hasToken } from "./handshake.ts";
 * import { assert } from "@std/assert";
 *
 * assert(hasToken("keep-alive, Upgrade", "upgrade"));
 * ```
 *
 * @param value A header value, or `null` when the header is absent.
 * @param token The token to look for, in lower case.
 * @returns Whether the list holds it.
 */
export function hasToken(value: string | null, token: string): boolean {
  return parseTokenList(value).some((t) => t.toLowerCase() === token);
}

/**
 * Tells whether a string is an HTTP token (RFC 9110 §5.6.2), as subprotocol names
 * must be.
 *
 * @example
 * ```ts
 * import { isToken } from "./handshake.ts";
 * import { assert } from "@std/assert";
 *
 * assert(isToken("chat.v2"));
 * assert(!isToken("two words"));
 * ```
 *
 * @param value The string.
 * @returns Whether it is a token.
 */
export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

/**
 * A refusal of an upgrade request: the HTTP status, header fields and body to
 * answer with. Hooks return or throw one, usually made with {@linkcode reject}.
 *
 * @example
 * ```ts
 * import { Rejection } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const r = new Rejection(401, { headers: { "WWW-Authenticate": "Bearer" } });
 * assertEquals(r.headers.get("www-authenticate"), "Bearer");
 * assertEquals(r.message, "Unauthorized");
 * ```
 */
export class Rejection extends Error {
  /** The HTTP status to answer with (300-599). */
  readonly status: number;
  /** Header fields to add to the answer. */
  readonly headers: Headers;
  /** The body of the answer, sent as UTF-8 plain text. */
  readonly body: string;

  /**
   * Makes a refusal.
   *
   * @param status The HTTP status, 300-599.
   * @param init Header fields, body, and a message for the server's logs (by
   * default the body, or the reason phrase).
   * @throws {RangeError} When the status is not 300-599.
   * @throws {TypeError} When a header field is invalid.
   */
  constructor(status: number, init: RejectionInit = {}) {
    if (!Number.isInteger(status) || status < 300 || status > 599) {
      throw new RangeError(
        `Rejection status must be 300-599, got ${status}`,
      );
    }
    const body = init.body ?? "";
    super(init.message ?? (body || reasonPhrase(status) || `Status ${status}`));
    this.name = "Rejection";
    this.status = status;
    this.headers = new Headers(init.headers);
    this.body = body;
  }
}

/**
 * What a {@linkcode Rejection} answers with besides its status.
 *
 * @example
 * ```ts
 * import type { RejectionInit } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const init: RejectionInit = { body: "Sign in first", headers: { "Retry-After": "5" } };
 * assertEquals(init.body, "Sign in first");
 * ```
 */
export interface RejectionInit {
  /** Header fields for the answer. */
  headers?: HeadersInit;
  /** The body, sent as UTF-8 plain text. */
  body?: string;
  /** A message for the server's logs (not sent). */
  message?: string;
}

/**
 * Makes a {@linkcode Rejection}: return or throw it from a hook to refuse the
 * upgrade with that status, header fields and body.
 *
 * @example Refusing a request without a token
 * ```ts
 * import { reject } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const r = reject(403, { body: "No token" });
 * assertEquals([r.status, r.body], [403, "No token"]);
 * ```
 *
 * @param status The HTTP status, 300-599.
 * @param init Header fields, body and log message.
 * @returns The refusal.
 */
export function reject(status: number, init?: RejectionInit): Rejection {
  return new Rejection(status, init);
}

/**
 * What a valid upgrade request asks for.
 *
 * @example
 * ```ts
 * import type { UpgradeOffer } from "./handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const offer: UpgradeOffer = { key: "dGhlIHNhbXBsZSBub25jZQ==", protocols: ["chat"], extensions: "" };
 * assertEquals(offer.protocols, ["chat"]);
 * ```
 */
export interface UpgradeOffer {
  /** The `Sec-WebSocket-Key`. */
  key: string;
  /** The subprotocols offered, in the client's order of preference. */
  protocols: string[];
  /** The `Sec-WebSocket-Extensions` offer, or `""`. */
  extensions: string;
}

/**
 * Checks an upgrade request against RFC 6455 §4.2.1 and returns what it asks for.
 *
 * @example
 * ```ts
 * import { checkRequest } from "./handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const offer = checkRequest({
 *   method: "GET",
 *   target: "/",
 *   version: "HTTP/1.1",
 *   headers: new Headers({
 *     host: "example.com",
 *     upgrade: "websocket",
 *     connection: "Upgrade",
 *     "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "sec-websocket-version": "13",
 *     "sec-websocket-protocol": "chat, superchat",
 *   }),
 * });
 * assertEquals(offer.protocols, ["chat", "superchat"]);
 * ```
 *
 * @param request The parsed request.
 * @returns The key, the subprotocols and the extension offer.
 * @throws {Rejection} 405 for a method other than GET; 426 (with
 * `Sec-WebSocket-Version: 13`) when it is not a WebSocket upgrade or asks for
 * another version; 400 for anything else that is wrong.
 */
export function checkRequest(request: HttpRequest): UpgradeOffer {
  const h = request.headers;
  if (request.method !== "GET") {
    throw reject(HttpStatus.MethodNotAllowed, {
      headers: { Allow: "GET" },
      body: "WebSocket upgrade requires GET",
    });
  }
  if (!/^HTTP\/1\.[1-9]$/.test(request.version)) {
    throw reject(HttpStatus.BadRequest, {
      body: "WebSocket upgrade requires HTTP/1.1",
    });
  }
  if (!h.has("host")) {
    throw reject(HttpStatus.BadRequest, { body: "Missing Host header" });
  }
  if (!hasToken(h.get("upgrade"), "websocket")) {
    throw upgradeRequired("Upgrade header must be websocket");
  }
  if (!hasToken(h.get("connection"), "upgrade")) {
    throw upgradeRequired("Connection header must include Upgrade");
  }
  if (h.get("sec-websocket-version") !== VERSION) {
    throw upgradeRequired("Sec-WebSocket-Version must be 13");
  }
  const key = h.get("sec-websocket-key");
  if (key === null || !isValidKey(key)) {
    throw reject(HttpStatus.BadRequest, {
      body: "Sec-WebSocket-Key must be 16 bytes in base64",
    });
  }
  // A body would run into the frame stream.
  if (
    h.has("transfer-encoding") ||
    (h.has("content-length") && h.get("content-length") !== "0")
  ) {
    throw reject(HttpStatus.BadRequest, {
      body: "WebSocket upgrade request must not have a body",
    });
  }
  const protocols = parseTokenList(h.get("sec-websocket-protocol"));
  if (!protocols.every(isToken)) {
    throw reject(HttpStatus.BadRequest, {
      body: "Sec-WebSocket-Protocol must be a list of tokens",
    });
  }
  return {
    key,
    protocols,
    extensions: h.get("sec-websocket-extensions") ?? "",
  };
}

function upgradeRequired(body: string): Rejection {
  // RFC 9110 §15.5.22 and RFC 6455 §4.4: say what to upgrade to.
  return reject(HttpStatus.UpgradeRequired, {
    headers: {
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Version": VERSION,
    },
    body,
  });
}

/**
 * Picks a subprotocol: the client's most preferred one that the server supports.
 *
 * @example
 * ```ts
 * import { selectProtocol } from "./handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(selectProtocol(["v2", "v1"], ["v1", "v2"]), "v2");
 * assertEquals(selectProtocol(["v3"], ["v1"]), "");
 * ```
 *
 * @param offered The client's subprotocols, most preferred first.
 * @param supported The server's subprotocols.
 * @returns The chosen one, or `""` when there is none in common.
 */
export function selectProtocol(
  offered: readonly string[],
  supported: readonly string[],
): string {
  return offered.find((p) => supported.includes(p)) ?? "";
}

/**
 * The extension seam on the server: answers a client's `Sec-WebSocket-Extensions`
 * offer. permessage-deflate plugs in here.
 *
 * @example Declining every offer
 * ```ts
 * import type { ServerExtensions } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const none: ServerExtensions = { negotiate: () => null };
 * assertEquals(none.negotiate("permessage-deflate"), null);
 * ```
 */
export interface ServerExtensions {
  /**
   * Chooses among the offered extensions.
   *
   * @param offer The offer's header value (repeated fields joined with `", "`).
   * @returns The answer, or `null` to accept none.
   * @throws {Rejection} To refuse the upgrade.
   */
  negotiate(offer: string): ExtensionAgreement | null;
}

/**
 * The extension seam on the client: the offer to send and the check of the
 * server's answer.
 *
 * @example
 * ```ts
 * import type { ClientExtensions } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const deflate: ClientExtensions = {
 *   offer: "permessage-deflate",
 *   confirm: (answer) => ({ extensions: answer, rsvAllowed: 0x40 }),
 * };
 * assertEquals(deflate.confirm("permessage-deflate").rsvAllowed, 0x40);
 * ```
 */
export interface ClientExtensions {
  /** The `Sec-WebSocket-Extensions` value to send. */
  offer: string;
  /**
   * Checks the server's answer.
   *
   * @param answer The answer's header value.
   * @returns What was agreed.
   * @throws {Error} When the answer is not acceptable; the handshake fails.
   */
  confirm(answer: string): ExtensionAgreement;
}

/**
 * The extensions a handshake settled on.
 *
 * @example
 * ```ts
 * import { type ExtensionAgreement, Rsv } from "@wsx/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const agreed: ExtensionAgreement = { extensions: "permessage-deflate", rsvAllowed: Rsv.Rsv1 };
 * assertEquals(agreed.rsvAllowed, 0x40);
 * ```
 */
export interface ExtensionAgreement {
  /** The `Sec-WebSocket-Extensions` value of the 101 response. */
  extensions: string;
  /** The RSV bits the extensions use (`Rsv.Rsv1` for permessage-deflate). */
  rsvAllowed: number;
}

/**
 * Header fields the handshake sets itself; hooks may not add them.
 */
const HANDSHAKE_FIELDS = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/**
 * Encodes the 101 response that completes a server's handshake.
 *
 * @example
 * ```ts
 * import { acceptKey, encodeSwitchingProtocols } from "./handshake.ts";
 * import { assertStringIncludes } from "@std/assert";
 *
 * const bytes = encodeSwitchingProtocols({
 *   accept: await acceptKey("dGhlIHNhbXBsZSBub25jZQ=="),
 *   protocol: "chat",
 * });
 * const text = new TextDecoder().decode(bytes);
 * assertStringIncludes(text, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
 * assertStringIncludes(text, "Sec-WebSocket-Protocol: chat\r\n");
 * ```
 *
 * @param answer The accept value, chosen subprotocol and extensions (`""` for
 * none), and extra header fields.
 * @returns The response head.
 * @throws {TypeError} When the extra fields include one the handshake sets.
 */
export function encodeSwitchingProtocols(answer: {
  accept: string;
  protocol?: string;
  extensions?: string;
  headers?: Headers;
}): Uint8Array {
  const fields: [string, string][] = [
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Accept", answer.accept],
  ];
  if (answer.protocol) fields.push(["Sec-WebSocket-Protocol", answer.protocol]);
  if (answer.extensions) {
    fields.push(["Sec-WebSocket-Extensions", answer.extensions]);
  }
  for (const [name, value] of answer.headers ?? []) {
    if (HANDSHAKE_FIELDS.has(name)) {
      throw new TypeError(`Cannot set the handshake header ${name}`);
    }
    fields.push([name, value]);
  }
  return encodeHead(statusLine(HttpStatus.SwitchingProtocols), fields);
}

/**
 * Encodes the answer to a refused upgrade: status, the rejection's fields, and its
 * body as plain text; the connection is closed after it.
 *
 * @example
 * ```ts
 * import { encodeRejection, reject } from "./handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const text = new TextDecoder().decode(encodeRejection(reject(403, { body: "no" })));
 * assertEquals(
 *   text,
 *   "HTTP/1.1 403 Forbidden\r\nConnection: close\r\n" +
 *     "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\nno",
 * );
 * ```
 *
 * @param rejection The refusal.
 * @returns The response head and body.
 */
export function encodeRejection(rejection: Rejection): Uint8Array {
  const body = encoder.encode(rejection.body);
  const fields: [string, string][] = [
    ["Connection", "close"],
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(body.length)],
  ];
  const own = new Set(["connection", "content-type", "content-length"]);
  for (const [name, value] of rejection.headers) {
    if (own.has(name)) continue;
    fields.push([name, value]);
  }
  // Keep the rejection's own options, such as the Upgrade that a 426 names
  // (RFC 9110 §7.8), but always close.
  const options = rejection.headers.get("connection");
  if (options !== null && !hasToken(options, "close")) {
    fields[0][1] = `${options}, close`;
  }
  return encodeHead(statusLine(rejection.status), fields, body);
}

function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${reasonPhrase(status)}`;
}

/**
 * The parts of a client's upgrade request.
 *
 * @example
 * ```ts
 * import type { UpgradeRequestInit } from "./handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const init: UpgradeRequestInit = { host: "example.com", target: "/", key: "dGhlIHNhbXBsZSBub25jZQ==" };
 * assertEquals(init.target, "/");
 * ```
 */
export interface UpgradeRequestInit {
  /** The `Host` value: host name and, when not the default, port. */
  host: string;
  /** The request target: path and query. */
  target: string;
  /** The `Sec-WebSocket-Key`. */
  key: string;
  /** Subprotocols to offer, most preferred first. */
  protocols?: readonly string[];
  /** The `Sec-WebSocket-Extensions` offer. */
  extensions?: string;
  /** Extra header fields. */
  headers?: Headers;
}

/**
 * Encodes a client's upgrade request (RFC 6455 §4.1).
 *
 * @example
 * ```ts
 * import { encodeUpgradeRequest } from "./handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeUpgradeRequest({ host: "example.com", target: "/chat", key: "dGhlIHNhbXBsZSBub25jZQ==" });
 * assertEquals(
 *   new TextDecoder().decode(bytes),
 *   "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
 *     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
 * );
 * ```
 *
 * @param init The target, key, offers and extra fields.
 * @returns The request head.
 * @throws {TypeError} When the extra fields include one the handshake sets.
 */
export function encodeUpgradeRequest(init: UpgradeRequestInit): Uint8Array {
  const fields: [string, string][] = [
    ["Host", init.host],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", init.key],
    ["Sec-WebSocket-Version", VERSION],
  ];
  if (init.protocols?.length) {
    fields.push(["Sec-WebSocket-Protocol", init.protocols.join(", ")]);
  }
  if (init.extensions) {
    fields.push(["Sec-WebSocket-Extensions", init.extensions]);
  }
  for (const [name, value] of init.headers ?? []) {
    if (
      name === "host" || name.startsWith("sec-websocket-") ||
      HANDSHAKE_FIELDS.has(name)
    ) {
      throw new TypeError(`Cannot set the handshake header ${name}`);
    }
    fields.push([name, value]);
  }
  return encodeHead(`GET ${init.target} HTTP/1.1`, fields);
}

/**
 * What a client expects of the server's answer.
 *
 * @example
 * ```ts
 * import type { ResponseExpectation } from "./handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const expect: ResponseExpectation = { accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", protocols: [] };
 * assertEquals(expect.protocols.length, 0);
 * ```
 */
export interface ResponseExpectation {
  /** The `Sec-WebSocket-Accept` value the key calls for. */
  accept: string;
  /** The subprotocols that were offered. */
  protocols: readonly string[];
  /** The extension seam, when extensions were offered. */
  extensions?: ClientExtensions;
}

/**
 * What a successful handshake settled on.
 *
 * @example
 * ```ts
 * import type { Agreement } from "./handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const agreed: Agreement = { protocol: "chat", extensions: "", rsvAllowed: 0 };
 * assertEquals(agreed.protocol, "chat");
 * ```
 */
export interface Agreement extends ExtensionAgreement {
  /** The chosen subprotocol, or `""`. */
  protocol: string;
}

/**
 * Checks a server's answer to an upgrade request (RFC 6455 §4.2.2, client side).
 *
 * @example
 * ```ts
 * import { checkResponse } from "./handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const agreed = checkResponse({
 *   version: "HTTP/1.1",
 *   status: 101,
 *   reason: "Switching Protocols",
 *   headers: new Headers({
 *     upgrade: "websocket",
 *     connection: "Upgrade",
 *     "sec-websocket-accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
 *     "sec-websocket-protocol": "chat",
 *   }),
 * }, { accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", protocols: ["chat"] });
 * assertEquals(agreed.protocol, "chat");
 * ```
 *
 * @param response The parsed response.
 * @param expect The accept value, offered subprotocols and extension seam.
 * @returns The chosen subprotocol and extensions.
 * @throws {HandshakeError} Carrying the response's status, when it is not a valid
 * 101 answer to this request.
 */
export function checkResponse(
  response: HttpResponse,
  expect: ResponseExpectation,
): Agreement {
  const { status, headers: h } = response;
  const fail = (message: string, cause?: unknown) =>
    new HandshakeError(status, message, cause ? { cause } : undefined);
  if (status !== HttpStatus.SwitchingProtocols) {
    const reason = response.reason ? ` ${response.reason}` : "";
    throw fail(`Server answered ${status}${reason} instead of 101`);
  }
  if (!hasToken(h.get("upgrade"), "websocket")) {
    throw fail("Server's Upgrade header is not websocket");
  }
  if (!hasToken(h.get("connection"), "upgrade")) {
    throw fail("Server's Connection header does not include Upgrade");
  }
  if (h.get("sec-websocket-accept") !== expect.accept) {
    throw fail("Server's Sec-WebSocket-Accept does not match the key");
  }
  const protocol = h.get("sec-websocket-protocol") ?? "";
  if (protocol !== "" && !expect.protocols.includes(protocol)) {
    throw fail(`Server chose subprotocol ${protocol}, which was not offered`);
  }
  const answer = h.get("sec-websocket-extensions");
  if (answer === null || answer.trim() === "") {
    return { protocol, extensions: "", rsvAllowed: 0 };
  }
  if (expect.extensions === undefined) {
    throw fail(`Server chose extensions that were not offered: ${answer}`);
  }
  try {
    return { protocol, ...expect.extensions.confirm(answer) };
  } catch (err) {
    throw fail(
      `Server's extensions are not acceptable: ${
        err instanceof Error ? err.message : String(err)
      }`,
      err,
    );
  }
}
