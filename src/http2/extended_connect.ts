/**
 * The rules of bootstrapping a WebSocket with HTTP/2 extended CONNECT (RFC 8441
 * §4-5), both roles: checking a request's header block, and the header blocks
 * of the request and of the answer. Pure.
 *
 * @module
 */

import { isToken, parseTokenList } from "../codec/http_token.ts";
import type { HandshakeRequest } from "../handshake/accept.ts";
import {
  appendExtraFields,
  isHandshakeField,
  WEBSOCKET_VERSION,
} from "../handshake/handshake_fields.ts";
import { HttpStatus } from "../handshake/http_parse.ts";
import { Rejection } from "../handshake/rejection.ts";

/** A header block as `node:http2` delivers it: lower-case names, pseudo-headers included. */
export type HeaderBlock = Record<string, string | string[] | undefined>;

/**
 * What a valid extended CONNECT asks for: the request as hooks see it, and the
 * extension offer.
 *
 * @example
 * ```ts
 * import type { ConnectOffer } from "./extended_connect.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const offer: ConnectOffer = {
 *   request: { method: "CONNECT", target: "/", version: "HTTP/2", headers: new Headers(), protocols: [] },
 *   extensions: "",
 * };
 * assertEquals(offer.request.version, "HTTP/2");
 * ```
 */
export interface ConnectOffer {
  /** The request: `CONNECT`, `:path` as the target, `HTTP/2`, `Host` from `:authority`. */
  request: HandshakeRequest;
  /** The `sec-websocket-extensions` offer, or `""`. */
  extensions: string;
}

/** Fields of HTTP/1.1's handshake that have no place in RFC 8441's. */
const HTTP1_ONLY = ["sec-websocket-key", "sec-websocket-accept"];

/**
 * Tells whether a header block is an extended CONNECT for a WebSocket, so that a
 * server can route it (the other checks come with {@linkcode checkConnect}).
 *
 * @example
 * ```ts
 * import { isWebSocketConnect } from "./extended_connect.ts";
 * import { assert } from "@std/assert";
 *
 * assert(isWebSocketConnect({ ":method": "CONNECT", ":protocol": "websocket" }));
 * assert(!isWebSocketConnect({ ":method": "GET", ":path": "/" }));
 * ```
 *
 * @param headers The request's header block.
 * @returns Whether it is `CONNECT` with a `:protocol` of `websocket`.
 */
export function isWebSocketConnect(headers: HeaderBlock): boolean {
  return headers[":method"] === "CONNECT" &&
    one(headers[":protocol"])?.toLowerCase() === "websocket";
}

/**
 * Checks an extended CONNECT against RFC 8441 §4-5 and returns what it asks for.
 *
 * @example A valid request offering a subprotocol
 * ```ts
 * import { checkConnect } from "./extended_connect.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const { request } = checkConnect({
 *   ":method": "CONNECT", ":protocol": "websocket", ":scheme": "https",
 *   ":path": "/chat", ":authority": "example.com",
 *   "sec-websocket-version": "13", "sec-websocket-protocol": "chat",
 * });
 * assertEquals([request.target, request.headers.get("host"), request.protocols], ["/chat", "example.com", ["chat"]]);
 * ```
 *
 * @param headers The request's header block.
 * @returns The request for the hooks, and the extension offer.
 * @throws {Rejection} 405 for another method, 400 (with `sec-websocket-version:
 * 13` when the version is wrong) for anything else that is wrong.
 */
export function checkConnect(headers: HeaderBlock): ConnectOffer {
  if (headers[":method"] !== "CONNECT") {
    throw new Rejection(HttpStatus.MethodNotAllowed, {
      body: "WebSocket over HTTP/2 requires CONNECT",
    });
  }
  if (!isWebSocketConnect(headers)) {
    throw badRequest(":protocol must be websocket");
  }
  const scheme = one(headers[":scheme"]);
  if (scheme !== "http" && scheme !== "https") {
    throw badRequest(":scheme must be http or https");
  }
  const path = one(headers[":path"]);
  if (!path) throw badRequest(":path is required");
  const authority = one(headers[":authority"]);
  if (!authority) throw badRequest(":authority is required");
  if (one(headers["sec-websocket-version"]) !== WEBSOCKET_VERSION) {
    throw new Rejection(HttpStatus.BadRequest, {
      headers: { "Sec-WebSocket-Version": WEBSOCKET_VERSION },
      body: "sec-websocket-version must be 13",
    });
  }
  for (const name of HTTP1_ONLY) {
    if (headers[name] !== undefined) {
      throw badRequest(`${name} has no place in an HTTP/2 handshake`);
    }
  }
  const fields = fieldsOf(headers);
  if (!fields.has("host")) fields.set("host", authority);
  const protocols = parseTokenList(fields.get("sec-websocket-protocol"));
  if (!protocols.every(isToken)) {
    throw badRequest("sec-websocket-protocol must be a list of tokens");
  }
  return {
    request: {
      method: "CONNECT",
      target: path,
      version: "HTTP/2",
      headers: fields,
      protocols,
    },
    extensions: fields.get("sec-websocket-extensions") ?? "",
  };
}

