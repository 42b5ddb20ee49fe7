/**
 * The server's rules of the opening handshake (RFC 6455 §4.2): checking an
 * upgrade request, choosing a subprotocol, and the bytes of the 101 answer. Pure.
 *
 * @module
 */

import { hasToken, isToken, parseTokenList } from "../codec/http_token.ts";
import {
  appendExtraFields,
  isHandshakeField,
  WEBSOCKET_VERSION,
} from "./handshake_fields.ts";
import {
  encodeHead,
  type HttpRequest,
  HttpStatus,
  statusLine,
} from "./http_parse.ts";
import { isValidKey } from "./key.ts";
import { Rejection } from "./rejection.ts";

/**
 * What a valid upgrade request asks for.
 *
 * @example The RFC's key and one subprotocol
 * ```ts
 * import type { UpgradeOffer } from "./server_handshake.ts";
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
 * @example A valid request offering two subprotocols
 * ```ts
 * import { checkRequest } from "./server_handshake.ts";
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
  checkRequestLine(request);
  if (!h.has("host")) throw badRequest("Missing Host header");
  checkUpgradeFields(h);
  const key = h.get("sec-websocket-key");
  if (key === null || !isValidKey(key)) {
    throw badRequest("Sec-WebSocket-Key must be 16 bytes in base64");
  }
  // A body would run into the frame stream.
  if (
    h.has("transfer-encoding") ||
    (h.has("content-length") && h.get("content-length") !== "0")
  ) {
    throw badRequest("WebSocket upgrade request must not have a body");
  }
  const protocols = parseTokenList(h.get("sec-websocket-protocol"));
  if (!protocols.every(isToken)) {
    throw badRequest("Sec-WebSocket-Protocol must be a list of tokens");
  }
  return {
    key,
    protocols,
    extensions: h.get("sec-websocket-extensions") ?? "",
  };
}

/** Refuses a method other than GET (405) and a version before HTTP/1.1 (400). */
function checkRequestLine(request: HttpRequest): void {
  if (request.method !== "GET") {
    throw new Rejection(HttpStatus.MethodNotAllowed, {
      headers: { Allow: "GET" },
      body: "WebSocket upgrade requires GET",
    });
  }
  if (!/^HTTP\/1\.[1-9]$/.test(request.version)) {
    throw badRequest("WebSocket upgrade requires HTTP/1.1");
  }
}

/** Refuses, with 426, a request that does not ask for WebSocket version 13. */
function checkUpgradeFields(h: Headers): void {
  if (!hasToken(h.get("upgrade"), "websocket")) {
    throw upgradeRequired("Upgrade header must be websocket");
  }
  if (!hasToken(h.get("connection"), "upgrade")) {
    throw upgradeRequired("Connection header must include Upgrade");
  }
  if (h.get("sec-websocket-version") !== WEBSOCKET_VERSION) {
    throw upgradeRequired("Sec-WebSocket-Version must be 13");
  }
}

/** A 400 refusal with `body`. */
function badRequest(body: string): Rejection {
  return new Rejection(HttpStatus.BadRequest, { body });
}

/** A 426 refusal that names what to upgrade to (RFC 9110 §15.5.22, RFC 6455 §4.4). */
function upgradeRequired(body: string): Rejection {
  return new Rejection(HttpStatus.UpgradeRequired, {
    headers: {
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Version": WEBSOCKET_VERSION,
    },
    body,
  });
}

/**
 * Picks a subprotocol: the client's most preferred one that the server supports.
 *
 * @example The client's preference wins
 * ```ts
 * import { selectProtocol } from "./server_handshake.ts";
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
 * Encodes the 101 response that completes a server's handshake.
 *
 * @example The RFC's accept value and a subprotocol
 * ```ts
 * import { encodeSwitchingProtocols } from "./server_handshake.ts";
 * import { acceptKey } from "./key.ts";
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
  appendExtraFields(fields, answer.headers, isHandshakeField);
  return encodeHead(statusLine(HttpStatus.SwitchingProtocols), fields);
}
