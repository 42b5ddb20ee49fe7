/**
 * The client's rules of the opening handshake (RFC 6455 §4.1, §4.2.2): the bytes
 * of the upgrade request, and the check of the server's answer. Pure.
 *
 * @module
 */

import { HandshakeError } from "../codec/errors.ts";
import { hasToken } from "../codec/http_token.ts";
import type {
  ClientExtensions,
  ExtensionAgreement,
} from "../conn/extension.ts";
import {
  appendExtraFields,
  isHandshakeField,
  WEBSOCKET_VERSION,
} from "./handshake_fields.ts";
import { encodeHead, type HttpResponse, HttpStatus } from "./http_parse.ts";

/**
 * The parts of a client's upgrade request.
 *
 * @example The least a request needs
 * ```ts
 * import type { UpgradeRequestInit } from "./client_handshake.ts";
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
 * @example The request for the RFC's key
 * ```ts
 * import { encodeUpgradeRequest } from "./client_handshake.ts";
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
    ["Sec-WebSocket-Version", WEBSOCKET_VERSION],
  ];
  if (init.protocols?.length) {
    fields.push(["Sec-WebSocket-Protocol", init.protocols.join(", ")]);
  }
  if (init.extensions) {
    fields.push(["Sec-WebSocket-Extensions", init.extensions]);
  }
  appendExtraFields(fields, init.headers, isClientField);
  return encodeHead(`GET ${init.target} HTTP/1.1`, fields);
}

/** The fields a client's request sets itself: the server's, `Host` and every `Sec-WebSocket-*`. */
function isClientField(name: string): boolean {
  return name === "host" || name.startsWith("sec-websocket-") ||
    isHandshakeField(name);
}

/**
 * What a client expects of the server's answer.
 *
 * @example The accept value for the RFC's key, no subprotocol
 * ```ts
 * import type { ResponseExpectation } from "./client_handshake.ts";
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
 * @example A subprotocol and no extension
 * ```ts
 * import type { Agreement } from "./client_handshake.ts";
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
 * @example A valid 101 choosing the offered subprotocol
 * ```ts
 * import { checkResponse } from "./client_handshake.ts";
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
  const fail = (message: string) =>
    new HandshakeError(status, message, { headers: h });
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
  return {
    protocol,
    ...confirmExtensions(status, h.get("sec-websocket-extensions"), expect),
  };
}

/** Hands the server's extension answer to the seam; none is agreed when it is empty. */
function confirmExtensions(
  status: number,
  answer: string | null,
  expect: ResponseExpectation,
): ExtensionAgreement {
  if (answer === null || answer.trim() === "") {
    return { extensions: "", rsvAllowed: 0 };
  }
  if (expect.extensions === undefined) {
    throw new HandshakeError(
      status,
      `Server chose extensions that were not offered: ${answer}`,
    );
  }
  try {
    return expect.extensions.confirm(answer);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new HandshakeError(
      status,
      `Server's extensions are not acceptable: ${reason}`,
      err ? { cause: err } : undefined,
    );
  }
}
