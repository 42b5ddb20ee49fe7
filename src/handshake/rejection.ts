/**
 * Refusing an upgrade request: the {@linkcode Rejection} a hook returns or throws,
 * and the bytes of the answer it stands for.
 *
 * @module
 */

import { hasToken } from "../codec/http_token.ts";
import { encodeHead, reasonPhrase, statusLine } from "./http_parse.ts";

const encoder = new TextEncoder();

/**
 * A refusal of an upgrade request: the HTTP status, header fields and body to
 * answer with. Hooks return or throw one to refuse the upgrade.
 *
 * @example Asking the client to sign in
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
 * @example A body and a field
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

/** The fields {@linkcode encodeRejection} sets itself. */
const OWN_FIELDS = new Set(["connection", "content-type", "content-length"]);

/**
 * Encodes the answer to a refused upgrade: status, the rejection's fields, and its
 * body as plain text; the connection is closed after it.
 *
 * @example A 403 with a short body
 * ```ts
 * import { encodeRejection, Rejection } from "./rejection.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const text = new TextDecoder().decode(encodeRejection(new Rejection(403, { body: "no" })));
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
  for (const [name, value] of rejection.headers) {
    if (!OWN_FIELDS.has(name)) fields.push([name, value]);
  }
  // Keep the rejection's own options, such as the Upgrade that a 426 names
  // (RFC 9110 §7.8), but always close.
  const options = rejection.headers.get("connection");
  if (options !== null && !hasToken(options, "close")) {
    fields[0][1] = `${options}, close`;
  }
  return encodeHead(statusLine(rejection.status), fields, body);
}