/** Fields that HTTP/2 forbids (RFC 9113 §8.2.2), dropped from hooks' answers. */
const CONNECTION_FIELDS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/**
 * The header block of the 200 that accepts an extended CONNECT.
 *
 * @example
 * ```ts
 * import { acceptBlock } from "./extended_connect.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(acceptBlock({ protocol: "chat" }), { ":status": 200, "sec-websocket-protocol": "chat" });
 * ```
 *
 * @param answer The chosen subprotocol and extensions (`""` for none), and
 * extra fields from the `onRequest` hook.
 * @returns The header block.
 * @throws {TypeError} When the extra fields include one the handshake sets.
 */
export function acceptBlock(answer: {
  protocol?: string;
  extensions?: string;
  headers?: Headers;
}): Record<string, string | number> {
  const fields: [string, string][] = [];
  if (answer.protocol) fields.push(["sec-websocket-protocol", answer.protocol]);
  if (answer.extensions) {
    fields.push(["sec-websocket-extensions", answer.extensions]);
  }
  appendExtraFields(fields, answer.headers, isHandshakeField);
  const block: Record<string, string | number> = { ":status": 200 };
  for (const [name, value] of fields) {
    if (!CONNECTION_FIELDS.has(name)) block[name] = value;
  }
  return block;
}

/**
 * The header block of a refusal: its status, fields and a plain-text body type.
 *
 * @example
 * ```ts
 * import { rejectionBlock } from "./extended_connect.ts";
 * import { Rejection } from "../handshake/rejection.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(rejectionBlock(new Rejection(403))[":status"], 403);
 * ```
 *
 * @param rejection The refusal.
 * @returns The header block to answer with, before the body.
 */
export function rejectionBlock(
  rejection: Rejection,
): Record<string, string | number> {
  const block: Record<string, string | number> = {
    ":status": rejection.status,
    "content-type": "text/plain; charset=utf-8",
  };
  for (const [name, value] of rejection.headers) {
    if (!CONNECTION_FIELDS.has(name) && name !== "content-length") {
      block[name] = value;
    }
  }
  return block;
}

/**
 * The header block of a client's extended CONNECT (RFC 8441 §5).
 *
 * @example
 * ```ts
 * import { connectBlock } from "./extended_connect.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const block = connectBlock(new URL("wss://example.com/chat"), { protocols: ["chat"] });
 * assertEquals([block[":scheme"], block[":path"], block["sec-websocket-protocol"]], ["https", "/chat", "chat"]);
 * ```
 *
 * @param url The WebSocket's URL (`ws:`/`wss:` or `http:`/`https:`).
 * @param offer Subprotocols, the extension offer and extra fields.
 * @returns The header block.
 * @throws {TypeError} When the extra fields include one the handshake sets.
 */
export function connectBlock(url: URL, offer: {
  protocols?: readonly string[];
  extensions?: string;
  headers?: Headers;
}): Record<string, string> {
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  const block: Record<string, string> = {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": secure ? "https" : "http",
    ":path": (url.pathname || "/") + url.search,
    ":authority": url.host,
    "sec-websocket-version": WEBSOCKET_VERSION,
  };
  const fields: [string, string][] = [];
  if (offer.protocols?.length) {
    fields.push(["sec-websocket-protocol", offer.protocols.join(", ")]);
  }
  if (offer.extensions) {
    fields.push(["sec-websocket-extensions", offer.extensions]);
  }
  appendExtraFields(
    fields,
    offer.headers,
    (name) =>
      isHandshakeField(name) || name === "host" ||
      name === "sec-websocket-version" || name === "sec-websocket-key",
  );
  for (const [name, value] of fields) {
    if (!CONNECTION_FIELDS.has(name)) block[name] = value;
  }
  return block;
}

/** The regular fields of a header block as `Headers` (repeated ones joined). */
export function fieldsOf(headers: HeaderBlock): Headers {
  const fields = new Headers();
  for (const name in headers) {
    const value = headers[name];
    if (name.startsWith(":") || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      fields.append(name, v);
    }
  }
  return fields;
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function badRequest(body: string): Rejection {
  return new Rejection(HttpStatus.BadRequest, { body });
}
